#!/usr/bin/env bash
# Smoke run of every bench (docs/benchmarks.md) so that they never rot: each runs with tiny
# durations and must end with its BENCH line, with figures that make sense (processes
# measured, reports acknowledged, no failures, every simulated server fresh). Timings are
# not judged here. Under the ASan build the benches are skipped: timings mean nothing there.
# TAP output; env LOTUS_BUILD = build directory (default build).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${LOTUS_BUILD:-build}
names=("agent-footprint smoke" "ingest smoke" "storage smoke" "grpc-unary smoke" "api smoke" "ws-fanout smoke" "https-idle smoke" "monitor-storage smoke")
echo "1..${#names[@]}"
case "$OUT" in
  *asan*)
    for i in "${!names[@]}"; do echo "ok $((i + 1)) - ${names[$i]} # SKIP [outside-deps] timings mean nothing under ASan"; done
    exit 0 ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# field LINE KEY -> value of KEY=VALUE in LINE (empty when absent)
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }
# check N NAME CMD... : runs the bench, then the named sanity function on its BENCH line
check() {
  local n=$1 name=$2 sane=$3; shift 3
  "$@" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "not ok $n - $name (exit status $rc)"; sed 's/^/# /' "$log" | tail -n 30; return
  fi
  local line; line=$(grep '^BENCH ' "$log" | tail -1)
  local why; why=$($sane "$line")
  if [ -z "$line" ]; then
    echo "not ok $n - $name (no BENCH line)"; sed 's/^/# /' "$log" | tail -n 30
  elif [ -n "$why" ]; then
    echo "not ok $n - $name ($why)"; echo "# $line"
  else
    echo "ok $n - $name"
  fi
}
pos() { # key... : each must be a positive number in $line
  local k v
  for k in "$@"; do
    v=$(field "$line" "$k")
    awk -v v="$v" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 > 0) }' || { echo "$k=$v not > 0"; return; }
  done
}
eq() { # key value
  local v; v=$(field "$line" "$1")
  [ "$v" = "$2" ] || echo "$1=$v, expected $2"
}
sane_footprint() {
  local line=$1 r
  r=$(pos lotus_samples ne_samples lotus_rss_kib lotus_hwm_kib ne_rss_kib lotus_bin ne_bin \
      ne_cpu_s_per_k rss_ratio bin_ratio); [ -n "$r" ] && { echo "$r"; return; }
  eq dur 10
}
sane_ingest() {
  local line=$1 r
  r=$(pos idle_rss_kib n50_idle_rss_kib n50_rss_kib n50_ok n50_p50_us n50_p99_us)
  [ -n "$r" ] && { echo "$r"; return; }
  r=$(eq n50_fail 0); [ -n "$r" ] && { echo "$r"; return; }
  eq n50_fresh 50
}
sane_storage() {
  local line=$1 r
  r=$(pos db_end); [ -n "$r" ] && { echo "$r"; return; }
  r=$(eq fail 0); [ -n "$r" ] && { echo "$r"; return; }
  eq fresh 20
}
sane_unary() {
  local line=$1 r
  r=$(pos m1 m16 m64); [ -n "$r" ] && { echo "$r"; return; }
  eq failed 0
}

sane_api() {
  local line=$1 r
  r=$(pos lotus_rps nginx_rps bytes); [ -n "$r" ] && { echo "$r"; return; }
  eq servers 50
}

sane_ws() {
  local line=$1 r
  r=$(pos frames_per_s min_frames dash_rss_kib); [ -n "$r" ] && { echo "$r"; return; }
  r=$(eq dropped 0); [ -n "$r" ] && { echo "$r"; return; }
  eq connected 50
}

sane_https() {
  local line=$1 r
  r=$(pos tls_rss_delta_kib tls_kib_per_conn); [ -n "$r" ] && { echo "$r"; return; }
  r=$(eq failed 0); [ -n "$r" ] && { echo "$r"; return; }
  eq conns 20
}

sane_monstore() {
  local line=$1 r
  r=$(pos rows_per_day bytes_day1 per_monitor_day bytes_end); [ -n "$r" ] && { echo "$r"; return; }
  eq days 2
}

check 1 "${names[0]}" sane_footprint bash bench/agent-footprint.sh --smoke "$OUT"
check 2 "${names[1]}" sane_ingest bash bench/ingest.sh --smoke "$OUT"
check 3 "${names[2]}" sane_storage bash bench/storage.sh --smoke "$OUT"
check 4 "${names[3]}" sane_unary bash bench/grpc-unary.sh --quick "$OUT"
check 5 "${names[4]}" sane_api bash bench/api.sh --smoke "$OUT"
check 6 "${names[5]}" sane_ws bash bench/ws-fanout.sh --smoke "$OUT"
check 7 "${names[6]}" sane_https bash bench/https-idle.sh --smoke "$OUT"
check 8 "${names[7]}" sane_monstore bash bench/monitor-storage.sh --smoke "$OUT"
