"""Guards for the dashboard's HTTP handlers: each test fails on a one-line bug in the
code it guards (CSRF on every mutating route, taken from the router itself; the view
password cookie; password change; batch delete; server edit keeping the secret;
settings round-trip and persistence; /api/v1 tag and id selection; register's default
name from X-Forwarded-For / X-Real-IP; hidden servers on /ws)."""
import json
import os
import re
import socket
import struct
import time

from lotus import Dashboard, Http, Tap, wait_for, ws_handshake, ws_read_frame, ws_send

tap = Tap()
# -d: the router logs every registered route ("http: route POST /api/token").
dash = Dashboard(env={"LOTUS_AGENT_RETRY_MS": "500"}, extra_args=["-d"])
dash.start()
wait_for(dash.admin_password, what="initial admin password printed")
PW = dash.admin_password()
V0_UNAUTH = {"code": 403, "message": "访问此接口需要认证"}
CSRF_FAILED = {"code": 403, "message": "CSRF check failed"}


def admin_client(password=None):
    c = Http(dash.url(""))
    st, j = c.login("admin", password or PW)
    assert st == 200 and j["code"] == 200, (st, j)
    return c


def login_works(password):
    st, j = Http(dash.url("")).login("admin", password)
    return st == 200 and j.get("code") == 200


def servers(c):
    st, _, j = c.call("GET", "/api/server")
    assert st == 200 and j["code"] == 0, (st, j)
    return {s["id"]: s for s in j["result"]}


def tokens(c):
    st, _, j = c.call("GET", "/api/token")
    assert st == 200 and j["code"] == 0, (st, j)
    return {t["id"]: t for t in j["result"]}


def settings(c):
    st, _, j = c.call("GET", "/api/setting")
    assert st == 200 and j["code"] == 0, (st, j)
    return j["result"]


def v1(c, path, headers=None):
    st, _, j = c.call("GET", "/api/v1" + path, headers=headers)
    assert st == 200 and j["code"] == 0, (st, j)
    return j["result"]


def save_server(c, **fields):
    st, _, j = c.call("POST", "/api/server", fields)
    assert st == 200 and j["code"] == 200, (st, j)
    return j["result"]["id"], j["result"]["secret"]


def cookie(c, name):
    for ck in c.jar:
        if ck.name == name:
            return ck.value
    return None


# ---- a minimal RFC 6455 client over a raw socket ----

def ws_open(headers=None):
    """GET /ws with an Upgrade; returns (status, socket, bytes read past the head)."""
    s = socket.create_connection(("127.0.0.1", dash.http_port), timeout=5)
    status, _, buf = ws_handshake(s, dash.http_port, headers)
    return status, s, buf


def ws_status(headers=None):
    status, s, _ = ws_open(headers)
    s.close()
    return status


def ws_frame_with(name, headers=None, timeout=8):
    """Reads /ws text frames until one lists a server called name; returns its names."""
    status, s, buf = ws_open(headers)
    assert status == 101, status
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            op, payload, buf = ws_read_frame(s, buf)
            if op == 0x9:
                ws_send(s, 0xA, payload)
            elif op == 0x1:
                names = [x["Name"] for x in json.loads(payload).get("servers", [])]
                if name in names:
                    return names
        raise AssertionError("no /ws frame listed %r" % name)
    finally:
        ws_send(s, 0x8, struct.pack("!H", 1000))
        s.close()


# ---- 1. CSRF on every mutating route of the router ----

# Pre-auth routes: there is no session yet for a forged request to ride on.
CSRF_EXEMPT = {
    ("POST", "/api/login"): "pre-auth: creates a session, has none to protect (checks Origin itself)",
    ("POST", "/view-password"): "pre-auth: guests prove the view password, no session involved",
}


def router_routes():
    return re.findall(r"http: route (\S+) (\S+)", dash.output())


