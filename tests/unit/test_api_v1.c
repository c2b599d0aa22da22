/*
 * Golden tests of src/dashboard/api/api_v1: bodies are compared byte for byte
 * with the files in tests/fixtures/api/. details_never_reported.json is the exact
 * example string of docs/protocol.md §5.3, list_tag_eu.json contains docs/protocol.md's list
 * item verbatim, details_seed.json carries the values of the detail example in Nezha v0's API
 * documentation (Server1, darwin arm64).
 * The struct live is built by hand (live.c is not needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "dashboard/api/api_v1.h"
#include "dashboard/live.h"
#include "nezha_v0.pb-c.h"

#define NSRV 5

struct fixture {
    struct live lv;
    struct live_server srv[NSRV];
    struct live_server *ptr[NSRV];
    Proto__Host host[NSRV];
    Proto__State state[NSRV];
    Proto__StateSensorTemperature temp[2];
    Proto__StateSensorTemperature *temps[2];
    char *cpu1[1], *cpu7[1], *cpu9[2], *gpu9[1];
};

static struct fixture fx;

static void add(int i, uint64_t id, const char *name, const char *tag, int64_t last_active,
                int64_t display_index, int hide, Proto__Host *h, Proto__State *s)
{
    struct live_server *sv = &fx.srv[i];
    memset(sv, 0, sizeof(*sv));
    sv->id = id;
    sv->name = (char *)name;
    sv->tag = (char *)tag;
    sv->last_active = last_active;
    sv->display_index = display_index;
    sv->hide_for_guest = hide;
    sv->host = h;
    sv->state = s;
    fx.ptr[i] = sv;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NSRV; i++) {
        Proto__Host h = PROTO__HOST__INIT;
        Proto__State s = PROTO__STATE__INIT;
        fx.host[i] = h;
        fx.state[i] = s;
    }
    /* 1: dual-stack, reported */
    Proto__Host *h = &fx.host[0];
    h->platform = (char *)"debian";
    h->platform_version = (char *)"12.5";
    fx.cpu1[0] = (char *)"AMD EPYC 7B13 2 Virtual Core";
    h->cpu = fx.cpu1;
    h->n_cpu = 1;
    h->mem_total = 4102828032;
    h->disk_total = 42006183936;
    h->arch = (char *)"x86_64";
    h->virtualization = (char *)"kvm";
    h->boot_time = 1717000000;
    h->ip = (char *)"203.0.113.7/2001:db8::7";
    h->country_code = (char *)"de";
    h->version = (char *)"0.20.5";
    Proto__State *s = &fx.state[0];
    s->cpu = 0.5;
    s->mem_used = 1024;
    s->uptime = 236000;
    s->load1 = 0.08;
    s->load5 = 0.03;
    s->load15 = 0.01;
    s->tcp_conn_count = 12;
    s->udp_conn_count = 3;
    s->process_count = 120;
    add(0, 1, "fra", "eu", 1717236000, 0, 0, h, s);
    /* 3: never reported */
    add(1, 3, "hk", "asia", 0, 0, 0, NULL, NULL);
    /* 5: IPv6 only, host reported but no state yet */
    h = &fx.host[2];
    h->platform = (char *)"alpine";
    h->platform_version = (char *)"3.20.0";
    h->arch = (char *)"aarch64";
    h->boot_time = 1717200000;
    h->ip = (char *)"2001:db8::5";
    add(2, 5, "v6only", "eu", 1717236001, 2, 1, h, NULL);
    /* 7: the detail example of Nezha v0's API documentation */
    h = &fx.host[3];
    h->platform = (char *)"darwin";
    h->platform_version = (char *)"12.3.1";
    fx.cpu7[0] = (char *)"Apple M1 Pro 1 Physical Core";
    h->cpu = fx.cpu7;
    h->n_cpu = 1;
    h->mem_total = 17179869184ull;
    h->disk_total = 2473496842240ull;
    h->arch = (char *)"arm64";
    h->boot_time = 1652683962;
    h->ip = (char *)"1.1.1.1";
    h->country_code = (char *)"hk";
    s = &fx.state[3];
    s->cpu = 17.330210772540017;
    s->mem_used = 14013841408ull;
    s->disk_used = 2335048912896ull;
    s->net_in_transfer = 2710273234ull;
    s->net_out_transfer = 695454765;
    s->net_in_speed = 10806;
    s->net_out_speed = 5303;
    s->uptime = 331080;
    s->load1 = 5.23486328125;
    s->load5 = 4.873046875;
    s->load15 = 3.99267578125;
    s->tcp_conn_count = 195;
    s->udp_conn_count = 70;
    s->process_count = 437;
    add(3, 7, "Server1", "Tag1", 1653015042, 0, 0, h, s);
    /* 9: temperatures, GPUs, HTML characters, empty tag */
    h = &fx.host[4];
    h->platform = (char *)"ubuntu";
    h->platform_version = (char *)"22.04";
    fx.cpu9[0] = (char *)"Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz 4 Virtual Core";
    fx.cpu9[1] = (char *)"Intel(R) Core(TM) i3 1 Virtual Core";
    h->cpu = fx.cpu9;
    h->n_cpu = 2;
    h->arch = (char *)"x86_64";
    h->ip = (char *)"198.51.100.9";
    fx.gpu9[0] = (char *)"NVIDIA <GeForce> & \"RTX\"";
    h->gpu = fx.gpu9;
    h->n_gpu = 1;
    s = &fx.state[4];
    s->cpu = 100;
    s->gpu = 12.5;
    for (int i = 0; i < 2; i++) {
        Proto__StateSensorTemperature t = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        fx.temp[i] = t;
        fx.temps[i] = &fx.temp[i];
    }
    fx.temp[0].name = (char *)"acpitz";
    fx.temp[0].temperature = 27.8;
    fx.temp[1].name = (char *)"coretemp_package_id_0";
    fx.temp[1].temperature = 45.5;
    s->temperatures = fx.temps;
    s->n_temperatures = 2;
    add(4, 9, "temp <lab> & co", "", 1717236100, -1, 0, h, s);

    fx.lv.servers = fx.ptr;
    fx.lv.n = NSRV;
    fx.lv.cap = NSRV;
    return 0;
}

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/api/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s (run from the repository root)", path);
    static char data[65536];
    size_t n = fread(data, 1, sizeof(data) - 1, f);
    fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

