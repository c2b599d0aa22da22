#!/usr/bin/env bash
# Measures the dashboard's gRPC unary throughput on ONE connection with h2load
# (nghttp2-client): ReportSystemState calls with a real server secret.
# Usage: bench/grpc-unary.sh [--quick] [BUILD_DIR]
# Prints a table and a final machine-readable line:
#   BENCH grpc_unary m1=<calls/s> m16=<calls/s> m64=<calls/s> failed=<n>
set -euo pipefail
cd "$(dirname "$0")/.."
N=200000
if [ "${1:-}" = "--quick" ]; then N=20000; shift; fi
OUT=${1:-build}
command -v h2load >/dev/null || { echo "bench: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }

tmp=$(mktemp -d)
dash_pid=
cleanup() { [ -n "$dash_pid" ] && kill "$dash_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret=$("$OUT/lotus-dashboard" --data "$tmp/data" server add --name bench 2>/dev/null |
  sed -n 's/.*"secret":"\([0-9A-Za-z]*\)".*/\1/p')
"$OUT/lotus-dashboard" --data "$tmp/data" --http 127.0.0.1:0 --grpc "127.0.0.1:$port" \
  >"$tmp/dash.log" 2>&1 &
dash_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# A realistic State message (the fields an agent fills), framed with the 5-byte gRPC prefix.
/usr/bin/python3 - "$tmp/body.bin" <<'PY'
import struct, sys
def varint(v):
    out = b""
    while True:
        b = v & 0x7f; v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])
def f_double(n, x): return varint(n << 3 | 1) + struct.pack("<d", x)
def f_u64(n, v): return varint(n << 3) + varint(v)
msg = (f_double(1, 3.0150753768844223) + f_u64(3, 1 << 30) + f_u64(4, 0) + f_u64(5, 12 << 30) +
       f_u64(6, 123456789012) + f_u64(7, 98765432101) + f_u64(8, 10806) + f_u64(9, 5303) +
       f_u64(10, 331080) + f_double(11, 0.52) + f_double(12, 0.48) + f_double(13, 0.4) +
       f_u64(14, 195) + f_u64(15, 70) + f_u64(16, 437))
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
PY

printf '%-28s %12s %10s\n' "h2load (1 connection)" "calls/s" "failed"
results=()
failed_total=0
for m in 1 16 64; do
  out=$(h2load -n "$N" -c 1 -m "$m" -d "$tmp/body.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' -H "client_secret: $secret" \
        "http://127.0.0.1:$port/proto.NezhaService/ReportSystemState" 2>&1)
  rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
  okcount=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
  [ "$okcount" = "$N" ] || failed=$((failed + N - ${okcount:-0}))
  printf '%-28s %12s %10s\n' "-m $m (in flight)" "$rps" "$failed"
  results+=("m$m=$rps")
  failed_total=$((failed_total + failed))
done
# h2load counts HTTP 200 as success even when grpc-status is an error: prove the calls were
# authenticated State reports by checking that the server became active.
sleep 1.5
active=$("$OUT/lotus-dashboard" --data "$tmp/data" server list 2>/dev/null | sed -n 's/.*"last_active":\([0-9]*\).*/\1/p')
if [ "${active:-0}" -le 0 ]; then echo "bench: the calls were not accepted (server never active)" >&2; exit 1; fi
echo "BENCH grpc_unary ${results[*]} failed=$failed_total n=$N"
