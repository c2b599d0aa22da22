"""GET /metrics (issue #18) against Debian's real Prometheus server on loopback: a
lotus-dashboard with independent python3-grpcio agents reporting known CPU values (one of
them hidden, one server never reporting); Prometheus scrapes /metrics every second with an
API token (`authorization: credentials:`), and its query API returns, for every reporting
server, the CPU value /api/v1/server/details shows; `promtool check metrics` finds nothing
to lint in a scrape; no token -> 401 with a JSON body; gzip is negotiated; with
`metrics.public: true` in config.yaml the route is open and leaves hidden servers out, while
a token still sees them. prometheus and promtool come from scripts/deps.sh: a missing binary
fails the test."""
import gzip
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import grpc

from lotus import Dashboard, Http, Tap, free_port, metadata, stubs, wait_for

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
CPU = {"fra": 37.5, "ams \"2\" \\ x": 62.25, "hid": 12.0}  # names with `"` and `\`

pb, pbg = stubs()
tap = Tap()
dash = Dashboard()
dash.start()
wait_for(dash.admin_password, what="initial admin password printed")
IDS = {}
SECRETS = {}
for name in CPU:
    extra = ("--hide-for-guest",) if name == "hid" else ()
    IDS[name], SECRETS[name] = dash.add_server(name, *extra)
NEVER_ID, _ = dash.add_server("never\nreported")
r = dash.cli("token", "add", "--note", "prometheus")
assert r.returncode == 0, r.stderr
TOKEN = json.loads(r.stdout)["token"]
wait_for(lambda: Http(dash.url("")).call("GET", "/api/v1/server/list",
                                         headers={"Authorization": TOKEN})[2].get("code") == 0,
         timeout=5, what="CLI token accepted")


class Agent:
    """A v0 agent: ReportSystemInfo once, then State(cpu) every second (grpcio, not Lotus)."""

    def __init__(self, secret, cpu):
        self.ch = dash.channel()
        self.stub = pbg.NezhaServiceStub(self.ch)
        self.secret, self.cpu = secret, cpu
        self.stop = threading.Event()
        self.stub.ReportSystemInfo(pb.Host(platform="debian", platform_version="12",
                                           arch="x86_64", version="0.20.5", mem_total=1 << 30),
                                   metadata=metadata(secret), timeout=5)
        self.report()
        threading.Thread(target=self._loop, daemon=True).start()

    def report(self):
        self.stub.ReportSystemState(pb.State(cpu=self.cpu, mem_used=1 << 20,
                                             net_in_transfer=123456),
                                    metadata=metadata(self.secret), timeout=5)

    def _loop(self):
        while not self.stop.wait(1.0):
            try:
                self.report()
            except grpc.RpcError:
                pass

    def close(self):
        self.stop.set()
        self.ch.close()


AGENTS = [Agent(SECRETS[n], CPU[n]) for n in CPU]


def get(path, headers=None, raw=False):
    req = urllib.request.Request(dash.url(path), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def details():
    st, _, j = Http(dash.url("")).call("GET", "/api/v1/server/details",
                                       headers={"Authorization": TOKEN})
    assert st == 200 and j["code"] == 0, (st, j)
    return {s["id"]: s for s in j["result"]}


class Prometheus:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="lotus-prom-")
        self.port = free_port()
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: lotus\n"
                    "    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n"
                    "    metrics_path: /metrics\n"
                    "    authorization:\n"
                    "      credentials: %s\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % (TOKEN, dash.http_port))
        self.log_path = os.path.join(self.tmp, "prometheus.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=60, step=0.2, what="prometheus /-/ready")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited: %s" % open(self.log_path).read()[-2000:])
        try:
            with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, q):
        with urllib.request.urlopen(self.url("/api/v1/query?query=" + urllib.parse.quote(q)),
                                    timeout=5) as r:
            j = json.loads(r.read())
        assert j["status"] == "success", j
        return j["data"]["result"]

    def targets(self):
        with urllib.request.urlopen(self.url("/api/v1/targets"), timeout=5) as r:
            return json.loads(r.read())["data"]["activeTargets"]

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@tap.test
def binaries_from_deps_are_present():
    for b in (PROMETHEUS, PROMTOOL):
        assert os.access(b, os.X_OK), "%s missing: run scripts/deps.sh (package prometheus)" % b


@tap.test
def no_token_is_401_with_json_body():
    for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "wrong"}):
        st, hdrs, body = get("/metrics", h)
        assert st == 401, (h, st, body)
        j = json.loads(body)
        assert j["code"] == 401 and j["message"], j
        assert hdrs.get("WWW-Authenticate", "").startswith("Bearer"), hdrs