static void check_golden(const struct buf *b, const char *fixture)
{
    size_t n;
    const char *want = slurp(fixture, &n);
    if (b->len != n || memcmp(b->data, want, n) != 0)
        fail_msg("%s differs:\n got: %s\nwant: %s", fixture, b->data, want);
}

static void golden_details(const char *tag, const char *ids, const char *fixture)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(api_v1_render_details(&b, &fx.lv, tag, ids), 0);
    check_golden(&b, fixture);
    buf_release(&b);
}

static void golden_list(const char *tag, const char *fixture)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(api_v1_render_list(&b, &fx.lv, tag), 0);
    check_golden(&b, fixture);
    buf_release(&b);
}

static void test_api_v1__never_reported_matches_spec_example(void **state)
{
    (void)state;
    golden_details(NULL, "3", "details_never_reported.json");
    golden_details("", "3", "details_never_reported.json");
}

static void test_api_v1__list_by_tag_dual_stack_and_ipv6_only(void **state)
{
    (void)state;
    golden_list("eu", "list_tag_eu.json");
}

static void test_api_v1__unfiltered_order_display_index_then_id(void **state)
{
    (void)state;
    golden_list(NULL, "list_all.json");
    golden_list("", "list_all.json");
    golden_details(NULL, NULL, "details_all.json");
    golden_details(NULL, "", "details_all.json"); /* id= empty means no filter */
}

static void test_api_v1__empty_and_unknown_selections(void **state)
{
    (void)state;
    golden_list("nope", "empty.json");
    golden_details("nope", "3", "empty.json"); /* tag wins over id */
    golden_details(NULL, ",", "empty.json");
    golden_details(NULL, "x,0,99,-1,+3, 3,3 ", "empty.json");
    struct live none;
    live_init(&none);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(api_v1_render_list(&b, &none, NULL), 0);
    check_golden(&b, "empty.json");
    buf_reset(&b);
    assert_int_equal(api_v1_render_details(&b, &none, NULL, NULL), 0);
    check_golden(&b, "empty.json");
    buf_release(&b);
}

