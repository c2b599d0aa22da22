#!/usr/bin/env bash
# Dashboard ingest capacity: N simulated agents (bench/ingest.c), each on its own h2c
# connection with its own server secret, ReportSystemInfo once, a RequestTask stream held
# open, ReportSystemState every second with changing values. For each step N the dashboard
# starts on a fresh data dir holding exactly N servers, then:
#   idle RSS with the N servers loaded and no agent connected;
#   ramp (all agents connect and register) and a measurement window of DUR seconds in which
#   every generator process counts the same wall-clock interval;
#   dashboard CPU % of one core (on-CPU ns of all its threads over the window), RSS at the
#   end and peak RSS (VmHWM), report latency p50/p99/p99.9/max (generator: send of the
#   State to its final status, merged histograms), failures, and how many of the N servers
#   the dashboard's own `server list` shows fresh (last_active within 10 s; persisted
#   every 5 s).
# Plus the idle RSS of a dashboard with an empty database.
#
# Usage: bench/ingest.sh [--quick|--smoke] [--steps "N ..."] [--duration S] [--procs P]
#                        [BUILD_DIR]
#   default steps 100 1000 5000 10000, 30 s each; --quick 1000 10000, 15 s; --smoke 50, 5 s.
#   --procs: generator processes per step (default: 1 up to 1000 agents, else 2, so that the
#   generator's loop latency does not pile onto the latency it measures on a 2-core box).
# Prints a table and one final machine-readable line:
#   BENCH ingest idle_rss_kib=<empty db> n<N>_cpu_pct=.. n<N>_rss_kib=.. n<N>_hwm_kib=..
#     n<N>_idle_rss_kib=.. n<N>_p50_us=.. n<N>_p99_us=.. n<N>_ok=.. n<N>_fail=.. n<N>_fresh=.. ...
# fail = rejected + failed + bad receipts + overruns + connect failures + lost connections +
# ended task streams + agents not registered at the end of the window.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="100 1000 5000 10000"
DUR=30
PROCS=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) STEPS="1000 10000"; DUR=15; shift ;;
    --smoke) STEPS="50"; DUR=5; shift ;;
    --steps) STEPS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    -*) echo "usage: $0 [--quick|--smoke] [--steps \"N ...\"] [--duration S] [--procs P] [BUILD_DIR]" >&2
        exit 2 ;;
    *) break ;;
  esac
done
OUT=${1:-build}
for v in $STEPS $DUR ${PROCS:-1}; do
  case "$v" in ''|*[!0-9]*) echo "bench: '$v' is not a number" >&2; exit 2 ;; esac
done
[ "$DUR" -ge 1 ] && [ "$DUR" -le 3600 ] || { echo "bench: duration must be 1..3600 s" >&2; exit 2; }
for b in "$OUT/lotus-dashboard"; do
  [ -x "$b" ] || { echo "bench: $b missing (make all)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 missing (scripts/deps.sh)" >&2; exit 1; }
. bench/lib.sh
bench_tool "$OUT" ingest
max_n=0
for n in $STEPS; do
  [ "$n" -ge 1 ] && [ "$n" -le 20000 ] || { echo "bench: steps must be 1..20000" >&2; exit 2; }
  [ "$n" -gt "$max_n" ] && max_n=$n