@tap.test
def every_mutating_route_refuses_cookie_requests_without_csrf_proof():
    routes = router_routes()
    assert len(routes) >= 25, routes
    assert len(set(routes)) == len(routes), routes
    for known in (("POST", "/api/token"), ("DELETE", "/api/token/:id"), ("DELETE", "/api/server/:id"),
                  ("POST", "/api/setting"), ("POST", "/api/v1/server/register"), ("GET", "/ws")):
        assert known in routes, known
    mutating = [r for r in routes if r[0] not in ("GET", "HEAD")]
    for r in CSRF_EXEMPT:
        assert r in mutating, ("stale exemption", r)
    assert any(m == "DELETE" for m, _ in mutating), mutating

    c = admin_client()
    good = c.csrf
    sid, _ = save_server(c, Name="csrf-victim", Tag="csrf-tag")
    st, _, j = c.call("POST", "/api/token", {"Note": "csrf-victim"})
    tid = j["result"]["id"]
    c.csrf = None  # headers are set by hand below
    ids = {"/api/token/": tid, "/api/server/": sid}
    bodies = {
        "/api/logout": {},
        "/api/user/password": {"old": PW, "new": "csrf-pwned-password"},
        "/api/token": {"Note": "csrf-pwned"},
        "/api/v1/server/register": {"Name": "csrf-pwned"},
        "/api/server": {"ID": sid, "Name": "csrf-pwned", "Tag": "csrf-pwned"},
        "/api/batch-delete-server": [sid],
        "/api/batch-update-server-group": {"servers": [sid], "group": "csrf-pwned"},
        "/api/setting": {"sitebrand": "csrf-pwned"},
    }

    def fill(path):
        def sub(m):
            for prefix, v in ids.items():
                if path.startswith(prefix):
                    return str(v)
            return str(sid)
        return re.sub(r":[A-Za-z_]+", sub, re.sub(r"\*[A-Za-z_]+", "x", path))

    def state():
        ss, ts = servers(c), tokens(c)
        return (ss.get(sid, {}).get("name"), ss.get(sid, {}).get("tag"), len(ss), tid in ts,
                len(ts), settings(c)["site_brand"], login_works(PW))

    before = state()
    assert before[:4] == ("csrf-victim", "csrf-tag", before[2], True) and before[6], before
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    attempts = [
        ("no token, no Origin", {}),
        ("a wrong 32-character token", {"X-CSRF-Token": wrong}),
        ("a random 32-character token", {"X-CSRF-Token": "Z" * 32}),
        ("the right token plus one character", {"X-CSRF-Token": good + "x"}),
        ("a foreign Origin", {"Origin": "http://evil.example"}),
        ("Origin: null", {"Origin": "null"}),
        ("an Origin whose host only starts like ours",
         {"Origin": "http://127.0.0.1:%d.evil.example" % dash.http_port}),
    ]
    checked = 0
    for method, pattern in mutating:
        if (method, pattern) in CSRF_EXEMPT:
            continue
        path = fill(pattern)
        want = V0_UNAUTH if pattern.startswith("/api/v1/") else CSRF_FAILED
        want_status = 200 if pattern.startswith("/api/v1/") else 403
        for what, h in attempts:
            st, _, j = c.call(method, path, bodies.get(pattern, {}), headers=h)
            assert (st, j) == (want_status, want), (method, path, what, st, j)
        after = state()
        assert after == before, (method, path, "state changed", before, after)
        checked += 1
    assert checked >= 9, checked

    # Not vacuous: the right token (and a same-origin Origin) do pass, and these
    # requests change the state the refused ones left alone.
    ok = {"X-CSRF-Token": good}
    st, _, j = c.call("POST", "/api/server", {"ID": sid, "Name": "csrf-renamed", "Tag": "csrf-tag"},
                      headers={"Origin": "http://127.0.0.1:%d" % dash.http_port})
    assert j["code"] == 200 and servers(c)[sid]["name"] == "csrf-renamed", j
    st, _, j = c.call("POST", "/api/batch-update-server-group", {"servers": [sid], "group": "g2"},
                      headers=ok)
    assert j["code"] == 200 and servers(c)[sid]["tag"] == "g2", j
    st, _, j = c.call("POST", "/api/v1/server/register", {"Name": "csrf-ok"}, headers=ok)
    assert j["code"] == 200 and len(servers(c)) == before[2] + 1, j
    st, _, j = c.call("POST", "/api/token", {"Note": "csrf-ok"}, headers=ok)
    assert j["code"] == 200 and len(tokens(c)) == before[4] + 1, j
    st, _, j = c.call("DELETE", "/api/token/%d" % tid, headers=ok)
    assert j["code"] == 200 and tid not in tokens(c), j
    st, _, j = c.call("DELETE", "/api/server/%d" % sid, headers=ok)
    assert j["code"] == 200 and sid not in servers(c), j
    st, _, j = c.call("POST", "/api/setting", {"sitebrand": "Lotus"}, headers=ok)
    assert j["code"] == 200, j
    st, _, j = c.call("POST", "/api/logout", {}, headers=ok)
    assert j["code"] == 200, j
    st, _, j = c.call("GET", "/api/me")
    assert j["code"] == 403, j


