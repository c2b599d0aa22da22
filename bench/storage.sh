#!/usr/bin/env bash
# Bytes on disk per server per day at the default report interval (1 s): the dashboard with
# N simulated agents (bench/ingest) for a bounded window. At the start and at the end of
# the window the WAL is checkpointed into the database from outside
# (PRAGMA wal_checkpoint(TRUNCATE), as a second SQLite connection may) and sqlite.db +
# sqlite.db-wal are measured; the growth is extrapolated to one server and one day.
# This version keeps only live state (one row per server, overwritten in place: Host when
# it changes, LastActive every 5 s), no history, so the growth is expected to be ~0; the
# bytes the dashboard writes (/proc/PID/io write_bytes: WAL appends, checkpoints) are
# reported too, per server per day, since they are what the disk sees.
#
# Usage: bench/storage.sh [--quick|--smoke] [--agents N] [--duration S] [BUILD_DIR]
#   default 1000 agents for 300 s; --quick 1000 for 60 s; --smoke 20 for 5 s.
# Prints a table and one final machine-readable line:
#   BENCH storage agents=N dur=S db_start=<bytes> db_end=<bytes> wal_peak=<bytes>
#     growth_bytes=.. per_server_day=<bytes> written_bytes=.. written_per_server_day=<bytes>
#     fresh=<servers fresh at the end> fail=<generator failures>
set -euo pipefail
cd "$(dirname "$0")/.."
N=1000
DUR=300
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DUR=60; shift ;;
    --smoke) N=20; DUR=5; shift ;;
    --agents) N=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    -*) echo "usage: $0 [--quick|--smoke] [--agents N] [--duration S] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
OUT=${1:-build}
for v in "$N" "$DUR"; do
  case "$v" in ''|*[!0-9]*) echo "bench: '$v' is not a number" >&2; exit 2 ;; esac
