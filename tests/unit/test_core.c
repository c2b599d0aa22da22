/* Unit tests of src/core: buf, strnum, xalloc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/strnum.h"
#include "core/hostport.h"
#include "core/log.h"

static void test_core__buf_append_and_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_printf(&b, "%d", 42), 0);
    assert_string_equal(b.data, "abc42");
    assert_int_equal(buf_puts(&b, "xyzw"), -E2BIG);
    /* sticky: a small append after the failure is refused too */
    assert_int_equal(buf_putc(&b, 'q'), -E2BIG);
    assert_string_equal(b.data, "abc42");
    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    buf_consume(&b, 3);
    assert_string_equal(b.data, "45678");
    size_t n;
    char *p = buf_detach(&b, &n);
    assert_int_equal(n, 5);
    assert_string_equal(p, "45678");
    free(p);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

static void test_core__buf_printf_long(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    buf_release(&b);
}

static void test_core__strnum(void **state)
{
    (void)state;
    uint64_t u;
    int64_t i;
    assert_int_equal(strnum_u64z("0", &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(strnum_u64z("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(strnum_u64z("18446744073709551616", &u), -ERANGE);
    assert_int_equal(strnum_u64z("", &u), -EINVAL);
    assert_int_equal(strnum_u64z("12a", &u), -EINVAL);
    assert_int_equal(strnum_u64z(" 12", &u), -EINVAL);
    assert_int_equal(strnum_u64z("-1", &u), -EINVAL);
    assert_int_equal(strnum_i64z("-62135596800", &i), 0);
    assert_true(i == -62135596800LL);
    assert_int_equal(strnum_i64z("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(strnum_i64z("9223372036854775808", &i), -ERANGE);
    assert_int_equal(strnum_i64z("-", &i), -EINVAL);
}

/* A login name such as "x\n<time> info login: failed from 1.2.3.4" must not start a line. */
static void test_core__log_escape_and_one_line_per_call(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_escape("a\nb\x1b[31m\\c\x7f", out, sizeof(out)),
                        "a\\x0ab\\x1b[31m\\\\c\\x7f");
    assert_string_equal(log_escape(NULL, out, sizeof(out)), "");
    char small[6]; /* truncated at a whole escape: "ab" + "\x0a" does not fit in 5 chars */
    assert_string_equal(log_escape("ab\ncd", small, sizeof(small)), "ab");
    assert_string_equal(log_escape("\xe4\xb8\xad", out, sizeof(out)),
                        "\xe4\xb8\xad"); /* UTF-8 kept */

    /* log_write escapes a control byte that reached it unescaped. */
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    log_write(LOG_LEVEL_ERROR, "login: failed for '%s'", "x\r\n2026-01-01T00:00:00.000Z info y");
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    char text[256] = {0};
    rewind(tmp);
    size_t n = fread(text, 1, sizeof(text) - 1, tmp);
    fclose(tmp);
    assert_true(n > 0);
    assert_non_null(
        strstr(text, " error login: failed for 'x\\x0d\\x0a2026-01-01T00:00:00.000Z info y'\n"));
    assert_ptr_equal(strchr(text, '\n'), text + n - 1); /* exactly one line */
}

static void test_core__hostport(void **state)
{
    (void)state;
    char h[64];
    int port = 0;
    assert_int_equal(hostport_parse("0.0.0.0:8008", 1, h, sizeof(h), &port), 0);
    assert_string_equal(h, "0.0.0.0");
    assert_int_equal(port, 8008);
    assert_int_equal(hostport_parse("[::1]:5555", 1, h, sizeof(h), &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 5555);
    assert_int_equal(hostport_parse("[::1]", 77, h, sizeof(h), &port), 0);
    assert_int_equal(port, 77);
    assert_int_equal(hostport_parse("::1", 77, h, sizeof(h), &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(hostport_parse("example.com", 5555, h, sizeof(h), &port), 0);
    assert_string_equal(h, "example.com");
    assert_int_equal(port, 5555);
    assert_int_equal(hostport_parse(":9", 1, h, sizeof(h), &port), 0);
    assert_string_equal(h, "");
    assert_int_equal(port, 9);
    assert_int_equal(hostport_parse("h:65536", 1, h, sizeof(h), &port), -EINVAL);
    assert_int_equal(hostport_parse("h:", 1, h, sizeof(h), &port), -EINVAL);
    assert_int_equal(hostport_parse("h:12x", 1, h, sizeof(h), &port), -EINVAL);
    assert_int_equal(hostport_parse("[::1", 1, h, sizeof(h), &port), -EINVAL);
    assert_int_equal(hostport_parse("[::1]x", 1, h, sizeof(h), &port), -EINVAL);
    assert_int_equal(hostport_parse("", 1, h, sizeof(h), &port), -EINVAL);
    char small[4];
    assert_int_equal(hostport_parse("toolong:1", 1, small, sizeof(small), &port), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core__buf_append_and_limit),
        cmocka_unit_test(test_core__log_escape_and_one_line_per_call),
        cmocka_unit_test(test_core__buf_printf_long),
        cmocka_unit_test(test_core__strnum),
        cmocka_unit_test(test_core__hostport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