static void test_api_v1__id_list_with_junk(void **state)
{
    (void)state;
    golden_details(NULL, "3,x,,0,3,99", "details_id_junk.json");
    golden_details(NULL, "003,,3", "details_id_junk.json"); /* leading zeros parse like Go */
}

static void test_api_v1__seed_example_values(void **state)
{
    (void)state;
    golden_details(NULL, "7", "details_seed.json");
    golden_details("Tag1", "1", "details_seed.json");
}

static void test_api_v1__temperatures_gpu_and_escaping(void **state)
{
    (void)state;
    golden_details(NULL, "9", "details_temperatures.json");
}

static void test_api_v1__buffer_limit_reported(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(api_v1_render_details(&b, &fx.lv, NULL, NULL), -E2BIG);
    buf_release(&b);
}

static void assert_ips(const char *ip, const char *v4, const char *v6, const char *valid)
{
    struct api_v1_ips o;
    api_v1_split_ip(ip, &o);
    assert_int_equal(o.ipv4_len, strlen(v4));
    assert_memory_equal(o.ipv4, v4, o.ipv4_len);
    assert_int_equal(o.ipv6_len, strlen(v6));
    assert_memory_equal(o.ipv6, v6, o.ipv6_len);
    assert_int_equal(o.valid_len, strlen(valid));
    assert_memory_equal(o.valid, valid, o.valid_len);
}

/* docs/protocol.md fact 13, each branch with all three outputs (pointer contents, not only
 * lengths). */
static void test_api_v1__split_ip(void **state)
{
    (void)state;
    assert_ips("1.2.3.4/::1", "1.2.3.4", "::1", "1.2.3.4");
    assert_ips("::1", "", "::1", "::1");
    assert_ips("", "", "", "");
    assert_ips(NULL, "", "", "");
    assert_ips("1.2.3.4", "1.2.3.4", "", "1.2.3.4");
    assert_ips("/2001:db8::1", "", "2001:db8::1", ""); /* two parts: valid is the (empty) ipv4 */
    assert_ips("1.2.3.4/", "1.2.3.4", "", "1.2.3.4");
    /* Three parts: neither two nor one, so ipv4 = valid = the whole string. */
    assert_ips("1.2.3.4/::1/x", "1.2.3.4/::1/x", "", "1.2.3.4/::1/x");
    assert_ips("::1/::2/::3", "::1/::2/::3", "", "::1/::2/::3");
}

