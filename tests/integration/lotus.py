"""Shared helpers for Lotus integration tests.

Run with Debian's /usr/bin/python3 (python3-grpcio imports only there).
Every test starts the real binaries on loopback with free ports and a temp
data dir, and prints TAP ("ok N - name" / "not ok N - name") for
scripts/run-tests.sh.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("LOTUS_BUILD", "build"))
DASHBOARD = os.path.join(BUILD, "lotus-dashboard")
AGENT = os.path.join(BUILD, "lotus-agent")

_stubs = None


def stubs():
    """Generates (once per build dir) and imports the grpcio stubs of proto/nezha_v0.proto."""
    global _stubs
    if _stubs:
        return _stubs
    out = os.path.join(BUILD, "pystubs")
    proto = os.path.join(ROOT, "proto", "nezha_v0.proto")
    pb = os.path.join(out, "nezha_v0_pb2.py")
    if not os.path.exists(pb) or os.path.getmtime(pb) < os.path.getmtime(proto):
        os.makedirs(out, exist_ok=True)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.dirname(proto),
                        "--python_out=" + out, "--grpc_python_out=" + out, proto], check=True)
    sys.path.insert(0, out)
    import nezha_v0_pb2  # noqa: E402
    import nezha_v0_pb2_grpc  # noqa: E402
    _stubs = (nezha_v0_pb2, nezha_v0_pb2_grpc)
    return _stubs


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %s:%d not ready after %.0fs" % (host, port, timeout))


def wait_for(pred, timeout=5.0, step=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Dashboard:
    """A lotus-dashboard process on loopback with its own data dir."""

    def __init__(self, data_dir=None, env=None, extra_args=()):
        self.tmp = None
        if data_dir is None:
            self.tmp = tempfile.mkdtemp(prefix="lotus-it-")
            data_dir = os.path.join(self.tmp, "data")
        self.data = data_dir
        self.env = dict(os.environ)
        self.env.setdefault("LOTUS_TEST_FAST_HASH", "1")
        self.env.update(env or {})
        self.extra_args = list(extra_args)
        self.proc = None
        self.http_port = None
        self.grpc_port = None
        self.log_path = os.path.join(self.tmp or tempfile.gettempdir(), "dashboard-%d.log" % id(self))

    def start(self, http_port=None, grpc_port=None):
        self.http_port = http_port or self.http_port or free_port()
        self.grpc_port = grpc_port or self.grpc_port or free_port()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [DASHBOARD, "--data", self.data, "--http", "127.0.0.1:%d" % self.http_port,
             "--grpc", "127.0.0.1:%d" % self.grpc_port] + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        wait_port("127.0.0.1", self.grpc_port, proc=self.proc)
        wait_port("127.0.0.1", self.http_port, proc=self.proc)
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def admin_password(self):
        """The password printed at first start ("initial admin password: ...")."""
        import re
        m = re.search(r"initial admin password: ([0-9A-Za-z]+)", self.output())
        return m.group(1) if m else None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process; returns its exit code (0 expected after SIGTERM)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cli(self, *args, input_text=None):
        return subprocess.run([DASHBOARD, "--data", self.data] + list(args), capture_output=True,
                              text=True, env=self.env, input=input_text, timeout=30)

    def add_server(self, name, *extra):
        """Adds a server with the CLI; when the dashboard runs, waits until it accepts the secret."""
        r = self.cli("server", "add", "--name", name, *extra)
        if r.returncode != 0:
            raise AssertionError("server add failed: %s" % r.stderr)
        obj = json.loads(r.stdout)
        if self.proc is not None:
            wait_for(lambda: self.accepts(obj["secret"]), timeout=5, what="secret accepted")
        return obj["id"], obj["secret"]

    def accepts(self, secret):
        """True when the dashboard authenticates secret (probe without side effects)."""
        import grpc
        ch = self.channel()
        try:
            raw = ch.unary_unary("/proto.NezhaService/LookupGeoIP",
                                 request_serializer=None, response_deserializer=None)
            raw(b"", metadata=(("client_secret", secret),), timeout=5)
            return True
        except grpc.RpcError as e:
            return e.code() != grpc.StatusCode.UNAUTHENTICATED
        finally:
            ch.close()

    def list_servers(self):
        r = self.cli("server", "list")
        if r.returncode != 0:
            raise AssertionError("server list failed: %s" % r.stderr)
        return json.loads(r.stdout)

    def channel(self):
        import grpc
        # A local subchannel pool: a restarted dashboard must not inherit a dead connection.
        return grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port,
                                     options=[("grpc.use_local_subchannel_pool", 1)])

    def cleanup(self):
        self.stop()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Tap:
    """Minimal TAP runner: @tap.test registers, tap.run() runs in order."""

    def __init__(self):
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
        print("1..%d" % len(self.tests), flush=True)
        failed = 0
        for i, fn in enumerate(self.tests, 1):
            t0 = time.time()
            try:
                fn()
                print("ok %d - %s (%.2fs)" % (i, fn.__name__, time.time() - t0), flush=True)
            except Exception:  # noqa: BLE001 - report every failure as TAP
                failed += 1
                print("not ok %d - %s" % (i, fn.__name__), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
        sys.exit(1 if failed else 0)


class Http:
    """A tiny HTTP client with a cookie jar and the CSRF header (stdlib only)."""

    def __init__(self, base, ssl_context=None):
        """ssl_context: an ssl.SSLContext for https:// bases (e.g. trusting a test certificate)."""
        import http.cookiejar
        import urllib.request
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self.opener = urllib.request.build_opener(*handlers)
        self.csrf = None

    def call(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, headers, parsed JSON or text)."""
        import urllib.error
        import urllib.request
        data = raw
        h = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with self.opener.open(req, timeout=10) as r:
                status, hdrs, payload = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, payload = e.code, e.headers, e.read()
        text = payload.decode("utf-8", "replace")
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            return status, hdrs, text

    def login(self, user, password):
        st, _, j = self.call("POST", "/api/login", {"username": user, "password": password})
        if st == 200 and j.get("code") == 200:
            self.csrf = j["result"]["csrf"]
        return st, j


def metadata(secret):
    return (("client_secret", secret),)
