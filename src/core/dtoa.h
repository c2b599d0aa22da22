/*
 * dtoa: doubles as Go's encoding/json writes float64 (the Nezha v0
 * dashboard's encoder): the shortest decimal that reads back as the same
 * double (the closest to it among equals), in plain notation when
 * 1e-6 <= |x| < 1e21 (and for 0, "-0" for negative zero), otherwise in
 * exponent notation written as encoding/json does ("1e-7", "1.5e+21").
 *
 * Pure, no allocation, no global state; any thread.
 */
#ifndef LOTUS_CORE_DTOA_H
#define LOTUS_CORE_DTOA_H

/* Room needed by dtoa_format_go's output, including the NUL. */
#define DTOA_GO_MAX 32

/*
 * Formats v into out (DTOA_GO_MAX bytes, NUL-terminated). Returns the length
 * (> 0), or -EINVAL for NaN and infinities (as Go's encoder refuses them;
 * out is then unchanged).
 */
int dtoa_format_go(double v, char out[DTOA_GO_MAX]);
/*
 * Cursor form for hot writers: writes v at o (at most DTOA_GO_MAX - 1
 * bytes, no NUL) and returns the end. v must be finite (the caller checks).
 */
char *dtoa_put_go(char *o, double v);

/*
 * Go's encoding/json writes a float32 with the fewest digits that read back as the same
 * float32 (v0's MonitorHistory.AvgDelay is one). This returns the double closest to that
 * short decimal, so that dtoa_format_go / jw_double of the result writes exactly Go's float32
 * text (a decimal of at most 9 significant digits is its own shortest double text). f not
 * finite: returned as is.
 */
double dtoa_f32_value(float f);

#endif