static void test_api_v1__register_parse(void **state)
{
    (void)state;
    struct api_v1_register r;
    const char *b1 = "{\"Name\":\"web-1\"}";
    assert_int_equal(api_v1_register_parse(b1, strlen(b1), "192.0.2.1", &r), 0);
    assert_string_equal(r.name, "web-1");
    assert_string_equal(r.tag, "AutoRegister");
    assert_string_equal(r.note, "");
    assert_int_equal(r.hide_for_guest, 1);
    api_v1_register_release(&r);

    const char *b2 =
        "{\"name\":\"\",\"TAG\":\"g\",\"note\":\"n\",\"hideforguest\":\"off\",\"x\":[1]}";
    assert_int_equal(api_v1_register_parse(b2, strlen(b2), "192.0.2.1", &r), 0);
    assert_string_equal(r.name, "192.0.2.1");
    assert_string_equal(r.tag, "g");
    assert_string_equal(r.note, "n");
    assert_int_equal(r.hide_for_guest, 0);
    api_v1_register_release(&r);

    /* last case-insensitive match wins; trailing bytes after the value are ignored */
    const char *b3 = "{\"Name\":\"a\",\"NAME\":\"b\",\"HideForGuest\":\"on\"} trailing";
    assert_int_equal(api_v1_register_parse(b3, strlen(b3), "ip", &r), 0);
    assert_string_equal(r.name, "b");
    assert_int_equal(r.hide_for_guest, 1);
    api_v1_register_release(&r);

    assert_int_equal(api_v1_register_parse("null", 4, "ip", &r), 0);
    assert_string_equal(r.name, "ip");
    api_v1_register_release(&r);

    static const char *bad[] = {
        "", "{", "[]", "\"x\"", "{\"HideForGuest\":true}", "{\"Name\":1}", "{\"Tag\":{}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(api_v1_register_parse(bad[i], strlen(bad[i]), "ip", &r), -EINVAL);
    api_v1_register_release(&r);

    /* An empty Tag (like a missing one) is the AutoRegister group. */
    const char *b4 = "{\"Tag\":\"\",\"Note\":null}";
    assert_int_equal(api_v1_register_parse(b4, strlen(b4), "ip", &r), 0);
    assert_string_equal(r.tag, "AutoRegister");
    assert_string_equal(r.note, "");
    api_v1_register_release(&r);
}

/* Name, Tag and Note are bounded: at the limit accepted, one byte over refused. */
static void test_api_v1__register_field_limits(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t max;
    } f[] = {{"Name", API_V1_REGISTER_NAME_MAX},
             {"Tag", API_V1_REGISTER_TAG_MAX},
             {"Note", API_V1_REGISTER_NOTE_MAX}};
    static char body[API_V1_REGISTER_NOTE_MAX + 64];
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        for (size_t extra = 0; extra < 2; extra++) {
            size_t n = f[i].max + extra;
            int len = snprintf(body, sizeof(body), "{\"%s\":\"%*s\"}", f[i].key, (int)n, "");
            for (int k = 0; k < len; k++)
                if (body[k] == ' ')
                    body[k] = 'x';
            struct api_v1_register r;
            int rc = api_v1_register_parse(body, (size_t)len, "ip", &r);
            assert_int_equal(rc, extra ? -EINVAL : 0);
            if (rc == 0) {
                const char *got = i == 0 ? r.name : i == 1 ? r.tag : r.note;
                assert_int_equal(strlen(got), n);
            }
            api_v1_register_release(&r);
        }
    }
}

static void test_api_v1__register_replies(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(
        api_v1_render_register_reply(&b, 200, "Server created successfully", "Ab3dE5gH7jK9mN1pQ2"),
        0);
    assert_string_equal(b.data, "{\"code\":200,\"message\":\"Server created successfully\","
                                "\"secret\":\"Ab3dE5gH7jK9mN1pQ2\"}");
    buf_reset(&b);
    assert_int_equal(api_v1_render_register_reply(&b, 400, "Parse JSON failed", ""), 0);
    assert_string_equal(b.data, "{\"code\":400,\"message\":\"Parse JSON failed\",\"secret\":\"\"}");
    buf_reset(&b);
    assert_int_equal(api_v1_render_register_simple(&b, "Ab3dE5gH7jK9mN1pQ2"), 0);
    assert_string_equal(b.data, "\"Ab3dE5gH7jK9mN1pQ2\"");
    buf_reset(&b);
    assert_int_equal(api_v1_render_unauthorized(&b), 0);
    assert_string_equal(b.data, "{\"code\":403,\"message\":\"访问此接口需要认证\"}");
    buf_release(&b);
    assert_true(api_v1_register_simple_requested("1"));
    assert_true(api_v1_register_simple_requested("true"));
    assert_false(api_v1_register_simple_requested("yes"));
    assert_false(api_v1_register_simple_requested(NULL));
}

static void test_api_v1__client_ip(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(
        api_v1_client_ip(" 198.51.100.1 , 10.0.0.1", "10.0.0.2", "127.0.0.1", out, sizeof(out)),
        "198.51.100.1");
    assert_string_equal(api_v1_client_ip(NULL, " 10.0.0.2 ", "127.0.0.1", out, sizeof(out)),
                        "10.0.0.2");
    assert_string_equal(api_v1_client_ip("", "", "127.0.0.1", out, sizeof(out)), "127.0.0.1");
    assert_string_equal(api_v1_client_ip(NULL, NULL, "2001:db8::1", out, 5), "2001");
}

/*
 * The cursor writers reserve each object's worst case from hand-summed bounds
 * and abort when a write passes them. One server with every field at its
 * longest textual form (64-bit extremes, the longest shortest doubles, strings
 * whose every byte escapes to \u00xx, thousands of empty list items and
 * temperatures) must render without passing a bound, as valid JSON.
 */
