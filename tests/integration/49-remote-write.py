"""Prometheus remote-write (issue #18, deliverable 2) against Debian's real prometheus server
started here with --web.enable-remote-write-receiver on loopback and a temp storage dir:
(b) the series Lotus writes come back from Prometheus's query API with the reported values,
the registry's labels and the configured extra label; (c) Prometheus stopped while Lotus
writes: reports stay fast and /api/v1/server/details keeps updating, the outage is logged once
however many attempts fail, and after Prometheus restarts on the same port and storage the
samples taken during the outage arrive (the queued batches catch up). Also the request's
headers and credentials, seen by a local HTTP sink, and a 400 answer dropping a batch without
retries. A grpcio reporter plays the agent."""
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from lotus import Dashboard, Http, Skip, Tap, free_port, metadata, stubs, wait_for

PROMETHEUS = "/usr/bin/prometheus"
pb, pbg = stubs()
tap = Tap()


class Prometheus:
    """A prometheus server with no scrape job, the remote-write receiver on, fixed port and
    storage across restarts."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="lotus-prom-")
        self.cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(self.cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(self.tmp, "prometheus.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + self.cfg,
             "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--web.enable-remote-write-receiver"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=60, step=0.2, what="prometheus /-/ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited with %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, promql):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": promql}))
        with urllib.request.urlopen(url, timeout=10) as r:
            j = json.loads(r.read())
        assert j["status"] == "success", j
        return j["data"]["result"]

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


if not os.access(PROMETHEUS, os.X_OK):
    raise SystemExit("1..1\nnot ok 1 - %s missing (scripts/deps.sh installs prometheus)" % PROMETHEUS)

prom = Prometheus()
prom.start()
WRITE_URL = "http://127.0.0.1:%d/api/v1/write" % prom.port


def dashboard_with(rw_lines):
    d = Dashboard(extra_args=["-d"])
    os.makedirs(d.data, exist_ok=True)
    with open(os.path.join(d.data, "config.yaml"), "w") as f:
        f.write("prometheus:\n  remotewrite:\n" + "".join("    %s\n" % l for l in rw_lines))
    d.start()
    wait_for(d.admin_password, what="initial admin password printed")
    return d


dash = dashboard_with(["url: " + WRITE_URL, "interval: 1", "timeout: 5",
                       "username: lotus", "password: not-checked-by-this-prometheus",
                       'labels: "lotus_env=it, dc=eu-1"'])
SID, SECRET = dash.add_server("rw-fra", "--tag", "eu")


def api_token():
    c = Http(dash.url(""))
    st, j = c.login("admin", dash.admin_password())
    assert st == 200 and j["code"] == 200, (st, j)
    st, _, j = c.call("POST", "/api/token", {"Note": "rw-test"})
    assert j["code"] == 200, j
    return j["result"]["token"]


TOKEN = api_token()


def metric(name):
    """The value of an unlabelled series in the dashboard's own /metrics (token auth)."""
    st, _, text = Http(dash.url("")).call("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    assert st == 200, (st, text)
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("%s not in /metrics" % name)


class Reporter:
    """Reports a State every 0.1 s with mem_used = base + n; records each report's duration."""

    def __init__(self):
        ch = dash.channel()
        self.stub = pbg.NezhaServiceStub(ch)
        self.stub.ReportSystemInfo(pb.Host(platform="debian", mem_total=8 << 30, version="0.20.5"),
                                   metadata=metadata(SECRET), timeout=5)
        self.lock = threading.Lock()
        self.base = 100_000_000
        self.n = 0
        self.last = None
        self.durations = []
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            with self.lock:
                self.n += 1
                v = self.base + self.n
            t0 = time.monotonic()
            self.stub.ReportSystemState(pb.State(cpu=37.5, mem_used=v, load1=0.25),
                                        metadata=metadata(SECRET), timeout=5)
            dt = time.monotonic() - t0
            with self.lock:
                self.last = v
                self.durations.append(dt)
            time.sleep(0.1)

    def set_base(self, base):
        with self.lock:
            self.base, self.n = base, 0
            self.durations = []

    def latest(self):
        with self.lock:
            return self.last


rep = Reporter()


def series(promql):
    return prom.query(promql)


def details_mem():
    st, _, j = Http(dash.url("")).call("GET", "/api/v1/server/details?id=%d" % SID,
                                        headers={"Authorization": TOKEN})
    assert st == 200 and j["code"] == 0, j
    return j["result"][0]["status"]["MemUsed"]


@tap.test
def b_prometheus_returns_the_written_series_with_values_and_labels():
    sel = 'lotus_server_memory_used_bytes{id="%d"}' % SID
    r = wait_for(lambda: series(sel), timeout=30, step=0.2, what="series in prometheus")
    assert len(r) == 1, r
    labels = r[0]["metric"]
    assert labels["__name__"] == "lotus_server_memory_used_bytes", labels
    assert labels["name"] == "rw-fra" and labels["tag"] == "eu", labels
    assert labels["lotus_env"] == "it" and labels["dc"] == "eu-1", labels
    v = float(r[0]["value"][1])
    assert 100_000_000 < v < 200_000_000, v  # one of the reported values
    # The latest written value follows the reports (a snapshot per second).
    want = rep.latest()
    wait_for(lambda: float(series(sel)[0]["value"][1]) >= want, timeout=15, step=0.2,
             what="value %d written" % want)
    cpu = series('lotus_server_cpu_usage_ratio{id="%d"}' % SID)
    assert len(cpu) == 1 and abs(float(cpu[0]["value"][1]) - 0.375) < 1e-9, cpu
    online = series('lotus_server_online{id="%d"}' % SID)
    assert len(online) == 1 and online[0]["value"][1] == "1", online
    out = dash.output()
    assert "remote write to '%s' every 1 s" % WRITE_URL in out, out[-2000:]
    assert "not-checked" not in out  # the password is never logged


@tap.test
def c_outage_logged_once_ingest_unaffected_and_queued_batches_catch_up():
    sel = 'lotus_server_memory_used_bytes{id="%d"}' % SID
    prom.stop()
    t_stop = time.time()
    rep.set_base(500_000_000)  # the values reported during the outage
    # Several failed attempts (1 s, 2 s, 4 s back-off), one warning.
    wait_for(lambda: dash.run_output().count("remote write: attempt failed") >= 3, timeout=30,
             step=0.2, what="three failed attempts")
    out = dash.run_output()
    assert out.count("remote write to '%s' failed" % WRITE_URL) == 1, out[-3000:]
    # The health metric on /metrics says so too.
    assert metric("lotus_remote_write_up") == 0 and metric("lotus_remote_write_failed_sends_total") >= 3
    # Ingest keeps going: reports are fast and the API shows the newest value.
    with rep.lock:
        durations = list(rep.durations)
    assert len(durations) >= 10 and max(durations) < 1.0, durations
    want = rep.latest()
    wait_for(lambda: details_mem() >= want, timeout=5, what="details updated during the outage")
    t_restart = time.time()
    prom.start()
    rep.set_base(900_000_000)

    def outage_samples():
        r = series("%s[10m]" % sel)
        if not r:
            return None
        vals = [(float(t), float(v)) for t, v in r[0]["values"]]
        during = [x for x in vals if t_stop < x[0] < t_restart and 500_000_000 < x[1] < 900_000_000]
        after = [x for x in vals if x[1] > 900_000_000]
        return (during, after) if during and after else None

    during, after = wait_for(outage_samples, timeout=90, step=0.5,
                             what="samples from the outage and after it")
    assert len(during) >= 3, during
    wait_for(lambda: "remote write to '%s' recovered after" % WRITE_URL in dash.run_output(),
             timeout=10, what="recovery logged")
    assert metric("lotus_remote_write_up") == 1 and metric("lotus_remote_write_samples_sent_total") > 0
    assert metric("lotus_remote_write_last_success_timestamp_seconds") > t_restart - 1
    assert dash.run_output().count("remote write to '%s' failed" % WRITE_URL) == 1


class Sink:
    """A local HTTP receiver that records each request's headers and answers with `code`."""

    def __init__(self, code):
        self.reqs = []
        sink = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.reqs.append((self.path, dict(self.headers), body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@tap.test
def headers_bearer_token_and_a_rejected_batch_is_not_retried():
    sink = Sink(400)
    d = dashboard_with(["url: http://127.0.0.1:%d/push" % sink.port, "interval: 1",
                        "bearertoken: tok-123", "username: ignored-when-a-token-is-set"])
    try:
        wait_for(lambda: len(sink.reqs) >= 2, timeout=20, step=0.1, what="two posts")
        path, h, body = sink.reqs[0]
        h = {k.lower(): v for k, v in h.items()}
        assert path == "/push", path
        assert h["content-encoding"] == "snappy", h
        assert h["content-type"] == "application/x-protobuf", h
        assert h["x-prometheus-remote-write-version"] == "0.1.0", h
        assert h["user-agent"].startswith("lotus-dashboard/"), h
        assert h["authorization"] == "Bearer tok-123", h
        # A 400 drops the batch: one post per interval, no back-off retries in between,
        # and the outage line once.
        wait_for(lambda: len(sink.reqs) >= 4, timeout=20, step=0.1, what="four posts")
        bodies = [b for _, _, b in sink.reqs]
        assert len(set(bodies)) == len(bodies), "a rejected batch was posted again"
        out = d.run_output()
        assert out.count("remote write to 'http://127.0.0.1:%d/push' rejected: HTTP 400; such "
                         "batches are dropped" % sink.port) == 1, out[-3000:]
        # the sink has answered four posts; the dashboard logs each answer once it has read it
        wait_for(lambda: d.run_output().count("remote write: attempt failed: HTTP 400") >= 4,
                 timeout=20, step=0.1, what="four failed attempts logged")
    finally:
        d.cleanup()
        sink.httpd.shutdown()


def final():
    rep.stopped = True
    rep.thread.join(10)
    try:
        dash.cleanup()
    finally:
        prom.cleanup()


tap.run(final=final)
