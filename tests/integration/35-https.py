"""Optional HTTPS on the dashboard's HTTP port (issue #4): login and the Secure session cookie,
/api/v1 with a token, keep-alive on one TLS connection, the install command's https:// URL,
ALPN (http/1.1 or none, never h2), plain HTTP and garbage sent to the TLS port, a WebSocket over
TLS (wss), and the start-up errors for a bad certificate and a certificate without a key.
A self-signed certificate is made with `openssl req -x509` in a temp dir."""
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import time

from lotus import DASHBOARD, Dashboard, Http, Tap, wait_for, ws_handshake, ws_read_frame, ws_send

tap = Tap()
dash = Dashboard()
os.makedirs(dash.tmp, exist_ok=True)
CERT, KEY = os.path.join(dash.tmp, "cert.pem"), os.path.join(dash.tmp, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", KEY,
                "-out", CERT], check=True, capture_output=True)
dash.extra_args = ["--http-tls-cert", CERT, "--http-tls-key", KEY]
dash.start()
wait_for(dash.admin_password, what="initial admin password printed")
PW = dash.admin_password()

# A client that starts a TLS handshake and stalls: opened now, checked near the end of the file
# (the header timeout, 10 s from accept, covers the handshake), so it costs no extra wall time.
STALL = socket.create_connection(("127.0.0.1", dash.http_port), timeout=20)
STALL.sendall(b"\x16\x03\x01\x02\x00\x01")  # a record header and one byte of a ClientHello
STALL_T0 = time.monotonic()


def ctx():
    """Client context trusting only the test certificate (hostname checked against its SAN)."""
    c = ssl.create_default_context(cafile=CERT)
    return c


def base():
    return "https://127.0.0.1:%d" % dash.http_port


def admin_client():
    c = Http(base(), ssl_context=ctx())
    st, j = c.login("admin", PW)
    assert st == 200 and j["code"] == 200, (st, j)
    return c


def tls_socket(alpn=None):
    c = ctx()
    if alpn:
        c.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    return c.wrap_socket(raw, server_hostname="127.0.0.1")


def read_until_closed(s, limit=1 << 20):
    data = b""
    while len(data) < limit:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return data


@tap.test
def login_over_https_sets_a_secure_cookie():
    c = Http(base(), ssl_context=ctx())
    st, hdrs, j = c.call("POST", "/api/login", {"username": "admin", "password": PW})
    assert st == 200 and j["code"] == 200, (st, j)
    sc = hdrs["Set-Cookie"]
    assert "; Secure" in sc and "HttpOnly" in sc, sc
    cookie = [ck for ck in c.jar if ck.name == "nezha-dashboard"][0]
    assert cookie.secure
    c.csrf = j["result"]["csrf"]
    st, _, me = c.call("GET", "/api/me")
    assert me["code"] == 0 and me["result"]["login"] == "admin", me
    assert "https://" in dash.output(), "start-up log names the https URL"


@tap.test
def api_v1_with_a_token_over_https():
    sid, _ = dash.add_server("tls-web", "--tag", "t1")
    c = admin_client()
    st, _, j = c.call("POST", "/api/token", {"Note": "bot"})
    token = j["result"]["token"]
    anon = Http(base(), ssl_context=ctx())
    st, _, j = anon.call("GET", "/api/v1/server/list?tag=t1", headers={"Authorization": token})
    assert st == 200 and [s["id"] for s in j["result"]] == [sid], j
    # The install command shown in the admin UI points at https://.
    st, _, j = c.call("GET", "/api/server/%d/install" % sid)
    cmd = j["result"]["linux"]
    assert cmd.startswith("curl -fsSL https://127.0.0.1:%d/static/install-agent.sh" % dash.http_port)
    assert "LOTUS_DASHBOARD_URL=https://127.0.0.1:%d " % dash.http_port in cmd, cmd


@tap.test
def keep_alive_two_requests_on_one_tls_connection():
    conn = http.client.HTTPSConnection("127.0.0.1", dash.http_port, context=ctx(), timeout=5)
    conn.request("GET", "/api/v1/server/list")
    r1 = conn.getresponse()
    b1 = r1.read()
    sock1 = conn.sock
    conn.request("GET", "/api/public")
    r2 = conn.getresponse()
    b2 = r2.read()
    assert conn.sock is sock1, "second request reused the TLS connection"
    assert r1.status == 200 and json.loads(b1)["code"] == 403, b1
    assert r2.status == 200 and json.loads(b2)["code"] == 0, b2
    assert sock1.version() in ("TLSv1.2", "TLSv1.3")
    conn.close()


