/*
 * version: the one place the Lotus version string is defined. The agent
 * reports it as Host.version (docs/protocol.md §2.1 field 12, no leading "v") and prints
 * it for -v/--version.
 */
#ifndef LOTUS_CORE_VERSION_H
#define LOTUS_CORE_VERSION_H

#define LOTUS_VERSION "0.1.0"

#endif
