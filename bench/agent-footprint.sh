#!/usr/bin/env bash
# Agent footprint against a reference measured in the same run on the same machine:
# lotus-agent reporting every second to a local lotus-dashboard, and Debian's
# prometheus-node-exporter (default collectors) scraped once a second by a curl loop,
# both for the same wall-clock window.
#
# Usage: bench/agent-footprint.sh [--quick|--smoke] [--duration SECONDS] [--probes] [BUILD_DIR]
#   default 600 s, --quick 60 s, --smoke 10 s (only checks that the bench still works).
#   --probes: the dashboard also has three service monitors for the agent to run during the
#   window (HTTP GET of the dashboard's page every 5 s, TCP connect to its gRPC port every 5 s,
#   ICMP echo to 127.0.0.1 every 10 s), written into its database before it starts.
# Figures per process, from /proc/PID/{status,stat} (start and end of the window):
#   peak RSS (VmHWM), final RSS (VmRSS) split into RssAnon (heap, stacks) and RssFile
#   (mapped binary and shared libraries), Pss (shared pages divided among their users),
#   CPU seconds per 1000 samples (on-CPU ns from /proc/PID/task/*/schedstat; utime+stime
#   from /proc/PID/stat shown as a cross-check), CPU % of one core, stripped binary size.
# A sample is one state report (agent: window / --report-delay) or one successful scrape.
# Prints a table and one final machine-readable line:
#   BENCH agent_footprint dur=<s> lotus_hwm_kib=.. lotus_rss_kib=.. lotus_anon_kib=..
#     lotus_pss_kib=.. lotus_cpu_s_per_k=.. lotus_cpu_pct=.. lotus_bin=.. lotus_samples=..
#     ne_<same> ... rss_ratio=<lotus/ne> hwm_ratio=.. cpu_ratio=.. bin_ratio=..
# Loopback only; every process started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=600
WARMUP=5
PROBES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --probes) PROBES=1; shift ;;
    --quick) DUR=60; shift ;;
    --smoke) DUR=10; WARMUP=2; shift ;;
    --duration) DUR=$2; shift 2 ;;
    -*) echo "usage: $0 [--quick|--smoke] [--duration S] [--probes] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
OUT=${1:-build}
case "$DUR" in ''|*[!0-9]*) echo "bench: bad duration '$DUR'" >&2; exit 2 ;; esac
[ "$DUR" -ge 1 ] && [ "$DUR" -le 86400 ] || { echo "bench: duration must be 1..86400 s" >&2; exit 2; }
NE=/usr/bin/prometheus-node-exporter
[ -x "$NE" ] || { echo "bench: $NE missing (scripts/deps.sh installs prometheus-node-exporter)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl missing" >&2; exit 1; }
for b in "$OUT/lotus-dashboard" "$OUT/lotus-agent"; do
  [ -x "$b" ] || { echo "bench: $b missing (make all)" >&2; exit 1; }
done

. bench/lib.sh
bench_init
tmp=$bench_tmp

gport=$(free_port)
hport=$(free_port)
neport=$(free_port)
secret=$("$OUT/lotus-dashboard" --data "$tmp/data" server add --name footprint 2>/dev/null |
  sed -n 's/.*"secret":"\([0-9A-Za-z]*\)".*/\1/p')
[ -n "$secret" ] || { echo "bench: server add failed" >&2; exit 1; }
if [ "$PROBES" = 1 ]; then
  command -v sqlite3 >/dev/null || { echo "bench: sqlite3 missing (scripts/deps.sh)" >&2; exit 1; }
  now=$(date +%s000)
  sqlite3 "$tmp/data/sqlite.db" "INSERT INTO monitors (name, type, target, duration, created_at,
    updated_at) VALUES ('http', 1, 'http://127.0.0.1:$hport/', 5, $now, $now),
    ('tcp', 3, '127.0.0.1:$gport', 5, $now, $now), ('icmp', 2, '127.0.0.1', 10, $now, $now)"
fi
"$OUT/lotus-dashboard" --data "$tmp/data" --http "127.0.0.1:$hport" --grpc "127.0.0.1:$gport" \
  >"$tmp/dash.log" 2>&1 &
bench_pids+=($!)
wait_port "$gport"

LOTUS_AGENT_RETRY_MS=500 "$OUT/lotus-agent" -s "127.0.0.1:$gport" -p "$secret" --report-delay 1 \
  --ip 127.0.0.1 >"$tmp/agent.log" 2>&1 &
apid=$!
bench_pids+=($apid)
"$NE" --web.listen-address="127.0.0.1:$neport" >"$tmp/ne.log" 2>&1 &
nepid=$!
bench_pids+=($nepid)
wait_port "$neport"

# The scraper: one GET per second on a fixed schedule, bounded by the window; counts successes.
scrape() { # seconds outfile
  local n=0 i t0 next now
  t0=${EPOCHREALTIME/./}
  for ((i = 0; i < $1; i++)); do
    curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$neport/metrics" && n=$((n + 1))
    next=$((t0 + (i + 1) * 1000000)); now=${EPOCHREALTIME/./}
    [ "$next" -gt "$now" ] && sleep "$(printf '0.%06d' $((next - now)))"
  done
  echo "$n" >"$2"
}
# Warm-up: the agent connects and sends its first reports, node_exporter sees its first scrapes.
scrape "$WARMUP" "$tmp/warm.count"
alive "$apid" lotus-agent "$tmp/agent.log"; alive "$nepid" node_exporter "$tmp/ne.log"