@tap.test
def token_scrape_passes_promtool_and_has_every_reporting_server():
    for h in ({"Authorization": "Bearer " + TOKEN}, {"Authorization": TOKEN}):
        st, hdrs, body = get("/metrics", h)
        assert st == 200, (st, body)
        assert hdrs["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", hdrs
    text = body.decode()
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                       timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), (r.stdout,
                                                                                 r.stderr)
    for bad in ("null", "NaN", "Inf"):
        assert bad not in text, bad
    for name in CPU:
        assert 'lotus_server_online{id="%d",' % IDS[name] in text, name
    assert 'name="ams \\"2\\" \\\\ x"' in text
    assert 'lotus_server_online{id="%d",name="never\\nreported",tag=""} 0' % NEVER_ID in text
    assert 'lotus_server_cpu_usage_ratio{id="%d",' % NEVER_ID not in text
    assert "lotus_reports_total " in text and "process_resident_memory_bytes " in text


@tap.test
def gzip_is_negotiated():
    st, hdrs, body = get("/metrics", {"Authorization": TOKEN, "Accept-Encoding": "gzip"})
    assert st == 200 and hdrs.get("Content-Encoding") == "gzip", hdrs
    assert b"lotus_server_cpu_usage_ratio" in gzip.decompress(body)
    # the slot kept only the compressed form: a client without gzip gets a fresh, whole render
    st, hdrs, body = get("/metrics", {"Authorization": TOKEN})
    assert st == 200 and hdrs.get("Content-Encoding") is None and body.startswith(b"# HELP")
    assert b"lotus_server_cpu_usage_ratio" in body and body.endswith(b"\n"), body[-200:]
    st, hdrs, body = get("/metrics", {"Authorization": TOKEN, "Accept-Encoding": "gzip"})
    assert st == 200 and hdrs.get("Content-Encoding") == "gzip", hdrs
    assert b"process_start_time_seconds" in gzip.decompress(body)


@tap.test
def prometheus_scrapes_with_token_and_query_matches_api():
    prom = Prometheus()
    try:
        def all_present():
            res = prom.query("lotus_server_cpu_usage_ratio")
            return len({x["metric"]["id"] for x in res}) == len(CPU)
        try:
            wait_for(all_present, timeout=30, step=0.5, what="prometheus has every server")
        except Exception:
            raise AssertionError("targets: %s" % json.dumps(prom.targets()))
        t = [x for x in prom.targets() if x["labels"]["job"] == "lotus"]
        assert t and t[0]["health"] == "up", t
        api = details()
        res = prom.query("lotus_server_cpu_usage_ratio")
        got = {int(x["metric"]["id"]): (x["metric"], float(x["value"][1])) for x in res}
        assert set(got) == {IDS[n] for n in CPU}, got
        for name, cpu in CPU.items():
            labels, v = got[IDS[name]]
            assert labels["name"] == name, labels  # the escapes round-trip through Prometheus
            assert abs(v * 100 - api[IDS[name]]["status"]["CPU"]) < 1e-9, (name, v, api)
            assert abs(v * 100 - cpu) < 1e-9, (name, v)
        online = {int(x["metric"]["id"]): float(x["value"][1])
                  for x in prom.query("lotus_server_online")}
        assert online[NEVER_ID] == 0 and all(online[IDS[n]] == 1 for n in CPU), online
        info = prom.query('lotus_server_info{platform="debian"}')
        assert len(info) == len(CPU) and info[0]["metric"]["version"] == "0.20.5", info
        rx = prom.query("lotus_server_network_receive_bytes_total")
        assert {float(x["value"][1]) for x in rx} == {123456.0}, rx
        wait_for(lambda: prom.query("lotus_reports_total > 3"), timeout=10, step=0.5,
                 what="reports counter grows")
    finally:
        prom.close()


@tap.test
def metrics_public_opens_route_and_hides_hidden_servers():
    dash.stop()
    with open(os.path.join(dash.data, "config.yaml"), "a") as f:
        f.write("\nmetrics:\n  public: true\n")
    dash.start()  # the registry is loaded from the store: every server is listed again
    st, hdrs, body = get("/metrics")
    assert st == 200, (st, body)
    text = body.decode()
    assert 'id="%d"' % IDS["hid"] not in text and 'name="hid"' not in text, text
    assert 'lotus_server_online{id="%d",' % IDS["fra"] in text
    st, _, body = get("/metrics", {"Authorization": TOKEN})
    assert st == 200 and ('lotus_server_online{id="%d",' % IDS["hid"]) in body.decode()
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                       timeout=30)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout


def final():
    for a in AGENTS:
        a.close()
    dash.cleanup()


tap.run(final)