@tap.test
def login_refuses_foreign_origins_but_not_its_own():
    """Login CSRF: a foreign page must not log the browser into the attacker's account."""
    for origin in ("http://evil.example", "null",
                   "http://127.0.0.1:%d.evil.example" % dash.http_port):
        c = Http(dash.url(""))
        st, _, j = c.call("POST", "/api/login", {"username": "admin", "password": PW},
                          headers={"Origin": origin})
        assert (st, j) == (403, CSRF_FAILED), (origin, st, j)
        assert cookie(c, "nezha-dashboard") is None, origin
    c = Http(dash.url(""))
    st, _, j = c.call("POST", "/api/login", {"username": "admin", "password": PW},
                      headers={"Origin": "http://127.0.0.1:%d" % dash.http_port})
    assert st == 200 and j["code"] == 200, (st, j)


@tap.test
def api_tokens_one_character_off_at_every_position_are_refused():
    c = admin_client()
    st, _, j = c.call("POST", "/api/token", {"Note": "near-miss"})
    token, tid = j["result"]["token"], j["result"]["id"]
    anon = Http(dash.url(""))
    st, _, j = anon.call("GET", "/api/v1/server/list", headers={"Authorization": token})
    assert j["code"] == 0, j
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    for pos in range(len(token)):
        for shift in (1, 31):  # a neighbour and a far character of the token alphabet
            ch = alphabet[(alphabet.index(token[pos]) + shift) % len(alphabet)]
            bad = token[:pos] + ch + token[pos + 1:]
            for h in ({"Authorization": bad}, {"Authorization": "Bearer " + bad}):
                st, _, j = anon.call("GET", "/api/v1/server/list", headers=h)
                assert (st, j) == (200, V0_UNAUTH), (pos, bad, st, j)
    for bad in (token[:-1], token + "x", token.lower() if token != token.lower() else token.upper()):
        st, _, j = anon.call("GET", "/api/v1/server/list", headers={"Authorization": bad})
        assert j == V0_UNAUTH, (bad, j)
    st, _, j = c.call("DELETE", "/api/token/%d" % tid)
    assert j["code"] == 200, j


@tap.test
def admin_list_marks_only_reporting_servers_online():
    from lotus import metadata, stubs
    pb, pbg = stubs()
    c = admin_client()
    quiet, _ = save_server(c, Name="never-reports")
    live, secret = save_server(c, Name="reports-now")
    wait_for(lambda: dash.accepts(secret), timeout=15, what="new secret accepted")
    ch = dash.channel()
    try:
        r = pbg.NezhaServiceStub(ch).ReportSystemState(pb.State(cpu=1.0), metadata=metadata(secret),
                                                       timeout=10)
        assert r.proced is True
    finally:
        ch.close()
    ss = servers(c)
    assert ss[live]["online"] is True and ss[live]["last_active"] > 0, ss[live]
    assert ss[quiet]["online"] is False and ss[quiet]["last_active"] == 0, ss[quiet]
    for sid in (quiet, live):
        st, _, j = c.call("DELETE", "/api/server/%d" % sid)
        assert j["code"] == 200, j


# ---- 2. view password ----

def public(headers=None):
    st, _, j = Http(dash.url("")).call("GET", "/api/public", headers=headers)
    assert st == 200, (st, j)
    return j


