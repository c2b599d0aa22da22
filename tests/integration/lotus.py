"""Shared helpers for Lotus integration tests.

Run with Debian's /usr/bin/python3 (python3-grpcio imports only there).
Every test starts the real binaries on loopback with free ports and a temp
data dir, and prints TAP ("ok N - name" / "not ok N - name") for
scripts/run-tests.sh.

Exit checks: Dashboard.stop() and stop_process() (for agents) assert that a process the test
started and stopped with SIGTERM exits 0, and that its log holds no sanitizer report
(SANITIZER_MARKS); stop(check=False) / expect_rc= are the opt-outs for tests that kill -9 or
expect a failure. Tap.run(final=fn) runs fn (typically the last dash.cleanup()) as one more
TAP test, so the final stop of a file can fail it.
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


def wait_port(host, port, timeout=30.0, proc=None):
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


# A sanitizer report in a process's output (ASan+UBSan build): always a failure.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_report(text):
    """The first line of text that belongs to a sanitizer report, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line
    return None


def _tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


def check_exit(what, rc, text, expect_rc=0):
    """Raises AssertionError when rc != expect_rc (None: any) or text has a sanitizer report."""
    problems = []
    if expect_rc is not None and rc != expect_rc:
        problems.append("exit code %s (want %s)" % (rc, expect_rc))
    rep = sanitizer_report(text)
    if rep is not None:
        problems.append("sanitizer report: %s" % rep.strip())
    if problems:
        raise AssertionError("%s: %s\n---- its output (last lines) ----\n%s"
                             % (what, "; ".join(problems), _tail(text)))


def _auto_rc(sig, expect_rc):
    if expect_rc == "auto":
        return 0 if sig == signal.SIGTERM else None
    return expect_rc