done
# One fd per connection on each side, plus some: raise the soft limit to what we need.
need=$((max_n + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "bench: ulimit -Hn is $hard, $need file descriptors needed for $max_n agents" >&2; exit 1
fi
ulimit -n "$need"

bench_init
tmp=$bench_tmp

start_dashboard() { # datadir -> sets dash_pid, gport
  gport=$(free_port)
  "$OUT/lotus-dashboard" --data "$1" --http 127.0.0.1:0 --grpc "127.0.0.1:$gport" \
    >"$1.log" 2>&1 &
  dash_pid=$!
  bench_pids+=("$dash_pid")
  wait_port "$gport"
}
stop_dashboard() {
  kill "$dash_pid" 2>/dev/null || true
  wait "$dash_pid" 2>/dev/null || true
}

# Idle: empty database, nothing connected, 2 s after start.
"$OUT/lotus-dashboard" --data "$tmp/idle" server list >/dev/null 2>&1
start_dashboard "$tmp/idle"
sleep 2
idle_rss=$(status_kib "$dash_pid" VmRSS)
stop_dashboard

results=("idle_rss_kib=$idle_rss")
rows=()
total_fail=0
for n in $STEPS; do
  procs=${PROCS:-$([ "$n" -le 1000 ] && echo 1 || echo 2)}
  [ "$procs" -ge 1 ] && [ "$procs" -le "$n" ] || { echo "bench: bad --procs $procs" >&2; exit 2; }
  data="$tmp/n$n"
  make_servers "$OUT" "$data" "$n" "$tmp/secrets.$n" 2>/dev/null
  start_dashboard "$data"
  sleep 2
  idle_n=$(status_kib "$dash_pid" VmRSS)

  # Ramp budget: the agents connect at most 256 at a time per process; a few thousand a
  # second on this box. The window starts at the same wall-clock time for every process.
  ramp_s=$((3 + n / 1000))
  start_us=$(( $(now_us) + ramp_s * 1000000 ))
  end_us=$((start_us + DUR * 1000000))
  gpids=()
  per=$(((n + procs - 1) / procs))
  for ((p = 0; p < procs; p++)); do
    off=$((p * per)); cnt=$((n - off < per ? n - off : per))
    [ "$cnt" -gt 0 ] || continue
    "$OUT/bench/ingest" --port "$gport" --secrets "$tmp/secrets.$n" --n "$cnt" --offset "$off" \
      --start-at $((start_us / 1000)) --duration "$DUR" --linger 5 --hist "$tmp/hist.$n.$p" \
      >"$tmp/gen.$n.$p.out" 2>"$tmp/gen.$n.$p.err" &
    gpids+=($!)
    bench_pids+=($!)
  done
  sleep_until_us "$start_us"
  alive "$dash_pid" lotus-dashboard "$data.log"
  c0=$(cpu_ns "$dash_pid"); k0=$(cpu_ticks "$dash_pid"); t0=$(now_us); m0=$(machine_busy_ns)
  g0=0; for g in "${gpids[@]}"; do g0=$((g0 + $(cpu_ns "$g"))); done
  sleep_until_us "$end_us"
  c1=$(cpu_ns "$dash_pid"); k1=$(cpu_ticks "$dash_pid"); t1=$(now_us); m1=$(machine_busy_ns)
  g1=0; for g in "${gpids[@]}"; do g1=$((g1 + $(cpu_ns "$g"))); done
  alive "$dash_pid" lotus-dashboard "$data.log"
  rss=$(status_kib "$dash_pid" VmRSS); hwm=$(status_kib "$dash_pid" VmHWM)
  # Freshness, by the dashboard's own account (its CLI reads the database), while the
  # agents still report (they linger 5 s after the window).
  now_s=$(date +%s)
  fresh=$("$OUT/lotus-dashboard" --data "$data" server list 2>/dev/null | tr '{' '\n' |
    sed -n 's/.*"last_active":\([0-9]*\).*/\1/p' | awk -v now="$now_s" '$1 >= now - 10 { c++ } END { print c + 0 }')
  gen_ok=1
  for g in "${gpids[@]}"; do
    # The generators stop 5 s after the end of the window and exit within seconds.
    for _ in $(seq 300); do kill -0 "$g" 2>/dev/null || break; sleep 0.1; done
    wait "$g" || gen_ok=0
  done
  stop_dashboard
  if [ "$gen_ok" -ne 1 ] || [ "$(cat "$tmp"/gen."$n".*.out | grep -c '^INGEST ')" -ne "${#gpids[@]}" ]; then
    echo "bench: a generator failed at N=$n:" >&2; cat "$tmp"/gen."$n".*.err >&2; exit 1
  fi
  # Sum the generators' counters, merge their histograms.
  read -r reg ok fail maxus < <(cat "$tmp"/gen."$n".*.out | awk '/^INGEST / {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]; if (kv[1] == "max_us" && kv[2] > mx) mx = kv[2] }
    } END {
      f = v["rejected"] + v["failed"] + v["bad_receipt"] + v["overrun"] + v["conn_fail"] + v["conn_lost"] + v["stream_end"] + (v["agents"] - v["registered"])
      printf "%d %d %d %d\n", v["registered"], v["ok"], f, mx }')
  read -r p50 p99 p999 < <(cat "$tmp"/hist."$n".* 2>/dev/null | sort -n | awk '
      { k[NR] = $1; c[NR] = $2; t += $2 }
      END { if (!t) { print 0, 0, 0; exit }
        s = 0; a = b = d = -1   # bucket start + half its 10 us width
        for (i = 1; i <= NR; i++) { s += c[i]
          if (i < NR && k[i + 1] == k[i]) continue
          if (a < 0 && s > t * 0.50) a = k[i] + 5
          if (b < 0 && s > t * 0.99) b = k[i] + 5
          if (d < 0 && s > t * 0.999) d = k[i] + 5 }
        print a, b, d }')
  # A bucket's midpoint can pass the slowest sample in it.
  for v in p50 p99 p999; do [ "${!v}" -gt "$maxus" ] && printf -v "$v" '%s' "$maxus"; done
  # CPU in % of one core over the window: the dashboard, the generators, and everything
  # else on the machine (other tenants of a shared box: it takes cores from the dashboard).
  read -r wall cpu_pct gen_pct other_pct < <(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
      -v g0="$g0" -v g1="$g1" -v m0="$m0" -v m1="$m1" 'BEGIN {
      w = (t1 - t0) / 1e6; d = (c1 - c0) / 1e9; g = (g1 - g0) / 1e9; o = (m1 - m0) / 1e9 - d - g
      printf "%.2f %.1f %.1f %.1f\n", w, d / w * 100, g / w * 100, (o > 0 ? o : 0) / w * 100 }')
  tick_pct=$(awk -v k0="$k0" -v k1="$k1" -v w="$wall" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", (k1 - k0) / hz / w * 100 }')
  rps=$(awk -v ok="$ok" -v w="$wall" 'BEGIN { printf "%.0f", ok / w }')
  total_fail=$((total_fail + fail))
  rows+=("$(printf '%6d %5d %9s %7s %7s %7s %7s %9s %9s %9s %8s %8s %8s %8s %6s %6s' "$n" \
    "$procs" "$idle_n" "$cpu_pct" "$tick_pct" "$gen_pct" "$other_pct" "$rss" "$hwm" "$rps" "$p50" \
    "$p99" "$p999" "$maxus" "$fail" "$fresh")")
  results+=("n${n}_idle_rss_kib=$idle_n" "n${n}_cpu_pct=$cpu_pct" "n${n}_rss_kib=$rss"
            "n${n}_hwm_kib=$hwm" "n${n}_rps=$rps" "n${n}_p50_us=$p50" "n${n}_p99_us=$p99"
            "n${n}_p999_us=$p999" "n${n}_max_us=$maxus" "n${n}_ok=$ok" "n${n}_fail=$fail"
            "n${n}_fresh=$fresh" "n${n}_procs=$procs" "n${n}_gen_pct=$gen_pct"
            "n${n}_other_pct=$other_pct")
  rm -rf "$data" "$data.log"
done

printf 'dashboard idle RSS, empty database: %s KiB; window %s s per step; loopback, same machine\n' \
  "$idle_rss" "$DUR"
echo "CPU in % of one core over the window: dashboard (on-CPU ns; utime+stime ticks as a cross-check),"
echo "the generators, and all other processes on the machine (a shared box: they take cores too)"
printf '%6s %5s %9s %7s %7s %7s %7s %9s %9s %9s %8s %8s %8s %8s %6s %6s\n' agents procs "idle KiB" \
  "dash %" "(ticks)" "gen %" "other %" "RSS KiB" "peak KiB" "reports/s" "p50 us" "p99 us" "p99.9 us" \
  "max us" fail fresh
printf '%s\n' "${rows[@]}"
echo "BENCH ingest dur=$DUR ${results[*]} fail=$total_fail"