@tap.test
def alpn_picks_http11_or_nothing_never_h2():
    s = tls_socket(["h2", "http/1.1"])
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()
    s = tls_socket(["h2"])
    assert s.selected_alpn_protocol() is None
    # Without ALPN agreement the connection still speaks HTTP/1.1.
    s.sendall(b"GET /api/public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_until_closed(s).startswith(b"HTTP/1.1 200 OK\r\n")
    s.close()


@tap.test
def plain_http_or_garbage_to_the_https_port_is_closed_and_serving_goes_on():
    s = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    s.sendall(b"GET /api/public HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_until_closed(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert b"HTTPS" in data and b"Connection: close" in data, data
    s = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    s.sendall(b"\x00\x01\x02garbage" * 100)
    assert read_until_closed(s) == b""
    s.close()
    # A TLS record that is not a valid hello: closed (maybe after an alert), no crash.
    s = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05hello" + b"\xff" * 64)
    read_until_closed(s)
    s.close()
    # A client that does not trust the certificate: handshake fails on its side, server fine.
    raw = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    try:
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        raise AssertionError("untrusted certificate accepted")
    except ssl.SSLCertVerificationError:
        pass
    raw.close()
    st, _, j = Http(base(), ssl_context=ctx()).call("GET", "/api/public")
    assert st == 200 and j["code"] == 0, j
    assert dash.proc.poll() is None


def wss_open():
    """A wss:// /ws connection past the 101; returns (socket, bytes already read after the head)."""
    s = tls_socket()
    status, head, buf = ws_handshake(s, dash.http_port,
                                     {"Origin": "https://127.0.0.1:%d" % dash.http_port})
    assert status == 101 and head.startswith(b"HTTP/1.1 101 "), head
    return s, buf


@tap.test
def websocket_over_tls_gets_live_frames_and_closes_cleanly():
    s, buf = wss_open()
    frames = []
    deadline = time.time() + 5
    while len(frames) < 2 and time.time() < deadline:
        op, payload, buf = ws_read_frame(s, buf)
        if op == 0x9:  # ping: answer it
            ws_send(s, 0xA, payload)
        elif op == 0x1:
            frames.append(json.loads(payload))
    assert len(frames) == 2, frames
    assert all("now" in f for f in frames) and frames[1]["now"] >= frames[0]["now"]
    assert any(x["Name"] == "tls-web" for x in frames[-1].get("servers", [])), frames[-1]
    # Client close: the server answers with a close frame, then ends TLS and TCP.
    ws_send(s, 0x8, struct.pack("!H", 1000))
    while True:
        op, payload, buf = ws_read_frame(s, buf)
        if op == 0x8:
            assert payload[:2] == struct.pack("!H", 1000), payload
            break
    assert read_until_closed(s) == b""
    s.close()


def run_dashboard(*args):
    """Runs lotus-dashboard to completion (start-up errors) with a 15 s bound."""
    d = os.path.join(dash.tmp, "other")
    return subprocess.run([DASHBOARD, "--data", d, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]
                          + list(args), capture_output=True, text=True, timeout=15)


@tap.test
def bad_certificate_path_is_a_clear_start_up_error():
    r = run_dashboard("--http-tls-cert", os.path.join(dash.tmp, "missing.pem"),
                      "--http-tls-key", KEY)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "lotus-dashboard: HTTP: cannot load TLS certificate" in r.stderr, r.stderr
    # A key that does not belong to the certificate.
    other_key = os.path.join(dash.tmp, "other.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-out", other_key], check=True,
                   capture_output=True)
    r = run_dashboard("--http-tls-cert", CERT, "--http-tls-key", other_key)
    assert r.returncode == 1 and "cannot load TLS key" in r.stderr and "mismatch" in r.stderr, r.stderr


@tap.test
def certificate_without_key_exits_2_with_one_line():
    r = run_dashboard("--http-tls-cert", CERT)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr == "lotus-dashboard: HTTPS needs both a certificate and a key\n", r.stderr
    r = run_dashboard("--http-tls-key", KEY)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    # The config keys work the same way.
    cfg = os.path.join(dash.tmp, "https.yaml")
    with open(cfg, "w") as f:
        f.write("httptlscert: %s\n" % CERT)
    r = run_dashboard("-c", cfg)
    assert r.returncode == 2 and "HTTPS needs both" in r.stderr, r.stderr
    # The flag wins over the key: a good pair in the config, a missing file on the command line.
    with open(cfg, "w") as f:
        f.write("httptlscert: %s\nhttptlskey: %s\n" % (CERT, KEY))
    r = run_dashboard("-c", cfg, "--http-tls-cert", os.path.join(dash.tmp, "missing.pem"))
    assert r.returncode == 1 and "cannot load TLS certificate" in r.stderr, r.stderr


@tap.test
def a_stalled_handshake_is_closed_by_the_header_timeout():
    # Meanwhile every other test was served; now the stalled client must be cut off at 10 s.
    STALL.settimeout(max(1.0, 16 - (time.monotonic() - STALL_T0)))
    try:
        data = STALL.recv(4096)
    except ConnectionResetError:
        data = b""
    took = time.monotonic() - STALL_T0
    STALL.close()
    assert data == b"", data
    assert 9.5 <= took < 15, took
    st, _, j = admin_client().call("GET", "/api/v1/server/list")
    assert st == 200, (st, j)


@tap.test
def shutdown_with_an_open_wss_viewer_says_going_away_and_exits_0():
    # Last test: stops the dashboard. The viewer gets close 1001 over TLS, the process exits 0
    # (under the ASan build that also means no leak).
    s, buf = wss_open()
    op, payload, buf = ws_read_frame(s, buf)
    assert op == 0x1 and "now" in json.loads(payload)
    dash.proc.send_signal(15)
    while True:
        op, payload, buf = ws_read_frame(s, buf)
        if op == 0x8:
            assert payload[:2] == struct.pack("!H", 1001), payload
            break
    s.close()
    dash.proc.wait(10)  # the one SIGTERM above; stop() would send another if it were still draining
    rc = dash.stop()
    assert rc == 0, (rc, dash.output()[-3000:])


def dashboard_stops_cleanly():
    # A no-op stop when the last test already stopped it; otherwise (that test failed early)
    # the checked stop: SIGTERM, exit 0, no sanitizer report.
    dash.cleanup()


tap.run(final=dashboard_stops_cleanly)