#define WORST_ITEMS 3000
static void test_api_v1__worst_case_fits_bounds(void **state)
{
    (void)state;
    static char *items[WORST_ITEMS];
    static Proto__StateSensorTemperature temp[WORST_ITEMS];
    static Proto__StateSensorTemperature *temps[WORST_ITEMS];
    static char ctl[257];
    memset(ctl, 0x01, sizeof(ctl) - 1);
    for (size_t i = 0; i < WORST_ITEMS; i++) {
        items[i] = (char *)"";
        Proto__StateSensorTemperature t = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        temp[i] = t;
        temp[i].name = (char *)"";
        temp[i].temperature = -2.2250738585072014e-308;
        temps[i] = &temp[i];
    }
    Proto__Host h = PROTO__HOST__INIT;
    h.platform = h.platform_version = h.arch = h.virtualization = ctl;
    h.country_code = h.version = ctl;
    h.ip = (char *)"255.255.255.255/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    h.cpu = h.gpu = items;
    h.n_cpu = h.n_gpu = WORST_ITEMS;
    h.mem_total = h.disk_total = h.swap_total = h.boot_time = UINT64_MAX;
    Proto__State st = PROTO__STATE__INIT;
    st.cpu = st.gpu = st.load1 = st.load5 = st.load15 = -2.2250738585072014e-308;
    st.mem_used = st.swap_used = st.disk_used = UINT64_MAX;
    st.net_in_transfer = st.net_out_transfer = st.net_in_speed = st.net_out_speed = UINT64_MAX;
    st.uptime = st.tcp_conn_count = st.udp_conn_count = st.process_count = UINT64_MAX;
    st.temperatures = temps;
    st.n_temperatures = WORST_ITEMS;
    struct live_server sv;
    memset(&sv, 0, sizeof(sv));
    sv.id = UINT64_MAX;
    sv.name = sv.tag = sv.note = sv.public_note = ctl;
    sv.display_index = INT64_MIN;
    sv.last_active = INT64_MIN;
    sv.last_active_ms = INT64_MIN;
    sv.host = &h;
    sv.state = &st;
    struct live_server *ptr = &sv;
    struct live lv;
    memset(&lv, 0, sizeof(lv));
    lv.servers = &ptr;
    lv.n = lv.cap = 1;
    /* Host and State alone too: one object's slack must not hide another's wrong bound. */
    for (int round = 0; round < 6; round++) {
        int details = round & 1;
        sv.host = round / 2 == 2 ? NULL : &h;
        sv.state = round / 2 == 1 ? NULL : &st;
        struct buf b;
        buf_init(&b, 0);
        int rc = details ? api_v1_render_details(&b, &lv, NULL, NULL)
                         : api_v1_render_list(&b, &lv, NULL);
        assert_int_equal(rc, 0);
        json_error_t e;
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_INT_AS_REAL, &e);
        if (!j)
            fprintf(stderr, "# %s at %d: %.80s\n", e.text, e.position,
                    b.data + (e.position > 40 ? e.position - 40 : 0));
        assert_non_null(j);
        assert_non_null(strstr(b.data, "18446744073709551615"));
        if (details && sv.state)
            assert_non_null(strstr(b.data, "-2.2250738585072014e-308"));
        json_decref(j);
        buf_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_v1__never_reported_matches_spec_example),
        cmocka_unit_test(test_api_v1__list_by_tag_dual_stack_and_ipv6_only),
        cmocka_unit_test(test_api_v1__unfiltered_order_display_index_then_id),
        cmocka_unit_test(test_api_v1__empty_and_unknown_selections),
        cmocka_unit_test(test_api_v1__id_list_with_junk),
        cmocka_unit_test(test_api_v1__seed_example_values),
        cmocka_unit_test(test_api_v1__temperatures_gpu_and_escaping),
        cmocka_unit_test(test_api_v1__buffer_limit_reported),
        cmocka_unit_test(test_api_v1__split_ip),
        cmocka_unit_test(test_api_v1__register_parse),
        cmocka_unit_test(test_api_v1__register_field_limits),
        cmocka_unit_test(test_api_v1__register_replies),
        cmocka_unit_test(test_api_v1__client_ip),
        cmocka_unit_test(test_api_v1__worst_case_fits_bounds),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
