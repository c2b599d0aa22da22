#!/usr/bin/env bash
# API throughput: wrk on /api/v1/server/details (token auth) with N reporting servers, against
# Debian's nginx serving a file holding the same response bytes, same connections and duration.
# Usage: bench/api.sh [--quick|--smoke] [BUILD_DIR]
# Final line: BENCH api servers=N lotus_rps=X nginx_rps=Y ratio=X/Y bytes=B ... gzip_rps=Z gzip_bytes=G
# (gzip_*: the same requests with Accept-Encoding: gzip, compressed on the dashboard's work pool)
set -euo pipefail
cd "$(dirname "$0")/.."
N=1000 DUR=10 CONNS=64
case "${1:-}" in
  --quick) DUR=5; shift ;;
  --smoke) N=50; DUR=2; CONNS=8; shift ;;
esac
OUT=${1:-build}
for t in wrk nginx; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
    { echo "bench: $t missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(freeport); gp=$(freeport); np=$(freeport)
D="$OUT/lotus-dashboard"

# N servers, inserted in one transaction before the dashboard starts.
"$D" --data "$tmp/data" server list >/dev/null 2>&1
/usr/bin/python3 - "$tmp/data/sqlite.db" "$N" "$tmp/secrets" <<'PY'
import secrets, sqlite3, string, sys
db, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
alpha = string.digits + string.ascii_letters
con = sqlite3.connect(db)
rows = [("srv-%d" % i, "tag%d" % (i % 10), "".join(secrets.choice(alpha) for _ in range(18)))
        for i in range(n)]
with con:
    con.executemany("INSERT INTO servers (created_at, updated_at, name, tag, secret) "
                    "VALUES (0, 0, ?, ?, ?)", rows)
open(out, "w").write("\n".join(r[2] for r in rows))
PY
LOTUS_TEST_FAST_HASH=1 "$D" --data "$tmp/data" --http "127.0.0.1:$hp" --grpc "127.0.0.1:$gp" \
  >"$tmp/dash.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$hp") 2>/dev/null && break; sleep 0.1; done

# Every server reports a realistic Host and State once (python3-grpcio as the agents).
/usr/bin/python3 - "$gp" "$tmp/secrets" "$tmp/stubs" <<'PY'
import os, subprocess, sys
port, secrets_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Iproto", "--python_out=" + out,
                "--grpc_python_out=" + out, "proto/nezha_v0.proto"], check=True)
sys.path.insert(0, out)
import grpc, nezha_v0_pb2 as pb, nezha_v0_pb2_grpc as pbg
stub = pbg.NezhaServiceStub(grpc.insecure_channel("127.0.0.1:" + port))
host = pb.Host(platform="debian", platform_version="12.5", cpu=["AMD EPYC 7B13 2 Virtual Core"],
               mem_total=2078420992, disk_total=21003583488, arch="x86_64", virtualization="kvm",
               boot_time=1716000000, ip="203.0.113.7/2001:db8::7", version="0.20.5")
state = pb.State(cpu=3.0150753768844223, mem_used=1 << 30, disk_used=12 << 30,
                 net_in_transfer=123456789012, net_out_transfer=98765432101, net_in_speed=10806,
                 net_out_speed=5303, uptime=331080, load1=0.52, load5=0.48, load15=0.4,
                 tcp_conn_count=195, udp_conn_count=70, process_count=437)
for s in open(secrets_file).read().split():
    md = (("client_secret", s),)
    stub.ReportSystemInfo(host, metadata=md, timeout=5)
    stub.ReportSystemState(state, metadata=md, timeout=5)
PY
token=$("$D" --data "$tmp/data" token add --note bench 2>/dev/null | sed -n 's/.*"token":"\([0-9A-Za-z]*\)".*/\1/p')
sleep 1 # the running dashboard picks the CLI token up within a second
url="http://127.0.0.1:$hp/api/v1/server/details"
curl -fsS -H "Authorization: $token" -o "$tmp/details.json" "$url"
grep -q '"code":0' "$tmp/details.json" || { echo "bench: token not accepted" >&2; exit 1; }
bytes=$(stat -c %s "$tmp/details.json")
gzip_bytes=$(curl -fsS -H "Authorization: $token" -H "Accept-Encoding: gzip" "$url" | wc -c)

mkdir -p "$tmp/www/api/v1/server" "$tmp/nginx"
cp "$tmp/details.json" "$tmp/www/api/v1/server/details"
chmod 755 "$tmp"; chmod -R a+rX "$tmp/www" # nginx workers run unprivileged
cat >"$tmp/nginx/nginx.conf" <<NGINX_CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:$np;
    root $tmp/www;
    default_type "application/json; charset=utf-8";
  }
}
NGINX_CONF
"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx/stderr" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$np") 2>/dev/null && break; sleep 0.1; done
cmp -s <(curl -fsS "http://127.0.0.1:$np/api/v1/server/details") "$tmp/details.json" ||
  { echo "bench: nginx does not serve the same bytes" >&2; exit 1; }

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
lotus=$(wrk -t1 -c"$CONNS" -d"${DUR}s" -H "Authorization: $token" "$url" | rps)
ngx=$(wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$np/api/v1/server/details" | rps)
gz=$(wrk -t1 -c"$CONNS" -d"${DUR}s" -H "Authorization: $token" -H "Accept-Encoding: gzip" "$url" | rps)
ratio=$(awk -v a="$lotus" -v b="$ngx" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
printf '%-52s %12s\n' "GET /api/v1/server/details ($N servers, $bytes bytes)" "req/s"
printf '%-52s %12s\n' "lotus-dashboard (token auth, live render)" "$lotus"
printf '%-52s %12s\n' "nginx (same bytes from a file)" "$ngx"
printf '%-52s %12s\n' "lotus-dashboard, Accept-Encoding: gzip ($gzip_bytes bytes)" "$gz"
echo "BENCH api servers=$N lotus_rps=$lotus nginx_rps=$ngx ratio=$ratio bytes=$bytes conns=$CONNS dur=${DUR}s" \
  "gzip_rps=$gz gzip_bytes=$gzip_bytes"