def stop_process(p, log_path, what, sig=signal.SIGTERM, timeout=30, check=True, expect_rc="auto"):
    """Stops p (a Popen whose output goes to log_path) with sig and waits for it; returns
    (rc, output). With check (the default): after SIGTERM the exit code must be 0 (expect_rc
    overrides: an int, or None for any), and the output must hold no sanitizer report; else
    AssertionError. A process that outlives timeout after the signal is killed (rc -9)."""
    if p.poll() is None:
        p.send_signal(sig)
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    try:
        with open(log_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
    except OSError:
        out = ""
    if check:
        check_exit(what, rc, out, _auto_rc(sig, expect_rc))
    return rc, out


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
        """Starts the dashboard and waits until both ports accept connections. Ports not given
        (here or by an earlier start) are free ports picked now; when one of those is taken by
        another process before the dashboard binds it ("address already in use"), the start is
        retried with fresh ports (3 tries). Any other early exit raises with the log's tail."""
        self.http_port = http_port or self.http_port
        self.grpc_port = grpc_port or self.grpc_port
        pick_http, pick_grpc = not self.http_port, not self.grpc_port
        for attempt in range(3):
            if pick_http:
                self.http_port = free_port()
            if pick_grpc:
                self.grpc_port = free_port()
            while pick_grpc and self.grpc_port == self.http_port:
                self.grpc_port = free_port()
            self.log = open(self.log_path, "ab")
            self.log_start = self.log.tell()  # this run's output starts here (the log is appended)
            self.proc = subprocess.Popen(
                [DASHBOARD, "--data", self.data, "--http", "127.0.0.1:%d" % self.http_port,
                 "--grpc", "127.0.0.1:%d" % self.grpc_port] + self.extra_args,
                stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
            try:
                wait_port("127.0.0.1", self.grpc_port, proc=self.proc)
                wait_port("127.0.0.1", self.http_port, proc=self.proc)
                return self
            except RuntimeError as e:
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait()
                self.proc = None
                self.log.close()
                with open(self.log_path, "rb") as f:
                    f.seek(self.log_start)
                    out = f.read().decode("utf-8", "replace")
                if "address already in use" in out and (pick_http or pick_grpc) and attempt < 2:
                    continue
                raise RuntimeError("%s\n---- dashboard output (last lines) ----\n%s"
                                   % (e, _tail(out))) from None
        raise AssertionError("unreachable")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def admin_password(self):
        """The password printed at first start ("initial admin password: ...")."""
        import re
        m = re.search(r"initial admin password: ([0-9A-Za-z]+)", self.output())
        return m.group(1) if m else None

    def stop(self, sig=signal.SIGTERM, timeout=30, check=True, expect_rc="auto"):
        """Stops the process (sig, unless it has already exited) and returns its exit code;
        None when it was not running. With check (the default) this run's exit is asserted:
        after a SIGTERM stop the exit code must be 0, and in any case this run's output must
        hold no sanitizer report (AssertionError otherwise, with the log's last lines).
        Opt-outs: expect_rc=-9 (say) for a test that killed the process itself, expect_rc=None
        for any exit code, check=False for no check at all."""
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
        if check:
            what = "lotus-dashboard (%s)" % ("SIGTERM" if sig == signal.SIGTERM else "signal %d" % sig)
            check_exit(what, rc, self.run_output(), _auto_rc(sig, expect_rc))
        return rc

    def run_output(self):
        """The output of the latest start() only (output() has every run's)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_start)
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

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
            wait_for(lambda: self.accepts(obj["secret"]), timeout=15, what="secret accepted")
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

    def cleanup(self, **stop_args):
        """stop() (checked, see there) and remove the temp dir, even when the check fails."""
        try:
            self.stop(**stop_args)
        finally:
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)


class Skip(Exception):
    """Raised by a test that cannot run here; Tap prints it as "ok N - name # SKIP reason".
    scripts/run-tests.sh counts it as a skip, and as a FAILURE in strict mode (make test, CI)
    unless the reason starts with OUTSIDE_DEPS: use Skip.outside_deps(why) when what is
    missing is something scripts/deps.sh cannot install (root, an rlimit, ...)."""

    @classmethod
    def outside_deps(cls, why):
        return cls("%s %s" % (OUTSIDE_DEPS, why))


OUTSIDE_DEPS = "[outside-deps]"  # the marker scripts/run-tests.sh looks for


class Tap:
    """Minimal TAP runner: @tap.test registers, tap.run() runs in order."""

    def __init__(self):
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, final=None):
        """Runs the tests in order, then final (when given) as one more TAP test whatever
        happened before: the place for the file's last dash.cleanup(), whose checked stop
        then fails the file. Exits 1 when anything failed."""
        tests = self.tests + ([final] if final is not None else [])
        print("1..%d" % len(tests), flush=True)
        failed = 0
        i = 0
        try:
            for fn in self.tests:
                i += 1
                failed += not self._one(i, fn)
        finally:
            if final is not None:
                failed += not self._one(len(tests), final)
        sys.exit(1 if failed else 0)

    def _one(self, i, fn):
        t0 = time.time()
        try:
            fn()
            print("ok %d - %s (%.2fs)" % (i, fn.__name__, time.time() - t0), flush=True)
            return True
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (i, fn.__name__, e), flush=True)
            return True
        except Exception:  # noqa: BLE001 - report every failure as TAP
            print("not ok %d - %s" % (i, fn.__name__), flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line, flush=True)
            return False


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


# ---- a minimal RFC 6455 client side, over a plain or TLS socket ----

def ws_handshake(s, port, headers=None):
    """Sends GET /ws with an Upgrade on the connected socket s; returns
    (status, response head, bytes already read past the head)."""
    import base64
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "%s\r\n" % (port, key, extra)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, buf
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), head, buf


def ws_read_frame(s, buf):
    """Reads one server frame from socket s; returns (opcode, payload, rest of buf)."""
    import struct

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed mid-frame")
            buf += chunk
    need(2)
    op, ln = buf[0] & 0x0F, buf[1] & 0x7F
    assert buf[1] & 0x80 == 0, "server frames are not masked"
    hl = 2
    if ln == 126:
        need(4)
        ln, hl = struct.unpack("!H", buf[2:4])[0], 4
    elif ln == 127:
        need(10)
        ln, hl = struct.unpack("!Q", buf[2:10])[0], 10
    need(hl + ln)
    return op, buf[hl:hl + ln], buf[hl + ln:]


def ws_send(s, op, payload):
    """Sends one masked client frame (payload under 126 bytes)."""
    assert len(payload) < 126
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(bytes([0x80 | op, 0x80 | len(payload)]) + mask + body)