@tap.test
def view_password_cookie_is_an_exact_mac():
    c = admin_client()
    try:
        check_view_password(c)
    finally:  # the other tests view as guests
        c.call("POST", "/api/setting", {"viewpassword": "-"})


def check_view_password(c):
    vp_name = settings(c)["cookie_name"] + "-vp"
    st, _, j = c.call("POST", "/api/setting", {"viewpassword": "guest-pass-123"})
    assert j["code"] == 200, j
    assert settings(c)["view_password_set"] is True
    limited = {"code": 403, "message": "访问受限"}
    assert public() == limited
    assert ws_status() == 403
    forged = "%s=%s" % (vp_name, "a" * 64)
    assert public({"Cookie": forged}) == limited
    assert ws_status({"Cookie": forged}) == 403
    # A wrong view password sets no cookie.
    g = Http(dash.url(""))
    for wrong in ("guest-pass-124", "guest-pass-1234", "guest-pass-12", "GUEST-PASS-123", ""):
        st, _, j = g.call("POST", "/view-password", {"password": wrong})
        assert j["code"] == 403 and cookie(g, vp_name) is None, (wrong, j)
    st, _, j = g.call("POST", "/view-password", {"password": "guest-pass-123"})
    assert j["code"] == 200, j
    real = cookie(g, vp_name)
    assert real and re.fullmatch(r"[0-9a-f]{64}", real), real
    assert public({"Cookie": "%s=%s" % (vp_name, real)})["code"] == 0
    assert ws_status({"Cookie": "%s=%s" % (vp_name, real)}) == 101
    for i in range(64):
        ch = "0" if real[i] != "0" else "1"
        bad = real[:i] + ch + real[i + 1:]
        assert public({"Cookie": "%s=%s" % (vp_name, bad)}) == limited, i
    assert ws_status({"Cookie": "%s=%s" % (vp_name, real[:-1] + ("0" if real[-1] != "0" else "1"))}) == 403
    assert public({"Cookie": "%s=%s" % (vp_name, real[:63])}) == limited
    # A new view password invalidates the old cookie.
    st, _, j = c.call("POST", "/api/setting", {"viewpassword": "guest-pass-456"})
    assert j["code"] == 200, j
    assert public({"Cookie": "%s=%s" % (vp_name, real)}) == limited
    # The admin session may always view.
    name = settings(c)["cookie_name"]
    assert ws_status({"Cookie": "%s=%s" % (name, cookie(c, name))}) == 101
    st, _, j = c.call("POST", "/api/setting", {"viewpassword": "-"})
    assert j["code"] == 200 and settings(c)["view_password_set"] is False, j
    assert public()["code"] == 0


# ---- 3. password change ----

NEW_PW = "guard-new-password-1"


@tap.test
def password_change_needs_the_right_old_password():
    try:
        check_password_change(NEW_PW)
    finally:  # the other tests log in with PW
        if not login_works(PW) and login_works(NEW_PW):
            admin_client(NEW_PW).call("POST", "/api/user/password", {"old": NEW_PW, "new": PW})


def check_password_change(new):
    c = admin_client()
    st, _, j = c.call("POST", "/api/user/password", {"old": PW + "x", "new": new})
    assert j["code"] == 400 and "旧密码错误" in j["message"], j
    assert login_works(PW) and not login_works(new)
    st, _, j = c.call("POST", "/api/user/password", {"old": PW, "new": new})
    assert j["code"] == 200, j
    assert login_works(new) and not login_works(PW)
    st, _, j = c.call("POST", "/api/user/password", {"old": new, "new": PW})
    assert j["code"] == 200, j
    assert login_works(PW)


# ---- 4. batch delete ----

