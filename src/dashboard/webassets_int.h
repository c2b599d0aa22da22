/*
 * webassets internals: the table that scripts/embed-assets generates into
 * build/gen/webassets_data.c. Only webassets.c and the generated file include this.
 */
#ifndef LOTUS_DASHBOARD_WEBASSETS_INT_H
#define LOTUS_DASHBOARD_WEBASSETS_INT_H

#include <stddef.h>

#include "dashboard/webassets.h" /* the table's element type must be complete */

/* Sorted by path (bytewise, as memcmp), no duplicates. */
extern const struct webasset webassets__table[];
extern const size_t webassets__count;

#endif
