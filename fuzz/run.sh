#!/usr/bin/env bash
# Runs libFuzzer binaries built by `make fuzz`: fuzz/run.sh BUILD_DIR SECONDS NAME...
# Each BUILD_DIR/fuzz_NAME runs for SECONDS on a COPY of fuzz/corpus/NAME (so new corpus
# entries do not land in the repository), with the dictionary of fuzz/dict.map when one
# is listed. Crash inputs go to BUILD_DIR/crashes/. Prints one line per target:
#   fuzz_NAME: EXECS execs in SECONDS s (EXECS/s), corpus A -> B, crash: no|yes (FILE)
# and exits 1 when any target crashed. FUZZ_JOBS=N runs N targets at a time (default 1).
# FUZZ_RUNS=N also stops each target after N executions (SECONDS is then the upper bound).
set -uo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS NAME...}
secs=${2:?seconds}
shift 2
jobs=${FUZZ_JOBS:-1}
work="$out/work"
mkdir -p "$work" "$out/crashes"

dict_for() { # name -> dictionary path or nothing
  awk -v n="$1" '$1 == n { print "fuzz/" $2 }' fuzz/dict.map 2>/dev/null
}

run_one() {
  local name=$1 bin="$out/fuzz_$1" corpus="$work/$1" log="$work/$1.log"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
  local before; before=$(find "$corpus" -type f | wc -l)
  local dict; dict=$(dict_for "$name")
  local args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="$out/crashes/$name-")
  [ -n "$dict" ] && args+=(-dict="$dict")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  local rc=$?
  local execs; execs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log")
  local took; took=$(awk '/stat::average_exec_per_sec/ { print $NF }' "$log")
  local secs_used; secs_used=$(awk '/Done [0-9]+ runs in/ { print $(NF-1) }' "$log")
  local after; after=$(find "$corpus" -type f | wc -l)
  local crash="no"
  if [ "$rc" -ne 0 ]; then
    crash="yes ($(grep -o "$out/crashes/$name-[^ ]*" "$log" | tail -1); see $log)"
  fi
  printf 'fuzz_%s: %s execs in %s s (%s/s), corpus %s -> %s, crash: %s\n' \
    "$name" "${execs:-?}" "${secs_used:-$secs}" "${took:-?}" "$before" "$after" "$crash"
  [ "$rc" -eq 0 ]
}

fail=0
pids=()
for name in "$@"; do
  run_one "$name" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || fail=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || fail=1
done
exit "$fail"