@tap.test
def batch_delete_removes_servers_everywhere_and_only_those():
    a, sa = dash.add_server("bd-a")
    b, sb = dash.add_server("bd-b")
    k, sk = dash.add_server("bd-keep")
    c = admin_client()
    wait_for(lambda: {a, b, k} <= set(servers(c)), what="CLI servers live")
    st, _, j = c.call("POST", "/api/batch-delete-server", [a, b])
    assert st == 200 and j == {"code": 200, "message": "success"}, j
    ss = servers(c)
    assert a not in ss and b not in ss and k in ss, ss.keys()
    listed = [s["id"] for s in v1(c, "/server/list")]
    assert a not in listed and b not in listed and k in listed, listed
    assert not dash.accepts(sa) and not dash.accepts(sb)
    assert dash.accepts(sk)
    stored = [s["id"] for s in dash.list_servers()]
    assert a not in stored and b not in stored and k in stored, stored
    # Still gone after the next database sync of the running dashboard.
    b2, _ = dash.add_server("bd-sync-marker")
    wait_for(lambda: b2 in servers(c), what="sync marker live")
    ss = servers(c)
    assert a not in ss and b not in ss and k in ss, ss.keys()


# ---- 5. server edit ----

@tap.test
def editing_a_server_keeps_its_secret_and_changes_the_fields():
    sid, secret = dash.add_server("edit-me", "--tag", "before")
    c = admin_client()
    wait_for(lambda: sid in servers(c), what="CLI server live")
    assert servers(c)[sid]["secret"] == secret
    st, _, j = c.call("POST", "/api/server", {
        "ID": sid, "Name": "edited", "Tag": "after", "Note": "private note", "PublicNote": "pub note",
        "DisplayIndex": 7, "HideForGuest": True, "Secret": "overwritten-by-the-form-000000"})
    assert j["code"] == 200 and j["result"] == {"id": sid, "secret": secret}, j
    s = servers(c)[sid]
    assert s["secret"] == secret, s
    assert (s["name"], s["tag"], s["note"], s["public_note"], s["display_index"], s["hide_for_guest"]) == \
        ("edited", "after", "private note", "pub note", 7, True), s
    assert dash.accepts(secret)
    stored = [x for x in dash.list_servers() if x["id"] == sid][0]
    assert stored["name"] == "edited" and stored["tag"] == "after", stored
    # The database holds the same secret: a reload from it (the sync after a CLI change) keeps it.
    marker, _ = dash.add_server("edit-sync-marker")
    wait_for(lambda: marker in servers(c), what="sync marker live")
    assert servers(c)[sid]["secret"] == secret and dash.accepts(secret)
    # Editing an unknown id creates nothing.
    n = len(servers(c))
    st, _, j = c.call("POST", "/api/server", {"ID": 999999, "Name": "ghost"})
    assert j["code"] == 400 and len(servers(c)) == n, j


# ---- 7. /api/v1 selection ----

@tap.test
def v1_tag_is_exact_and_id_lists_keep_order_and_duplicates():
    eu1, _ = dash.add_server("t-eu-1", "--tag", "eu")
    euw, _ = dash.add_server("t-eu-west", "--tag", "eu-west")
    e, _ = dash.add_server("t-e", "--tag", "e")
    eu2, _ = dash.add_server("t-eu-2", "--tag", "eu")
    up, _ = dash.add_server("t-EU", "--tag", "EU")
    c = admin_client()
    wait_for(lambda: {eu1, euw, e, eu2, up} <= set(servers(c)), what="CLI servers live")
    for path in ("/server/list", "/server/details"):
        assert [s["id"] for s in v1(c, path + "?tag=eu")] == [eu1, eu2], path
        assert [s["id"] for s in v1(c, path + "?tag=e")] == [e], path
        assert [s["id"] for s in v1(c, path + "?tag=eu-west")] == [euw], path
        assert [s["id"] for s in v1(c, path + "?tag=EU")] == [up], path
        assert v1(c, path + "?tag=eu-") == [], path
    for order in ([e, eu1, euw], [euw, eu1, e, eu1], [eu2, e, eu2, euw, eu1]):
        q = ",".join(map(str, order))
        assert [s["id"] for s in v1(c, "/server/details?id=" + q)] == order, q
    # Unknown and unparsable ids are skipped, the rest keep their order.
    assert [s["id"] for s in v1(c, "/server/details?id=%d,999999,x,%d" % (euw, eu1))] == [euw, eu1]


# ---- 8. register's default name ----

