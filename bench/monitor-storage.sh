#!/usr/bin/env bash
# Bytes on disk of service-monitor history per monitor and day (issue #14): bench/monitor_storage
# drives the dashboard's own store code with simulated time (see its header): M TCP monitors
# probed by A agents every 30 s for D days, with the hourly retention. Day 1 gives the bytes per
# monitor-day; the later days show that the file stops growing once the retention applies.
#
# Usage: bench/monitor-storage.sh [--quick|--smoke] [BUILD_DIR]
#   default 100 monitors x 50 agents for 3 days (about 5 min); --quick 100 x 50 for 1 day;
#   --smoke 10 x 5 for 2 days.
# Prints the table and the tool's final line: BENCH monitor_storage ... per_monitor_day=<bytes> ...
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=(--monitors 100 --agents 50 --days 3)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ARGS=(--monitors 100 --agents 50 --days 1); shift ;;
    --smoke) ARGS=(--monitors 10 --agents 5 --days 2); shift ;;
    -*) echo "usage: $0 [--quick|--smoke] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
OUT=${1:-build}
make -s OUT="$OUT" "$OUT/bench/monitor_storage" >/dev/null
dir=$(mktemp -d /tmp/lotus-monbench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$OUT/bench/monitor_storage" "${ARGS[@]}" "$dir"
