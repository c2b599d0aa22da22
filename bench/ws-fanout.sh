#!/usr/bin/env bash
# /ws fan-out: C browser-like WebSocket clients on /ws while A simulated agents (bench/ingest)
# report every second, for a bounded window. Reports frames/s delivered, frames per client
# (each should get every broadcast: one per 250 ms tick while agents report), clients dropped,
# and the dashboard's CPU % of one core and RSS.
# The clients are one Python process: with large frames it, not the dashboard, is the limit
# (the dashboard then drops it as a slow consumer, by design), hence 20 agents by default.
# Usage: bench/ws-fanout.sh [--quick|--smoke] [BUILD_DIR]
# Final line: BENCH ws_fanout clients=C agents=A dur=S frames_per_s=.. min_frames=.. avg_frames=..
#             dropped=.. dash_cpu_pct=.. dash_rss_kib=.. frame_bytes=..
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CLIENTS=1000 AGENTS=20 DUR=20
case "${1:-}" in
  --quick) DUR=10; shift ;;
  --smoke) CLIENTS=50; AGENTS=10; DUR=3; shift ;;
esac
OUT=${1:-build}
bench_tool "$OUT" ingest
bench_init
tmp=$bench_tmp
hp=$(free_port); gp=$(free_port)
make_servers "$OUT" "$tmp/data" "$AGENTS" "$tmp/secrets" 2>/dev/null
"$OUT/lotus-dashboard" --data "$tmp/data" --http "127.0.0.1:$hp" --grpc "127.0.0.1:$gp" \
  >"$tmp/dash.log" 2>&1 &
dpid=$!
bench_pids+=("$dpid")
wait_port "$gp"
wait_port "$hp"
start_ms=$(( $(now_us) / 1000 + 2000 ))
"$OUT/bench/ingest" --port "$gp" --secrets "$tmp/secrets" --n "$AGENTS" --start-at "$start_ms" \
  --duration $((DUR + 4)) >"$tmp/ingest.log" 2>&1 &
bench_pids+=($!)
sleep_until_us $(( (start_ms + 1000) * 1000 ))
c0=$(cpu_ns "$dpid")
t0=$(now_us)
/usr/bin/python3 - "$hp" "$CLIENTS" "$DUR" >"$tmp/clients.out" <<'PY'
import base64, os, resource, selectors, socket, struct, sys, time
port, n, dur = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
sel = selectors.DefaultSelector()
class C:
    pass
clients = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (port, key)).encode())
    c = C(); c.s = s; c.buf = b""; c.hs = False; c.frames = 0; c.closed = False; c.bytes = 0
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, c)
    clients.append(c)
def pong(c, payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    try:
        c.s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + body)
    except OSError:
        c.closed = True
t_end = time.time() + dur
counting = False
t_count = None
while time.time() < t_end:
    for k, _ in sel.select(timeout=0.2):
        c = k.data
        try:
            d = c.s.recv(1 << 20)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if not d:
            c.closed = True
            sel.unregister(c.s)
            continue
        c.buf += d
        if not c.hs:
            i = c.buf.find(b"\r\n\r\n")
            if i < 0:
                continue
            if b" 101 " not in c.buf[:i].split(b"\r\n")[0]:
                c.closed = True
                sel.unregister(c.s)
                continue
            c.hs = True
            c.buf = c.buf[i + 4:]
        while len(c.buf) >= 2:
            op, ln = c.buf[0] & 0x0F, c.buf[1] & 0x7F
            h = 2
            if ln == 126:
                if len(c.buf) < 4: break
                ln = struct.unpack(">H", c.buf[2:4])[0]; h = 4
            elif ln == 127:
                if len(c.buf) < 10: break
                ln = struct.unpack(">Q", c.buf[2:10])[0]; h = 10
            if len(c.buf) < h + ln:
                break
            payload = c.buf[h:h + ln]
            c.buf = c.buf[h + ln:]
            if op == 9:
                pong(c, payload)
            elif op == 1:
                c.frames += 1
                c.bytes = ln
            elif op == 8:
                c.closed = True
        if c.closed:
            try:
                sel.unregister(c.s)
            except (KeyError, ValueError):
                pass
frames = [c.frames for c in clients]
dropped = sum(1 for c in clients if c.closed)
total = sum(frames)
print("frames_total=%d min_frames=%d avg_frames=%.1f dropped=%d frame_bytes=%d connected=%d"
      % (total, min(frames), total / len(frames), dropped, max(c.bytes for c in clients),
         sum(1 for c in clients if c.hs)))
PY
t1=$(now_us)
c1=$(cpu_ns "$dpid")
rss=$(status_kib "$dpid" VmRSS)
alive "$dpid" dashboard "$tmp/dash.log"
line=$(cat "$tmp/clients.out")
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
fps=$(awk -v f="$(field frames_total)" -v s="$secs" 'BEGIN { printf "%.0f", f / s }')
cpu=$(awk -v a="$c0" -v b="$c1" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / 1e9 / s * 100 }')
printf '%-44s %s\n' "WebSocket clients / reporting agents" "$CLIENTS / $AGENTS"
printf '%-44s %s\n' "window" "${secs} s"
printf '%-44s %s\n' "frames delivered per second (all clients)" "$fps"
printf '%-44s %s / %s (a broadcast every 250 ms: %d)\n' "frames per client min / avg" \
  "$(field min_frames)" "$(field avg_frames)" "$(awk -v s="$secs" 'BEGIN { printf "%d", s * 4 }')"
printf '%-44s %s\n' "clients dropped" "$(field dropped)"
printf '%-44s %s\n' "frame size (bytes)" "$(field frame_bytes)"
printf '%-44s %s\n' "dashboard CPU % of one core" "$cpu"
printf '%-44s %s\n' "dashboard RSS (KiB)" "$rss"
echo "BENCH ws_fanout clients=$CLIENTS agents=$AGENTS dur=$DUR frames_per_s=$fps" \
  "min_frames=$(field min_frames) avg_frames=$(field avg_frames) dropped=$(field dropped)" \
  "connected=$(field connected) dash_cpu_pct=$cpu dash_rss_kib=$rss frame_bytes=$(field frame_bytes)"
