/*
 * loopsrv: a loopback HTTP/1.1 server for unit tests of HTTP clients (httpc,
 * ipdisc), on the test's own libuv loop. It listens on 127.0.0.1 with an
 * ephemeral port, reads each connection until the end of the request head,
 * answers with s->reply (s->reply_len bytes, borrowed) and closes; with
 * s->silent it accepts and never answers (timeouts). s->conns counts accepted
 * connections. The test closes s->listener when it is done.
 *
 * For HTTPS: loopsrv_make_cert writes a throw-away self-signed certificate for
 * 127.0.0.1 into a directory, and loopsrv_s_server runs `openssl s_server -HTTP`
 * there (it serves the directory's files, each holding a whole HTTP response).
 * Test code only: static functions, included by one test file each.
 */
#ifndef LOTUS_TESTS_LOOPSRV_H
#define LOTUS_TESTS_LOOPSRV_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

struct loopsrv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    int silent;        /* accept but never answer */
    const char *reply; /* the whole response, borrowed */
    size_t reply_len;
    int conns;
    char own[1024]; /* storage of loopsrv_reply_body's response */
};

struct loopsrv_conn {
    uv_tcp_t tcp;
    struct loopsrv *s;
    char buf[2048];
    size_t len;
    int answered;
};

/* Answers 200 with body (borrowed; copied into s->own). */
static inline void loopsrv_reply_body(struct loopsrv *s, const char *body)
{
    int m = snprintf(s->own, sizeof(s->own), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    s->reply = s->own;
    s->reply_len = (size_t)m;
}

static void loopsrv__free_conn(uv_handle_t *h)
{
    free(h->data);
}

static void loopsrv__on_write(uv_write_t *w, int status)
{
    (void)status;
    struct loopsrv_conn *c = w->data;
    free(w);
    uv_close((uv_handle_t *)&c->tcp, loopsrv__free_conn);
}

static void loopsrv__alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)sz;
    struct loopsrv_conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void loopsrv__read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct loopsrv_conn *c = st->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, loopsrv__free_conn);
        return;
    }
    c->len += (size_t)n;
    if (c->answered || c->s->silent || !memmem(c->buf, c->len, "\r\n\r\n", 4))
        return;
    c->answered = 1;
    uv_write_t *w = malloc(sizeof(*w));
    w->data = c;
    uv_buf_t out = uv_buf_init((char *)c->s->reply, (unsigned)c->s->reply_len);
    uv_write(w, st, &out, 1, loopsrv__on_write);
}

static void loopsrv__on_conn(uv_stream_t *l, int status)
{
    (void)status;
    struct loopsrv *s = l->data;
    struct loopsrv_conn *c = calloc(1, sizeof(*c));
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, loopsrv__free_conn);
        return;
    }
    s->conns++;
    uv_read_start((uv_stream_t *)&c->tcp, loopsrv__alloc, loopsrv__read);
}

/* Listens on 127.0.0.1:0 on loop; s->port is the bound port. Returns 0 or a libuv error. */
static inline int loopsrv_start(struct loopsrv *s, uv_loop_t *loop)
{
    struct sockaddr_in a;
    s->loop = loop;
    uv_ip4_addr("127.0.0.1", 0, &a);
    int rc = uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if (rc == 0)
        rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 16, loopsrv__on_conn);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return rc;
}

/* A loopback port nobody listens on (bound, read, closed). */
static inline int loopsrv_free_port(void)
{
    uv_loop_t loop;
    uv_tcp_t t;
    struct sockaddr_in a;
    uv_loop_init(&loop);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&loop, &t);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return port;
}

/* cert.pem + key.pem for CN and IP SAN 127.0.0.1, valid for days, in dir. 0 or -1. */
static inline int loopsrv_make_cert(const char *dir, int days)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
             "-days %d -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir, days);
    return system(cmd) == 0 ? 0 : -1;
}

/*
 * Runs `openssl s_server -HTTP` in dir on 127.0.0.1:port and waits (up to
 * 5 s) until it accepts connections. Returns its pid, or -1 when it did not
 * come up. Stop it with loopsrv_s_server_stop.
 */
static inline pid_t loopsrv_s_server(const char *dir, int port)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        if (chdir(dir) != 0)
            _exit(127);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl("/usr/bin/openssl", "openssl", "s_server", "-HTTP", "-accept", p, "-cert", "cert.pem",
              "-key", "key.pem", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        char sh[256];
        snprintf(sh, sizeof(sh), "bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null", port);
        if (system(sh) == 0)
            return pid;
        usleep(50000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

static inline void loopsrv_s_server_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

#endif
