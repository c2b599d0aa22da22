"""The Nezha v0 reference itself as a peer: where the machine has Go and its module proxy serves
Nezha's v0.20.5 agent (github.com/nezhahq/agent), it is built once into a cache
(~/.cache/lotus-nezha-ref, or $LOTUS_NEZHA_REF_CACHE) and run against the real lotus-dashboard:
it must register, report State every second, and answer a TCP service monitor with a result
the dashboard accepts. (The other direction, the Lotus agent against the v0.20.13 dashboard
github.com/naiba/nezha, is not run: that module is not served here either, and the Lotus agent is
tested against an independent python3-grpcio v0 dashboard in 20-agent.py.)

Where Go is absent, or the proxy does not serve the module version (seen here: 403 "not
available"), each test is skipped with a clear [outside-deps] line that names what is missing;
nothing of the reference is copied into the project. Nothing runs beyond loopback.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading

from lotus import Dashboard, Http, Skip, Tap, stop_process, wait_for

tap = Tap()
CACHE = os.environ.get("LOTUS_NEZHA_REF_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "lotus-nezha-ref"))
AGENT_MOD, AGENT_VER = "github.com/nezhahq/agent", "v0.20.5"


def go():
    for p in (shutil.which("go"), "/usr/local/go/bin/go"):
        if p and os.access(p, os.X_OK):
            return p
    raise Skip.outside_deps("Go is not installed on this machine: the Nezha reference peers are not built")


def fetch(mod, ver):
    """Downloads mod@ver into the module cache; returns its source dir, or raises Skip."""
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPATH=os.path.join(CACHE, "gopath"))
    os.makedirs(CACHE, exist_ok=True)
    try:
        r = subprocess.run([go(), "mod", "download", "-json", "%s@%s" % (mod, ver)], env=env,
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise Skip.outside_deps("the Go module proxy did not answer for %s@%s within 60 s" % (mod, ver))
    import json
    try:
        info = json.loads(r.stdout or "{}")
    except ValueError:
        info = {}
    if r.returncode != 0 or info.get("Error") or not info.get("Dir"):
        why = " ".join((info.get("Error") or r.stderr or "no output").split())
        raise Skip.outside_deps("the Go module proxy does not serve %s@%s (%s)" % (mod, ver, why[:160]))
    return info["Dir"], env


@tap.test
def nezha_v0_agent_reports_to_lotus_and_runs_its_probe():
    src, env = fetch(AGENT_MOD, AGENT_VER)
    binary = os.path.join(CACHE, "nezha-agent-" + AGENT_VER)
    if not os.path.exists(binary):
        work = tempfile.mkdtemp(prefix="nezha-agent-build-")
        try:
            shutil.copytree(src, os.path.join(work, "src"))
            r = subprocess.run([go(), "build", "-o", binary, "./cmd/agent"],
                               cwd=os.path.join(work, "src"), env=env, capture_output=True,
                               text=True, timeout=900)
            assert r.returncode == 0, "go build of %s@%s failed:\n%s" % (AGENT_MOD, AGENT_VER, r.stderr[-2000:])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    dash = Dashboard()
    dash.start()
    try:
        wait_for(dash.admin_password, what="initial admin password printed")
        sid, secret = dash.add_server("nezha-ref")
        lsn = socket.socket()
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(16)
        def accept():
            while True:
                try:
                    lsn.accept()[0].close()
                except OSError:
                    return
        threading.Thread(target=accept, daemon=True).start()
        log = tempfile.NamedTemporaryFile(prefix="nezha-agent-", suffix=".log", delete=False)
        agent = subprocess.Popen([binary, "-s", "127.0.0.1:%d" % dash.grpc_port, "-p", secret,
                                  "--report-delay", "1", "--disable-auto-update",
                                  "--disable-force-update"],
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            c = Http(dash.url(""))
            c.login("admin", dash.admin_password())

            def reported():
                st, _, j = c.call("GET", "/api/v1/server/details?id=%d" % sid)
                return j["result"] and j["result"][0]["host"]["Version"] and j["result"][0]
            item = wait_for(reported, timeout=60, what="the v0 agent's Host and State")
            assert item["host"]["Version"].startswith("0.20"), item["host"]
            st, _, j = c.call("POST", "/api/monitor", {"ID": 0, "Name": "ref-tcp", "Type": 3,
                                                       "Target": "127.0.0.1:%d" % lsn.getsockname()[1],
                                                       "Duration": 2})
            mid = j["result"]["ID"]

            def good():
                st, _, j = c.call("GET", "/api/monitor")
                m = {x["ID"]: x for x in j["result"]}[mid]
                return m["Status"] == "good" and m
            wait_for(good, timeout=60, what="the v0 agent's TCP probe result accepted")
        finally:
            stop_process(agent, log.name, "nezha-agent", check=False)
            os.unlink(log.name)
            lsn.close()
    finally:
        dash.cleanup()


tap.run()
