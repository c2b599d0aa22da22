"""gzip on the dashboard's HTTP responses (issue #4 item 1): the web UI's build-time gzip
forms and the on-the-fly gzip of the JSON API, negotiated by Accept-Encoding, checked on the
raw bytes (http.client does not decode) and with `curl --compressed` as a real client."""
import gzip
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess

from lotus import Dashboard, Skip, Tap, wait_for

N_SERVERS = 300  # the details body is then well over 64 KiB (compressed on the work pool)

tap = Tap()
dash = Dashboard()
# The first start creates the database and the admin user (a token needs one); then servers
# go straight into the database before the second start, like bench/api.sh (one CLI call
# each would take seconds).
dash.start()
wait_for(dash.admin_password, what="initial admin password printed")
assert dash.stop() == 0
with sqlite3.connect(os.path.join(dash.data, "sqlite.db")) as con:
    con.executemany("INSERT INTO servers (name, tag, secret) VALUES (?, ?, ?)",
                    [("gz-%d" % i, "t%d" % (i % 3), "gzsecret%012d" % i) for i in range(N_SERVERS)])
r = dash.cli("token", "add", "--note", "gzip")
assert r.returncode == 0, r.stderr
TOKEN = re.search(r'"token":"([0-9A-Za-z]+)"', r.stdout).group(1)
dash.start()


def get(path, headers=None, method="GET"):
    """(status, headers as a dict with lower-case names, raw body bytes); no decoding."""
    c = http.client.HTTPConnection("127.0.0.1", dash.http_port, timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        resp = c.getresponse()
        body = resp.read()
        hdrs = {}
        for k, v in resp.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        return resp.status, hdrs, body
    finally:
        c.close()


def app_js_path():
    st, _, body = get("/")
    assert st == 200
    return re.search(rb'/static/app\.[0-9a-f]{10}\.js', body).group(0).decode()


GZ = {"Accept-Encoding": "gzip, deflate, br"}
API = {"Authorization": TOKEN}


@tap.test
def asset_gzip_form_decompresses_to_the_identity_bytes():
    path = app_js_path()
    st, h_id, ident = get(path)
    assert st == 200 and "content-encoding" not in h_id, h_id
    assert h_id["vary"] == "Accept-Encoding"
    assert int(h_id["content-length"]) == len(ident)
    st, h_gz, packed = get(path, GZ)
    assert st == 200
    assert h_gz["content-encoding"] == "gzip" and h_gz["vary"] == "Accept-Encoding", h_gz
    assert h_gz["content-type"] == h_id["content-type"] == "text/javascript; charset=utf-8"
    assert int(h_gz["content-length"]) == len(packed) < len(ident) // 2
    assert gzip.decompress(packed) == ident
    assert h_gz["etag"] != h_id["etag"]
    assert h_gz["cache-control"] == h_id["cache-control"]
    # Refused or only offered other codings: identity.
    for ae in ("gzip;q=0", "br", "identity", "gzip;q=0.2, identity;q=0.9", "*;q=0"):
        st, h, body = get(path, {"Accept-Encoding": ae})
        assert "content-encoding" not in h and body == ident, ae
        assert h["vary"] == "Accept-Encoding"
    st, h, body = get(path, {"Accept-Encoding": "*"})
    assert h.get("content-encoding") == "gzip" and body == packed


@tap.test
def asset_conditional_requests_use_the_etag_of_the_chosen_form():
    path = app_js_path()
    _, h_id, _ = get(path)
    _, h_gz, _ = get(path, GZ)
    st, h, body = get(path, dict(GZ, **{"If-None-Match": h_gz["etag"]}))
    assert st == 304 and body == b"" and h["etag"] == h_gz["etag"], (st, h)
    assert h["vary"] == "Accept-Encoding" and "content-encoding" not in h
    st, h, _ = get(path, {"If-None-Match": h_id["etag"]})
    assert st == 304 and h["etag"] == h_id["etag"]
    # A cached identity copy does not validate the gzip form, nor the other way round.
    st, h, body = get(path, dict(GZ, **{"If-None-Match": h_id["etag"]}))
    assert st == 200 and h["content-encoding"] == "gzip" and h["etag"] == h_gz["etag"]
    st, h, body = get(path, {"If-None-Match": h_gz["etag"]})
    assert st == 200 and "content-encoding" not in h


@tap.test
def small_and_binary_bodies_are_not_compressed():
    st, h, body = get("/", GZ)  # index.html: 444 bytes, no gzip form
    assert st == 200 and len(body) < 1024, len(body)
    assert "content-encoding" not in h and "vary" not in h, h
    st, h, body = get("/api/v1/server/list", GZ)  # 403 JSON without a token
    assert json.loads(body)["code"] == 403, (st, body)
    assert "content-encoding" not in h and "vary" not in h
    st, h, body = get("/api/v1/server/details?id=1", dict(GZ, **API))
    assert st == 200 and len(body) < 1024 and json.loads(body)["code"] == 0, body
    assert "content-encoding" not in h
    # The agent binary for installs: opaque, never compressed.
    agent = os.path.join(os.path.dirname(dash.proc.args[0]), "lotus-agent")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "arm")
    st, h, body = get("/static/lotus-agent-linux-" + arch, GZ)
    assert st == 200, st  # build/lotus-agent sits next to the dashboard
    assert "content-encoding" not in h and h["content-type"] == "application/octet-stream"
    with open(agent, "rb") as f:
        assert body == f.read()


