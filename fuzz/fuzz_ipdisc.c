/*
 * libFuzzer target for ipdisc's pure parsers: the HTTP response framing
 * (status line, headers, Content-Length, chunked) and the trace "ip=" scan,
 * plus httpc's URL parser and request builder. Build and run (clang):
 *   make WERROR=1 unit-tests   # for build/gen/nezha_v0.pb-c.h
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_ipdisc.c src/agent/ipdisc.c src/proto/httpc.c src/proto/tls.c src/proto/tlspump.c \
 *     src/core/buf.c src/core/errbuf.c src/core/log.c src/core/strnum.c src/core/xalloc.c \
 *     -luv -lssl -lcrypto -o build/fuzz_ipdisc && build/fuzz_ipdisc -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ipdisc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[IPDISC_IP_LEN];
    const char *why = NULL;
    for (int family = 4; family <= 6; family += 2) {
        for (int eof = 0; eof <= 1; eof++)
            if (ipdisc_parse_response(data, size, eof, family, out, sizeof(out), &why) == 0 &&
                strlen(out) >= IPDISC_IP_LEN)
                abort();
        if (ipdisc_parse_trace((const char *)data, size, family, out, sizeof(out)) == 0 &&
            strlen(out) >= IPDISC_IP_LEN)
            abort();
    }
    if (size <= IPDISC_MAX_URL) {
        char url[IPDISC_MAX_URL + 1];
        struct httpc_url u;
        char req[HTTPC_MAX_REQUEST];
        memcpy(url, data, size);
        url[size] = '\0';
        if (httpc_url_parse(url, &u) == 0 && httpc_build_request(&u, req, sizeof(req)) < 0)
            abort(); /* every parsed URL must fit a request */
    }
    return 0;
}
