/*
 * jw: a streaming JSON writer that appends compact JSON to a struct buf, with
 * the exact output of Go's encoding/json (the Nezha v0 dashboard's encoder):
 *
 *  - strings: `"` and `\` escaped, \n \r \t \b \f short forms, other control
 *    bytes as \u00xx (lower-case hex), `<` `>` `&` as \u003c \u003e \u0026,
 *    U+2028/U+2029 as \u2028/\u2029, other non-ASCII UTF-8 emitted raw, and
 *    every byte of invalid UTF-8 replaced by \ufffd;
 *  - doubles: as core/dtoa.h formats them (shortest round-trip digits;
 *    plain decimal notation when 1e-6 <= |x| < 1e21 (and for 0), otherwise
 *    exponent notation with the exponent written as Go does ("1e-7",
 *    "1.5e+21")); NaN and infinities are an error (-EINVAL), as in Go.
 *
 * Commas and colons are inserted automatically. The writer keeps a sticky
 * error: after the first failure (buffer over its maximum, bad double, nesting
 * too deep, misuse) every call is a no-op, and jw_finish reports it once.
 * A jw holds no heap memory of its own; there is nothing to release.
 */
#ifndef LOTUS_CORE_JW_H
#define LOTUS_CORE_JW_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtoa.h"

struct buf;

/* Maximum nesting depth of objects and arrays. */
#define JW_MAX_DEPTH 64

struct jw {
    struct buf *out;   /* borrowed; must outlive the writer */
    int err;           /* sticky: 0, -E2BIG (buffer), -EINVAL (bad value/misuse), -ERANGE (depth) */
    unsigned depth;    /* current nesting depth */
    uint64_t nonempty; /* bit d set: container at depth d already has a member */
    uint64_t is_obj;   /* bit d set: container at depth d is an object */
    int after_key;     /* a key was written; the next value needs no comma */
};

/* Starts writing at the end of out (borrowed; not reset). */
void jw_init(struct jw *w, struct buf *out);
/* Returns the sticky error, or -EINVAL if containers are still open; 0 if the JSON is complete. */
int jw_finish(const struct jw *w);

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);

/* Object key; s borrowed (NUL-terminated / n bytes), escaped like a string value. */
void jw_key(struct jw *w, const char *s);
void jw_key_n(struct jw *w, const char *s, size_t n);
/* Key the caller guarantees needs no escaping (printable ASCII without `"` `\\` `<` `>` `&`);
 * written as is. */
void jw_key_ascii(struct jw *w, const char *s, size_t n);

/* String values; s borrowed. NULL s writes "" (never JSON null). */
void jw_str(struct jw *w, const char *s);
void jw_str_n(struct jw *w, const char *s, size_t n);
void jw_i64(struct jw *w, int64_t v);
void jw_u64(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* Go float64 rendering (see above); NaN/Inf set -EINVAL. */
void jw_double(struct jw *w, double v);
/* Writes s[0..n) verbatim as one value (caller guarantees it is valid JSON); s borrowed. */
void jw_raw(struct jw *w, const char *s, size_t n);

/*
 * Direct appends to a buf (borrowed) for hot fixed-shape objects; each returns
 * 0 or the buf's error (-E2BIG), jw_append_double also -EINVAL for NaN/Inf.
 */
/* s[0..n) as a quoted, escaped JSON string. */
int jw_append_string(struct buf *out, const char *s, size_t n);
int jw_append_u64(struct buf *out, uint64_t v);
int jw_append_i64(struct buf *out, int64_t v);
int jw_append_double(struct buf *out, double v);
/* s[0..n) verbatim (a fused run of punctuation and keys). */
int jw_append_lit(struct buf *out, const char *s, size_t n);
/*
 * Cursor writers for the hottest fixed-shape output (1000 servers' details):
 * the caller reserves a worst-case size once with jw_reserve, writes with
 * the jw_put_* functions into the returned memory (each takes the cursor and
 * returns the new end, and never writes more than its bound below), and ends
 * with jw_commit. No check or NUL per value, so exceeding the reservation is
 * a memory error: the caller must sum the bounds.
 */
#define JW_STR_BOUND(n) (6 * (size_t)(n) + 2) /* "..." with every byte escaped as \u00xx */
#define JW_INT_BOUND    20                    /* -9223372036854775808, 18446744073709551615 */
#define JW_DOUBLE_BOUND (DTOA_GO_MAX - 1)
/*
 * Returns where out's next byte goes, with room for n more bytes (and the
 * NUL): borrowed, valid until out next changes. Returns NULL and changes
 * nothing when out is in error or len + n would pass its maximum (the caller
 * may then write to a scratch buf and buf_append it, which applies the
 * maximum to the real size).
 */
char *jw_reserve(struct buf *out, size_t n);
/* Ends a reserved write: end (inside the reservation) becomes the end of out's data. */
void jw_commit(struct buf *out, char *end);
/* s[0..n) (borrowed) quoted and escaped like jw_append_string at d; at most JW_STR_BOUND(n)
 * bytes. */
char *jw_put_str(char *d, const char *s, size_t n);
/* At most JW_INT_BOUND bytes. */
char *jw_put_u64(char *d, uint64_t v);
char *jw_put_i64(char *d, int64_t v);
/* At most JW_DOUBLE_BOUND bytes; v must be finite (NaN/Inf write nothing). */
char *jw_put_double(char *d, double v);

/*
 * Emits the separator for one value that the caller then appends directly to
 * the returned buf (borrowed, = w->out) with the jw_append_* helpers; the
 * caller must append exactly one complete JSON value and fold any error into
 * w->err. Returns NULL (append nothing) when the writer is in error.
 */
struct buf *jw_raw_value(struct jw *w);

#endif
