/* tlspump: feed / handshake / pull / send / flush / close over a tls_conn (see tlspump.h). */
#include "tlspump.h"

#include <errno.h>

#include "proto/tls.h"

int tlspump_feed(struct tls_conn *t, int *ready, const uint8_t *p, size_t n, char *err,
                 size_t errlen)
{
    if (tls_conn_feed(t, p, n) != 0)
        return -ENOMEM;
    if (*ready)
        return 0;
    int rc = tls_conn_handshake(t, err, errlen);
    if (rc <= 0)
        return rc;
    *ready = 1;
    return 1;
}

int tlspump_pull(struct tls_conn *t, size_t room, tlspump_sink sink, void *ud)
{
    while (room > 0) {
        uint8_t tmp[TLSPUMP_RECORD];
        int n = tls_conn_read(t, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
        if (n == 0)
            return 0;
        if (n < 0)
            return n == -ECONNRESET ? TLSPUMP_EOF : -EPROTO;
        room = sink(ud, tmp, (size_t)n);
    }
    return 0;
}

int tlspump_send(struct tls_conn *t, const void *p, size_t n, struct buf *out)
{
    if (tls_conn_write(t, p, n) != 0)
        return -EPROTO;
    return tls_conn_drain(t, out);
}

int tlspump_flush(struct tls_conn *t, struct buf *out)
{
    return tls_conn_drain(t, out);
}