def check_api(path):
    st, h_id, ident = get(path, API)
    assert st == 200 and "content-encoding" not in h_id, h_id
    assert h_id["vary"] == "Accept-Encoding"
    st, h_gz, packed = get(path, dict(GZ, **API))
    assert st == 200 and h_gz["content-encoding"] == "gzip", h_gz
    assert h_gz["vary"] == "Accept-Encoding"
    assert h_gz["content-type"] == "application/json; charset=utf-8"
    assert int(h_gz["content-length"]) == len(packed) < len(ident) // 3
    plain = gzip.decompress(packed)
    assert json.loads(plain) == json.loads(ident)
    assert len(json.loads(plain)["result"]) == N_SERVERS
    # HEAD reports what GET sends.
    st, h_head, body = get(path, dict(GZ, **API), method="HEAD")
    assert st == 200 and body == b""
    assert h_head["content-encoding"] == "gzip" and h_head["vary"] == "Accept-Encoding"
    assert h_head["content-length"] == h_gz["content-length"], (h_head, h_gz)
    st, h_head, _ = get(path, API, method="HEAD")
    assert "content-encoding" not in h_head and h_head["content-length"] == h_id["content-length"]
    return ident


@tap.test
def api_list_gzip_decompresses_to_the_identity_json():
    ident = check_api("/api/v1/server/list")
    assert 1024 < len(ident) < 65536, len(ident)  # compressed on the loop thread


@tap.test
def api_details_gzip_decompresses_to_the_identity_json():
    ident = check_api("/api/v1/server/details")
    assert len(ident) > 65536, len(ident)  # compressed on the work pool


@tap.test
def api_gzip_form_follows_the_registry():
    # The gzip form is cached next to the rendered body: repeated requests get the same
    # bytes, and a change to the registry shows up in the gzip answer as in the identity one.
    _, _, first = get("/api/v1/server/details", dict(GZ, **API))
    _, _, again = get("/api/v1/server/details", dict(GZ, **API))
    assert first == again
    c = http.client.HTTPConnection("127.0.0.1", dash.http_port, timeout=10)
    c.request("POST", "/api/v1/server/register", body=json.dumps({"Name": "gz-new"}),
              headers=dict(API, **{"Content-Type": "application/json"}))
    r = c.getresponse()
    reply = json.loads(r.read())
    c.close()
    assert r.status == 200 and reply["code"] == 200, reply

    def gz_names():  # the API may serve a cached render for 100 ms: wait for the new one
        _, h, packed = get("/api/v1/server/details", dict(GZ, **API))
        assert h["content-encoding"] == "gzip"
        names = [s["name"] for s in json.loads(gzip.decompress(packed))["result"]]
        return (names, packed) if "gz-new" in names else None
    names, packed = wait_for(gz_names, timeout=10, what="gz-new in the gzip answer")
    assert len(names) == N_SERVERS + 1, len(names)
    _, _, ident = get("/api/v1/server/details", API)
    assert json.loads(gzip.decompress(packed)) == json.loads(ident)


@tap.test
def curl_compressed_decodes_and_plain_curl_gets_identity():
    if not shutil.which("curl"):
        raise Skip("curl is not installed (scripts/deps.sh installs it)")
    url = dash.url("/api/v1/server/details")
    _, _, ident = get("/api/v1/server/details", API)
    plain = subprocess.run(["curl", "-fsS", "-D", "-", "-H", "Authorization: " + TOKEN, url],
                           capture_output=True, timeout=20).stdout
    head, _, body = plain.partition(b"\r\n\r\n")
    assert b"content-encoding" not in head.lower() and json.loads(body) == json.loads(ident)
    dec = subprocess.run(["curl", "-fsS", "--compressed", "-D", "-", "-H", "Authorization: " + TOKEN,
                          url], capture_output=True, timeout=20).stdout
    head, _, body = dec.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower(), head
    assert json.loads(body) == json.loads(ident)


@tap.test
def dashboard_exits_cleanly_after_pool_compression():
    # Clients that leave while their body is on the work pool, then SIGTERM: exit 0, and
    # nothing from the sanitizers in an ASan build.
    import socket
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
        s.sendall(("GET /api/v1/server/details HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Accept-Encoding: gzip\r\n\r\n" % TOKEN).encode())
        s.close()
    assert get("/api/v1/server/list", API)[0] == 200
    rc = dash.stop()  # checked: exit 0, no sanitizer report (lotus.SANITIZER_MARKS)
    assert rc == 0, rc


def dashboard_stops_cleanly():
    dash.cleanup()  # a no-op after the test above; the checked stop if it failed early


tap.run(final=dashboard_stops_cleanly)