@tap.test
def register_default_name_follows_forwarding_headers():
    c = admin_client()
    st, _, j = c.call("POST", "/api/token", {"Note": "register-names"})
    token = j["result"]["token"]
    bot = Http(dash.url(""))

    def registered_name(headers):
        h = {"Authorization": token}
        h.update(headers)
        st, _, j = bot.call("POST", "/api/v1/server/register", {"Tag": "names"}, headers=h)
        assert st == 200 and j["code"] == 200, j
        return [s for s in servers(c).values() if s["secret"] == j["secret"]][0]["name"]

    def expect(headers, want):
        got = registered_name(headers)
        assert got == want, (headers, got, want)
    expect({}, "127.0.0.1")  # the peer address
    expect({"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9")
    # A list: its first element (the original client), trimmed.
    expect({"X-Forwarded-For": "203.0.113.10, 10.0.0.1, 10.0.0.2"}, "203.0.113.10")
    expect({"X-Forwarded-For": " 203.0.113.11 "}, "203.0.113.11")
    expect({"X-Real-IP": "198.51.100.7"}, "198.51.100.7")
    # X-Forwarded-For wins over X-Real-IP.
    expect({"X-Forwarded-For": "203.0.113.12", "X-Real-IP": "198.51.100.8"}, "203.0.113.12")
    # A Name in the body wins over both.
    st, _, j = bot.call("POST", "/api/v1/server/register", {"Name": "explicit-name"},
                        headers={"Authorization": token, "X-Forwarded-For": "203.0.113.13"})
    assert [s for s in servers(c).values() if s["secret"] == j["secret"]][0]["name"] == "explicit-name"


# ---- 9. hidden servers on /ws ----

@tap.test
def hidden_servers_only_in_admin_websocket_frames():
    c = admin_client()
    save_server(c, Name="ws-visible", HideForGuest=False)
    save_server(c, Name="ws-hidden", HideForGuest=True)
    names = ws_frame_with("ws-visible")
    assert "ws-hidden" not in names, names
    sess = "nezha-dashboard=" + cookie(c, "nezha-dashboard")
    names = ws_frame_with("ws-visible", {"Cookie": sess})
    assert "ws-hidden" in names, names


# ---- 6. settings (last: it changes the cookie name and restarts) ----

@tap.test
def every_setting_round_trips_and_survives_a_restart():
    c = admin_client()
    before = settings(c)
    want = {"site_brand": "Guard Brand 7", "language": "es-ES", "view_password_set": True,
            "grpc_host": "agents.guard.example", "grpc_port": 40123, "tls": True,
            "cookie_name": "guard-cookie"}
    assert set(before) == set(want), before
    for k, v in want.items():
        assert before[k] != v, (k, before)
    st, _, j = c.call("POST", "/api/setting", {
        "sitebrand": "Guard Brand 7", "language": "es-ES", "viewpassword": "guard-view-pw",
        "grpchost": "agents.guard.example", "grpcport": 40123, "tls": True,
        "cookiename": "guard-cookie"})
    assert j["code"] == 200, j
    # The session cookie is now called guard-cookie: log in again.
    c = admin_client()
    assert cookie(c, "guard-cookie")
    assert settings(c) == want, settings(c)
    assert dash.stop() == 0
    dash.start()
    assert settings(c) == want, settings(c)
    with open(os.path.join(dash.data, "config.yaml"), encoding="utf-8") as f:
        yaml = f.read()
    for line in ('language: "es-ES"', 'grpchost: "agents.guard.example"', "proxygrpcport: 40123",
                 "tls: true", 'brand: "Guard Brand 7"', 'cookiename: "guard-cookie"',
                 'viewpassword: "guard-view-pw"'):
        assert re.search(r"(?m)^\s*" + re.escape(line) + r"\s*$", yaml), (line, yaml)
    g = Http(dash.url(""))
    st, _, j = g.call("POST", "/view-password", {"password": "guard-view-pw"})
    assert j["code"] == 200 and cookie(g, "guard-cookie-vp"), j
    # Empty fields leave settings alone.
    st, _, j = c.call("POST", "/api/setting", {})
    assert j["code"] == 200 and settings(c) == want, j


@tap.test
def dashboard_stops_cleanly_without_sanitizer_reports():
    assert dash.stop() == 0
    out = dash.output()
    for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert bad not in out, bad
    dash.cleanup()


tap.run()
