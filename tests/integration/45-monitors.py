"""Service monitors (issue #14) end to end on loopback: monitors created through
POST /api/monitor are dispatched as v0 tasks to an independent python3-grpcio agent that
probes like a v0 agent (HTTP GET, TCP connect, ICMP echo) and answers with ReportTask;
the status moves Good -> Down -> Good when the target stops and starts; a round nobody
answers counts as a failure; /api/v1/monitor/<server id> (v0's shape, its 400/404/403
replies), /api/service and /api/network; Lotus-only monitors never reach a v0 agent;
validation errors; delete. The real lotus-agent's probes are covered in 20-agent.py and,
against this dashboard, in the last test here."""
import http.server
import json
import os
import queue
import socket
import subprocess
import tempfile
import threading
import time

import grpc

from lotus import AGENT, Dashboard, Http, Tap, metadata, stop_process, stubs, wait_for

pb, pbg = stubs()
tap = Tap()
dash = Dashboard()
dash.start()
wait_for(dash.admin_password, what="initial admin password printed")
PW = dash.admin_password()
SID, SECRET = dash.add_server("fra", "--tag", "eu")
HID, HSECRET = dash.add_server("hidden-one", "--hide-for-guest")


def admin():
    c = Http(dash.url(""))
    st, j = c.login("admin", PW)
    assert st == 200 and j["code"] == 200, (st, j)
    return c


ADMIN = admin()


class Target:
    """A local HTTP server (GET / -> 200, /missing -> 404) and a TCP listener that can be
    stopped and started on the same port."""

    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                code = 404 if self.path == "/missing" else 200
                body = b"hello lotus" if code == 200 else b"nope"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.http_port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.tcp = None
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.tcp_port = s.getsockname()[1]
        s.close()
        self.tcp_start()

    def tcp_start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.tcp_port))
        s.listen(64)
        self.tcp = s

        def accept():
            while True:
                try:
                    c, _ = s.accept()
                    c.close()
                except OSError:
                    return
        threading.Thread(target=accept, daemon=True).start()

    def tcp_stop(self):
        self.tcp.close()
        self.tcp = None


TARGET = Target()

# An HTTPS target with a throw-away certificate that expires in 3 days (the agent trusts it
# through SSL_CERT_FILE): the certificate's issuer and expiry reach /api/service, and the
# "expires within seven days" event is written.
CERT_DIR = tempfile.mkdtemp(prefix="lotus-mon-tls-")
CERT, KEY = os.path.join(CERT_DIR, "cert.pem"), os.path.join(CERT_DIR, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3", "-subj", "/CN=lotus-test",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", KEY, "-out", CERT],
               check=True, capture_output=True)


def https_target():
    import ssl

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


HTTPS_PORT = https_target()


class V0Agent:
    """An independent Nezha v0 agent: ReportSystemInfo, a RequestTask stream, State every
    second, and the probes of task types 1-3 answered as v0.20.5 does (docs/protocol.md §3.5).
    Tasks of monitors listed in `ignore` are received but never answered."""

    def __init__(self, secret):
        self.secret = secret
        self.ch = dash.channel()
        self.stub = pbg.NezhaServiceStub(self.ch)
        self.tasks = []
        self.ignore = set()
        self.ignore_data = set()  # targets whose tasks are received but never answered
        self.lock = threading.Lock()
        self.stop = threading.Event()
        md = metadata(secret)
        self.stub.ReportSystemInfo(pb.Host(platform="debian", version="0.20.5"), metadata=md,
                                   timeout=5)
        self.stream = self.stub.RequestTask(pb.Host(), metadata=md)
        threading.Thread(target=self._tasks, daemon=True).start()
        threading.Thread(target=self._states, daemon=True).start()

    def _states(self):
        while not self.stop.wait(1.0):
            try:
                self.stub.ReportSystemState(pb.State(cpu=1.0), metadata=metadata(self.secret),
                                            timeout=5)
            except grpc.RpcError:
                pass

    def _tasks(self):
        try:
            for t in self.stream:
                with self.lock:
                    self.tasks.append((t.id, t.type, t.data))
                if t.type in (1, 2, 3) and t.id not in self.ignore and t.data not in self.ignore_data:
                    threading.Thread(target=self._probe, args=(t,), daemon=True).start()
        except grpc.RpcError:
            pass

    def _probe(self, t):
        start = time.monotonic()
        ok, data = False, ""
        try:
            if t.type == 1:
                import urllib.error
                import urllib.request

                class NoRedirect(urllib.request.HTTPRedirectHandler):
                    def redirect_request(self, *a, **k):
                        return None
                op = urllib.request.build_opener(NoRedirect)
                try:
                    with op.open(t.data, timeout=30) as r:
                        r.read()
                        ok = True
                except urllib.error.HTTPError as e:
                    e.read()
                    ok = 200 <= e.code <= 399
                    if not ok:
                        data = "\n应用错误：%d %s" % (e.code, e.reason)
            elif t.type == 3:
                host, port = t.data.rsplit(":", 1)
                with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
                    ok = True
            elif t.type == 2:
                ok = True  # loopback always answers; the dashboard side is what is tested
        except Exception as e:  # noqa: BLE001 - the error text is the result, as in v0
            ok, data = False, str(e)
        delay = (time.monotonic() - start) * 1000
        try:
            self.stub.ReportTask(pb.TaskResult(id=t.id, type=t.type, delay=delay, data=data,
                                               successful=ok),
                                 metadata=metadata(self.secret), timeout=5)
        except grpc.RpcError:
            pass

    def got(self, monitor_id):
        with self.lock:
            return [x for x in self.tasks if x[0] == monitor_id]

    def close(self):
        self.stop.set()
        self.stream.cancel()
        self.ch.close()