a0=$(cpu_ticks "$apid"); n0=$(cpu_ticks "$nepid"); t0=${EPOCHREALTIME/./}
ans0=$(cpu_ns "$apid"); nns0=$(cpu_ns "$nepid")
scrape "$DUR" "$tmp/scrape.count"
a1=$(cpu_ticks "$apid"); n1=$(cpu_ticks "$nepid"); t1=${EPOCHREALTIME/./}
ans1=$(cpu_ns "$apid"); nns1=$(cpu_ns "$nepid")
alive "$apid" lotus-agent "$tmp/agent.log"; alive "$nepid" node_exporter "$tmp/ne.log"
a_hwm=$(status_kib "$apid" VmHWM); a_rss=$(status_kib "$apid" VmRSS); a_anon=$(status_kib "$apid" RssAnon)
a_file=$(status_kib "$apid" RssFile); a_pss=$(pss_kib "$apid")
n_file=$(status_kib "$nepid" RssFile); n_pss=$(pss_kib "$nepid")
n_hwm=$(status_kib "$nepid" VmHWM); n_rss=$(status_kib "$nepid" VmRSS); n_anon=$(status_kib "$nepid" RssAnon)
ne_samples=$(<"$tmp/scrape.count")

# The agent must really have been reporting: the dashboard's LastActive is persisted every 5 s.
sleep 1
active=$("$OUT/lotus-dashboard" --data "$tmp/data" server list 2>/dev/null |
  sed -n 's/.*"last_active":\([0-9]*\).*/\1/p' | head -1)
age=$(( $(date +%s) - ${active:-0} ))
[ "$age" -le 10 ] || { echo "bench: the agent is not reporting (last_active ${age}s ago); log:" >&2;
  cat "$tmp/agent.log" >&2; exit 1; }

strip -o "$tmp/agent.stripped" "$OUT/lotus-agent"
strip -o "$tmp/ne.stripped" "$NE" 2>/dev/null || cp "$NE" "$tmp/ne.stripped"
a_bin=$(stat -c %s "$tmp/agent.stripped"); n_bin=$(stat -c %s "$tmp/ne.stripped")

# CPU: the kernel's on-CPU nanoseconds (schedstat) are the figure; utime+stime ticks
# (10 ms resolution) are printed next to them as a cross-check.
hz=$(getconf CLK_TCK)
read -r wall a_tk n_tk a_cpu n_cpu a_samples a_perk n_perk a_pct n_pct < <(
  awk -v a0="$a0" -v a1="$a1" -v n0="$n0" -v n1="$n1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
      -v an0="$ans0" -v an1="$ans1" -v nn0="$nns0" -v nn1="$nns1" -v ns="$ne_samples" 'BEGIN {
    wall = (t1 - t0) / 1e6
    as = int(wall + 0.5)                       # one report per second (--report-delay 1)
    ac = (an1 - an0) / 1e9; nc = (nn1 - nn0) / 1e9
    printf "%.1f %.2f %.2f %.4f %.4f %d %.4f %.4f %.4f %.4f\n", wall, (a1 - a0) / hz, (n1 - n0) / hz,
      ac, nc, as, as ? ac / as * 1000 : 0, ns ? nc / ns * 1000 : 0, ac / wall * 100, nc / wall * 100
  }')
row() { printf '%-30s %14s %16s %10s\n' "$@"; }

printf 'window %s s, loopback, same machine; node_exporter with its default collectors\n' "$wall"
row "" "lotus-agent" "node_exporter" "lotus/ne"
row "samples (reports / scrapes)" "$a_samples" "$ne_samples" ""
row "peak RSS VmHWM (KiB)" "$a_hwm" "$n_hwm" "$(ratio "$a_hwm" "$n_hwm")"
row "final RSS VmRSS (KiB)" "$a_rss" "$n_rss" "$(ratio "$a_rss" "$n_rss")"
row "  of which RssAnon (KiB)" "$a_anon" "$n_anon" "$(ratio "$a_anon" "$n_anon")"
row "  of which RssFile (KiB)" "$a_file" "$n_file" "$(ratio "$a_file" "$n_file")"
row "final Pss (KiB)" "$a_pss" "$n_pss" "$(ratio "$a_pss" "$n_pss")"
row "CPU s in window" "$a_cpu" "$n_cpu" ""
row "  utime+stime s (10 ms ticks)" "$a_tk" "$n_tk" ""
row "CPU s per 1000 samples" "$a_perk" "$n_perk" "$(ratio "$a_perk" "$n_perk")"
row "CPU % of one core" "$a_pct" "$n_pct" ""
row "stripped binary (bytes)" "$a_bin" "$n_bin" "$(ratio "$a_bin" "$n_bin")"
if [ "$PROBES" = 1 ]; then
  results=$(sqlite3 "$tmp/data/sqlite.db" "SELECT COUNT(*) FROM monitor_history" 2>/dev/null || echo 0)
  printf 'probes on: 3 monitors; %s history rows written by the dashboard in the window\n' "$results"
fi
echo "BENCH agent_footprint dur=$DUR probes=$PROBES lotus_hwm_kib=$a_hwm lotus_rss_kib=$a_rss lotus_anon_kib=$a_anon" \
  "lotus_pss_kib=$a_pss lotus_cpu_s_per_k=$a_perk lotus_cpu_pct=$a_pct lotus_bin=$a_bin" \
  "lotus_samples=$a_samples ne_hwm_kib=$n_hwm ne_rss_kib=$n_rss ne_anon_kib=$n_anon ne_pss_kib=$n_pss" \
  "ne_cpu_s_per_k=$n_perk ne_cpu_pct=$n_pct ne_bin=$n_bin ne_samples=$ne_samples" \
  "rss_ratio=$(ratio "$a_rss" "$n_rss") hwm_ratio=$(ratio "$a_hwm" "$n_hwm")" \
  "cpu_ratio=$(ratio "$a_perk" "$n_perk") bin_ratio=$(ratio "$a_bin" "$n_bin")"