done
[ "$N" -ge 1 ] && [ "$N" -le 20000 ] || { echo "bench: agents must be 1..20000" >&2; exit 2; }
[ "$DUR" -ge 1 ] && [ "$DUR" -le 86400 ] || { echo "bench: duration must be 1..86400 s" >&2; exit 2; }
[ -x "$OUT/lotus-dashboard" ] || { echo "bench: $OUT/lotus-dashboard missing (make all)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 missing (scripts/deps.sh)" >&2; exit 1; }
. bench/lib.sh
bench_tool "$OUT" ingest
need=$((N + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "bench: ulimit -Hn is $hard, $need file descriptors needed" >&2; exit 1
fi
ulimit -n "$need"

bench_init
tmp=$bench_tmp
data="$tmp/data"
db="$data/sqlite.db"

make_servers "$OUT" "$data" "$N" "$tmp/secrets" 2>/dev/null
gport=$(free_port)
"$OUT/lotus-dashboard" --data "$data" --http 127.0.0.1:0 --grpc "127.0.0.1:$gport" >"$tmp/dash.log" 2>&1 &
dash_pid=$!
bench_pids+=("$dash_pid")
wait_port "$gport"

checkpoint() { # folds the WAL into the database; retries while the dashboard's writer is busy
  local r
  for _ in $(seq 50); do
    r=$(sqlite3 "$db" "PRAGMA busy_timeout = 2000" "PRAGMA wal_checkpoint(TRUNCATE)" | tail -1)
    [ "${r%%|*}" = 0 ] && return 0
    sleep 0.1
  done
  echo "bench: the WAL checkpoint stayed busy ($r)" >&2; return 1
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
written() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }

# The agents register, their Host rows are written and LastActive starts moving; then the
# window starts (at least 6 s after the ramp, so every server has had one LastActive write).
ramp_s=$((3 + N / 1000 + 6))
start_us=$(( $(now_us) + ramp_s * 1000000 ))
end_us=$((start_us + DUR * 1000000))
# The generator keeps reporting 5 s past the window, through the final checkpoint.
"$OUT/bench/ingest" --port "$gport" --secrets "$tmp/secrets" --n "$N" \
  --start-at $((start_us / 1000)) --duration "$DUR" --linger 5 >"$tmp/gen.out" 2>"$tmp/gen.err" &
gen_pid=$!
bench_pids+=("$gen_pid")

sleep_until_us "$start_us"
alive "$dash_pid" lotus-dashboard "$tmp/dash.log"
checkpoint
s0_db=$(size_of "$db"); s0_wal=$(size_of "$db-wal"); w0=$(written "$dash_pid"); t0=$(now_us)
wal_peak=0
while [ "$(now_us)" -lt "$end_us" ]; do
  w=$(size_of "$db-wal"); [ "$w" -gt "$wal_peak" ] && wal_peak=$w
  sleep 0.5
done
w=$(size_of "$db-wal"); [ "$w" -gt "$wal_peak" ] && wal_peak=$w
w1=$(written "$dash_pid"); t1=$(now_us)
checkpoint
s1_db=$(size_of "$db"); s1_wal=$(size_of "$db-wal")
alive "$dash_pid" lotus-dashboard "$tmp/dash.log"

now_s=$(date +%s)
fresh=$("$OUT/lotus-dashboard" --data "$data" server list 2>/dev/null | tr '{' '\n' |
  sed -n 's/.*"last_active":\([0-9]*\).*/\1/p' | awk -v now="$now_s" '$1 >= now - 10 { c++ } END { print c + 0 }')
for _ in $(seq 300); do kill -0 "$gen_pid" 2>/dev/null || break; sleep 0.1; done
wait "$gen_pid" || { echo "bench: the generator failed:" >&2; cat "$tmp/gen.err" >&2; exit 1; }
fail=$(awk '/^INGEST / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  print v["rejected"] + v["failed"] + v["bad_receipt"] + v["overrun"] + v["conn_fail"] + v["conn_lost"] + v["stream_end"] + v["agents"] - v["registered"] }' "$tmp/gen.out")
ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$tmp/gen.out")

read -r wall growth per_day wr wr_day < <(awk -v a="$s0_db" -v b="$s0_wal" -v c="$s1_db" -v d="$s1_wal" \
  -v t0="$t0" -v t1="$t1" -v n="$N" -v w0="$w0" -v w1="$w1" 'BEGIN {
    w = (t1 - t0) / 1e6; g = (c + d) - (a + b)
    printf "%.1f %d %.0f %d %.0f\n", w, g, g / n / w * 86400, w1 - w0, (w1 - w0) / n / w * 86400 }')
printf '%d agents reporting every 1 s, window %s s, %d reports acknowledged; loopback, same machine\n' \
  "$N" "$wall" "$ok"
printf '%-44s %14s %14s\n' "" "start" "end"
printf '%-44s %14s %14s\n' "sqlite.db after checkpoint (bytes)" "$s0_db" "$s1_db"
printf '%-44s %14s %14s\n' "sqlite.db-wal after checkpoint (bytes)" "$s0_wal" "$s1_wal"
printf '%-44s %14s\n' "largest WAL seen in the window (bytes)" "$wal_peak"
printf '%-44s %14s\n' "database bytes per server" "$(awk -v s="$s1_db" -v n="$N" 'BEGIN { printf "%.0f", s / n }')"
printf '%-44s %14s\n' "growth in the window (bytes)" "$growth"
printf '%-44s %14s\n' "growth per server per day (bytes)" "$per_day"
printf '%-44s %14s\n' "written by the dashboard (bytes)" "$wr"
printf '%-44s %14s\n' "written per server per day (bytes)" "$wr_day"
printf '%-44s %14s\n' "servers fresh at the end (of $N)" "$fresh"
echo "BENCH storage agents=$N dur=$DUR db_start=$s0_db db_end=$s1_db wal_peak=$wal_peak" \
  "growth_bytes=$growth per_server_day=$per_day written_bytes=$wr written_per_server_day=$wr_day" \
  "fresh=$fresh fail=$fail"