AGENT0 = V0Agent(SECRET)


def save(body):
    st, _, j = ADMIN.call("POST", "/api/monitor", body)
    assert st == 200, (st, j)
    return j


def create(**kw):
    body = {"ID": 0, "Duration": 1, "EnableShowInService": "on", "SkipServersRaw": "[]"}
    body.update(kw)
    j = save(body)
    assert j["code"] == 200, j
    return j["result"]["ID"]


def monitors():
    st, _, j = ADMIN.call("GET", "/api/monitor")
    assert st == 200 and j["code"] == 0, j
    return {m["ID"]: m for m in j["result"]}


def status(mid):
    return monitors()[mid]["Status"]


STATE = {}


@tap.test
def invalid_monitors_are_refused_with_v0s_error_shape():
    bad = [
        ({"Name": "x", "Type": 9, "Target": "a"}, "Type"),
        ({"Name": "x", "Type": 1, "Target": "ftp://a"}, "Target"),
        ({"Name": "x", "Type": 3, "Target": "no-port"}, "Target"),
        ({"Name": "", "Type": 2, "Target": "127.0.0.1"}, "Name"),
        ({"Name": "x", "Type": 2, "Target": "127.0.0.1", "SkipServersRaw": "[1,"}, "SkipServersRaw"),
        ({"Name": "x", "Type": 2, "Target": "127.0.0.1", "Cover": 5}, "Cover"),
        ({"Name": "x", "Type": 2, "Target": "127.0.0.1", "Duration": -1}, "Duration"),
        ({"Name": "x", "Type": 1, "Target": "http://a/", "ExpectStatus": "300-200"}, "ExpectStatus"),
        ({"Name": "x", "Type": 1, "Target": "http://a/", "Keyword": "a\nb"}, "Keyword"),
        ({"Name": "x", "Type": 102, "Target": "localhost", "DNSExpect": "nope"}, "DNSExpect"),
        ({"Name": "x", "Type": 2, "Target": "127.0.0.1", "MaxLatency": "fast"}, "MaxLatency"),
    ]
    for body, word in bad:
        j = save(dict(body, ID=0))
        assert j["code"] == 400 and j["message"].startswith("请求错误：") and word in j["message"], (body, j)
    st, _, j = ADMIN.call("POST", "/api/monitor", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert j["code"] == 400, j
    j = save({"ID": 999, "Name": "x", "Type": 2, "Target": "127.0.0.1"})
    assert j["code"] == 400, j
    assert monitors() == {}
    # guests and API-less callers: v0's login reply
    st, _, j = Http(dash.url("")).call("GET", "/api/monitor")
    assert j == {"code": 403, "message": "访问此接口需要登录"}, j


@tap.test
def monitors_are_dispatched_and_reach_good():
    STATE["http"] = create(Name="web", Type=1, Target=" http://127.0.0.1:%d/ " % TARGET.http_port)
    STATE["tcp"] = create(Name="tcp", Type=3, Target="127.0.0.1:%d" % TARGET.tcp_port)
    STATE["404"] = create(Name="missing", Type=1,
                          Target="http://127.0.0.1:%d/missing" % TARGET.http_port)
    STATE["dns"] = create(Name="dns", Type=102, Target="localhost", DNSRecordType="a")
    STATE["kw"] = create(Name="keyword", Type=1, Target="http://127.0.0.1:%d/" % TARGET.http_port,
                         Keyword="lotus")
    # A monitor fra receives but never answers; its 15 s answer window runs during the next tests.
    silent_target = "localhost:%d" % TARGET.tcp_port
    AGENT0.ignore_data.add(silent_target)
    STATE["silent"] = create(Name="silent", Type=3, Target=silent_target, Duration=2)
    m = monitors()
    assert m[STATE["http"]]["Target"] == "http://127.0.0.1:%d/" % TARGET.http_port  # trimmed
    assert m[STATE["dns"]]["DNSRecordType"] == "A" and m[STATE["http"]]["NotificationTag"] == "default"
    wait_for(lambda: status(STATE["http"]) == "good", timeout=20, what="HTTP monitor good")
    wait_for(lambda: status(STATE["tcp"]) == "good", timeout=20, what="TCP monitor good")
    wait_for(lambda: status(STATE["404"]) == "down", timeout=20, what="404 monitor down")
    t = AGENT0.got(STATE["http"])
    assert t and t[0][1] == 1 and t[0][2] == "http://127.0.0.1:%d/" % TARGET.http_port, t
    assert AGENT0.got(STATE["tcp"])[0][1] == 3
    # Lotus-only monitors are never sent to a v0 agent
    assert AGENT0.got(STATE["dns"]) == [] and AGENT0.got(STATE["kw"]) == []
    assert monitors()[STATE["dns"]]["Status"] == "nodata"


@tap.test
def tcp_target_down_then_up_moves_the_status():
    TARGET.tcp_stop()
    try:
        wait_for(lambda: status(STATE["tcp"]) == "down", timeout=40, what="TCP monitor down")
    finally:
        TARGET.tcp_start()
    wait_for(lambda: status(STATE["tcp"]) == "good", timeout=60, what="TCP monitor good again")
    out = dash.output()
    assert "[Down] tcp Reporter: fra" not in out  # Notify is off: no event text
    m = monitors()[STATE["tcp"]]
    assert m["CurrentDown"] >= 1 and m["CurrentUp"] * 100 // (m["CurrentUp"] + m["CurrentDown"]) > 95, m


@tap.test
def v1_monitor_rows_of_a_server():
    def rows():
        st, _, j = Http(dash.url("")).call("GET", "/api/v1/monitor/%d" % SID)
        assert st == 200 and j["code"] == 0 and j["message"] == "success", (st, j)
        return j["result"]
    r = wait_for(lambda: [x for x in (rows() or []) if x["monitor_id"] == STATE["tcp"]], timeout=20,
                 what="rows of the TCP monitor")
    r = rows()
    ids = {x["monitor_id"] for x in r}
    # HTTP monitors keep no per-server rows (v0); the silent TCP monitor may have some by now
    assert STATE["tcp"] in ids and not ids & {STATE["http"], STATE["404"], STATE["kw"], STATE["dns"]}, r
    item = [x for x in r if x["monitor_id"] == STATE["tcp"]][0]
    assert list(item.keys()) == ["monitor_id", "server_id", "monitor_name", "server_name",
                                 "created_at", "avg_delay"], item
    assert item["server_id"] == SID and item["monitor_name"] == "tcp" and item["server_name"] == "fra"
    assert len(item["created_at"]) == len(item["avg_delay"]) >= 1
    assert all(t % 60000 == 0 for t in item["created_at"]), item["created_at"]
    assert item["created_at"] == sorted(item["created_at"])
    assert all(0 <= d < 1000 for d in item["avg_delay"]) and any(d > 0 for d in item["avg_delay"]), item
    # v0's replies
    g = Http(dash.url(""))
    st, _, j = g.call("GET", "/api/v1/monitor/abc")
    assert (st, j) == (400, {"code": 400, "message": "id参数错误"}), (st, j)
    st, _, j = g.call("GET", "/api/v1/monitor/424242")
    assert (st, j) == (404, {"code": 404, "message": "id不存在"}), (st, j)
    st, _, j = g.call("GET", "/api/v1/monitor/%d" % HID)
    assert (st, j) == (403, {"code": 403, "message": "需要认证"}), (st, j)
    st, _, j = ADMIN.call("GET", "/api/v1/monitor/%d" % HID)
    assert st == 200 and j == {"code": 0, "message": "success", "result": None}, j
    st, _, tok = ADMIN.call("POST", "/api/token", {"note": "mon"})
    token = tok["result"]["token"]
    st, _, j = g.call("GET", "/api/v1/monitor/%d" % HID, headers={"Authorization": token})
    assert st == 200 and j["result"] is None, j
    # the bytes: `"result":null`, not `[]` (nezha-dash reads null as "no data")
    import urllib.request
    req = urllib.request.Request(dash.url("/api/v1/monitor/%d" % HID), headers={"Authorization": token})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.read() == b'{"code":0,"message":"success","result":null}'


@tap.test
def service_and_network_pages_data():
    st, _, j = Http(dash.url("")).call("GET", "/api/service")
    assert st == 200 and j["code"] == 0, j
    by = {x["id"]: x for x in j["result"]}
    assert set(by) == set(STATE.values()), by.keys()
    web = by[STATE["http"]]
    assert web["name"] == "web" and web["status"] == "good" and len(web["days"]) == 30
    assert web["days"][-1]["up"] > 0 and 0 < web["uptime_30d"] <= 100, web
    assert web["days"][0]["day"] < web["days"][-1]["day"]
    assert by[STATE["dns"]]["uptime_30d"] is None and by[STATE["dns"]]["status"] == "nodata"
    st, _, j = Http(dash.url("")).call("GET", "/api/network")
    assert st == 200 and j["code"] == 0, j
    assert [s["id"] for s in j["result"]["servers"]] == [SID] and j["result"]["max_tcp_ping"] == 1000, j


@tap.test
def unanswered_rounds_count_as_failures():
    mid = STATE["silent"]  # created in monitors_are_dispatched_and_reach_good
    assert AGENT0.got(mid), "the silent monitor was never dispatched"
    # TCP answers are due within 10 s + 5 s; after that the round is a failure of fra
    wait_for(lambda: monitors()[mid]["CurrentDown"] >= 1, timeout=30, what="a timed-out round")
    assert monitors()[mid]["CurrentUp"] == 0
    assert monitors()[mid]["LastError"] == "no result within 15 s", monitors()[mid]


@tap.test
def edit_keeps_and_cover_excludes():
    mid = STATE["tcp"]
    m = monitors()[mid]
    body = {k: m[k] for k in ("ID", "Name", "Type", "Target", "Duration", "SkipServersRaw")}
    body.update(Cover=1, SkipServersRaw="[%d]" % HID)  # only the hidden server, which has no agent
    j = save(body)
    assert j["code"] == 200 and j["result"]["ID"] == mid, j
    # the next rounds go to nobody: a newer monitor keeps reaching fra while this one does not
    n = len(AGENT0.got(mid))
    seen = len(AGENT0.got(STATE["http"]))
    wait_for(lambda: len(AGENT0.got(STATE["http"])) >= seen + 3, timeout=20, what="3 more rounds")
    assert len(AGENT0.got(mid)) <= n + 1, (n, len(AGENT0.got(mid)))
    # a late answer of fra to a round sent before the edit is not taken (ReportTask returns after
    # the dashboard has handled the result, so the monitor's state tells at once)
    before = monitors()[mid]
    for _ in range(4):
        AGENT0.stub.ReportTask(pb.TaskResult(id=mid, type=3, delay=1.5, successful=True),
                               metadata=metadata(SECRET), timeout=5)
    after = monitors()[mid]
    assert (after["LastResultAt"], after["CurrentUp"]) == (before["LastResultAt"], before["CurrentUp"]), (before, after)
    # the rows fra had for it are deleted on save (v0)
    st, _, j = Http(dash.url("")).call("GET", "/api/v1/monitor/%d" % SID)
    assert all(x["monitor_id"] != mid for x in (j["result"] or [])), j


@tap.test
def delete_removes_monitor_and_rows():
    global ADMIN
    for key in ("silent", "404"):
        st, _, j = ADMIN.call("DELETE", "/api/monitor/%d" % STATE[key])
        assert st == 200 and j["code"] == 200, j
    assert STATE["silent"] not in monitors() and STATE["404"] not in monitors()
    st, _, j = ADMIN.call("DELETE", "/api/monitor/%d" % STATE["silent"])
    assert j["code"] == 400, j
    st, _, j = ADMIN.call("DELETE", "/api/monitor/0")
    assert j == {"code": 400, "message": "错误的 Server ID"}, j
    # the definitions survive a restart
    dash.stop()
    dash.start()
    ADMIN = admin()
    assert set(monitors()) == {STATE["http"], STATE["tcp"], STATE["dns"], STATE["kw"]}


@tap.test
def real_lotus_agent_runs_every_kind_of_probe():
    lid, lsecret = dash.add_server("lotus-box")
    log = tempfile.NamedTemporaryFile(prefix="lotus-agent-", suffix=".log", delete=False)
    env = dict(os.environ, LOTUS_AGENT_RETRY_MS="500", SSL_CERT_FILE=CERT)
    agent = subprocess.Popen([AGENT, "-s", "127.0.0.1:%d" % dash.grpc_port, "-p", lsecret,
                              "--ip", "203.0.113.9", "--report-delay", "1"],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        only = "[%d]" % lid
        ids = {
            "tcp": create(Name="l-tcp", Type=3, Target="127.0.0.1:%d" % TARGET.tcp_port,
                          Cover=1, SkipServersRaw=only),
            "kw": create(Name="l-kw", Type=1, Target="http://127.0.0.1:%d/" % TARGET.http_port,
                         Keyword="lotus", ExpectStatus="200-204", Cover=1, SkipServersRaw=only),
            "absent": create(Name="l-absent", Type=1, Keyword="lotus", KeywordAbsent="on",
                             Target="http://127.0.0.1:%d/" % TARGET.http_port, Cover=1,
                             SkipServersRaw=only),
            "dns": create(Name="l-dns", Type=102, Target="localhost", DNSRecordType="A",
                          DNSExpect="127.0.0.1", Cover=1, SkipServersRaw=only),
            "icmp": create(Name="l-icmp", Type=2, Target="127.0.0.1", Cover=1, SkipServersRaw=only),
            "https": create(Name="l-https", Type=1, Target="https://127.0.0.1:%d/" % HTTPS_PORT,
                            Notify="on", Cover=1, SkipServersRaw=only),
        }
        wait_for(lambda: all(monitors()[ids[k]]["LastResultAt"] > 0 for k in ids), timeout=40,
                 what="results of the real agent for every monitor")
        m = monitors()
        assert m[ids["tcp"]]["Status"] == "good", m[ids["tcp"]]
        assert m[ids["kw"]]["Status"] == "good", m[ids["kw"]]["LastError"]
        assert m[ids["dns"]]["Status"] == "good", m[ids["dns"]]
        assert m[ids["absent"]]["Status"] == "down", m[ids["absent"]]  # the keyword is there
        assert m[ids["https"]]["Status"] == "good", m[ids["https"]]["LastError"]
        st, _, j = Http(dash.url("")).call("GET", "/api/service")
        ssl_info = {x["id"]: x for x in j["result"]}[ids["https"]]["ssl"]
        assert ssl_info["issuer"] == "lotus-test", ssl_info
        left = ssl_info["expires_at"] / 1000 - time.time()
        assert 2 * 86400 < left < 3 * 86400 + 60, ssl_info
        wait_for(lambda: "[SSL] l-https The SSL certificate will expire within seven days" in dash.output(),
                 timeout=10, what="the certificate-expiry event in the log")
        # ICMP needs a datagram or raw socket; either way a result arrived and was judged
        assert m[ids["icmp"]]["Status"] in ("good", "down"), m[ids["icmp"]]
        # the agent's latency rows under the v0 route
        st, _, j = Http(dash.url("")).call("GET", "/api/v1/monitor/%d" % lid)

        def rows():
            st, _, j = Http(dash.url("")).call("GET", "/api/v1/monitor/%d" % lid)
            return j["result"] and [x for x in j["result"] if x["monitor_id"] == ids["tcp"]]
        r = wait_for(rows, timeout=20, what="per-server rows of the real agent")
        assert r[0]["server_name"] == "lotus-box" and r[0]["avg_delay"][0] > 0, r
        # the v0 agent got none of them (cover 1 lists only lotus-box)
        assert all(AGENT0.got(i) == [] for i in ids.values())
    finally:
        stop_process(agent, log.name, "lotus-agent")
        os.unlink(log.name)


def final():
    AGENT0.close()
    import shutil
    shutil.rmtree(CERT_DIR, ignore_errors=True)
    dash.cleanup()


tap.run(final=final)
