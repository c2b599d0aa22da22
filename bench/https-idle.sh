#!/usr/bin/env bash
# Memory per idle HTTPS connection: N keep-alive connections to the dashboard's HTTP port, each
# after a TLS handshake and one request (GET /api/public), held open and idle; the dashboard's
# VmRSS before and after gives the cost per connection. The same is measured over plain HTTP in the
# same run as the reference (one dashboard each, same N).
# Usage: bench/https-idle.sh [--quick|--smoke] [BUILD_DIR]
# Final line: BENCH https_idle conns=N tls_kib_per_conn=.. plain_kib_per_conn=.. tls_rss_delta_kib=..
#             plain_rss_delta_kib=.. failed=..
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=500
case "${1:-}" in
  --quick) shift ;;
  --smoke) N=20; shift ;;
esac
OUT=${1:-build}
bench_init
tmp=$bench_tmp
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1

# measure tls|plain -> sets delta and failed
measure() {
  local mode=$1 hp gp dpid extra=() before after
  hp=$(free_port); gp=$(free_port)
  [ "$mode" = tls ] && extra=(--http-tls-cert "$tmp/cert.pem" --http-tls-key "$tmp/key.pem")
  "$OUT/lotus-dashboard" --data "$tmp/data-$mode" --http "127.0.0.1:$hp" --grpc "127.0.0.1:$gp" \
    "${extra[@]}" >"$tmp/dash-$mode.log" 2>&1 &
  dpid=$!
  bench_pids+=("$dpid")
  wait_port "$hp"
  sleep 0.5
  before=$(status_kib "$dpid" VmRSS)
  mkfifo "$tmp/ready-$mode" "$tmp/done-$mode"
  /usr/bin/python3 - "$mode" "$hp" "$N" "$tmp/cert.pem" "$tmp/ready-$mode" "$tmp/done-$mode" \
    >"$tmp/client-$mode.out" <<'PY' &
import resource, socket, ssl, sys
mode, port, n, cert, ready, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
ctx = ssl.create_default_context(cafile=cert)
held, failed = [], 0
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if mode == "tls":
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"GET /api/public HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        ln = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0])
        while len(body) < ln:
            body += s.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            failed += 1
        held.append(s)
    except OSError:
        failed += 1
print("failed=%d" % failed, flush=True)
open(ready, "w").close()
open(done).read()
PY
  local cpid=$!
  bench_pids+=("$cpid")
  cat "$tmp/ready-$mode" >/dev/null
  sleep 1
  alive "$dpid" lotus-dashboard "$tmp/dash-$mode.log"
  after=$(status_kib "$dpid" VmRSS)
  echo >"$tmp/done-$mode"
  wait "$cpid" || true
  kill "$dpid" 2>/dev/null || true
  wait "$dpid" 2>/dev/null || true
  delta=$((after - before))
  failed=$(sed -n 's/^failed=//p' "$tmp/client-$mode.out")
}

measure tls
tls_delta=$delta tls_failed=$failed
measure plain
plain_delta=$delta plain_failed=$failed
per() { awk -v d="$1" -v n="$N" 'BEGIN { printf "%.1f", d / n }'; }
printf '%-32s %12s %12s\n' "" "HTTPS" "plain HTTP"
printf '%-32s %12s %12s\n' "idle keep-alive connections" "$N" "$N"
printf '%-32s %12s %12s\n' "dashboard RSS delta (KiB)" "$tls_delta" "$plain_delta"
printf '%-32s %12s %12s\n' "KiB per idle connection" "$(per "$tls_delta")" "$(per "$plain_delta")"
printf '%-32s %12s %12s\n' "failed connections" "$tls_failed" "$plain_failed"
echo "BENCH https_idle conns=$N tls_kib_per_conn=$(per "$tls_delta")" \
  "plain_kib_per_conn=$(per "$plain_delta") tls_rss_delta_kib=$tls_delta" \
  "plain_rss_delta_kib=$plain_delta failed=$((tls_failed + plain_failed))"
