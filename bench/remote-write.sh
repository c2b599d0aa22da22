#!/usr/bin/env bash
# Prometheus remote-write throughput (issue #18): bench/promrw_bench builds snapshots of S
# servers (24 series each, labels id/name/tag), encodes them with the dashboard's promrw code
# (protobuf-c, snappy) and POSTs them one after the other with its libcurl client to Debian's
# prometheus (--web.enable-remote-write-receiver, temp storage, loopback), which ingests them.
#
# Usage: bench/remote-write.sh [--quick|--smoke] [BUILD_DIR]
#   default 10,000 servers x 20 batches (4.8 M samples); --quick 10,000 x 5; --smoke 100 x 3.
# Prints the tool's line: BENCH promrw ... samples_per_s=<encode+compress+POST rate>
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ARGS=(--servers 10000 --batches 20)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ARGS=(--servers 10000 --batches 5); shift ;;
    --smoke) ARGS=(--servers 100 --batches 3); shift ;;
    -*) echo "usage: $0 [--quick|--smoke] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
OUT=${1:-build}
make -s OUT="$OUT" "$OUT/bench/promrw_bench" >/dev/null
bench_init
port=$(free_port)
printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' > "$bench_tmp/prometheus.yml"
/usr/bin/prometheus --config.file="$bench_tmp/prometheus.yml" --storage.tsdb.path="$bench_tmp/tsdb" \
  --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
  > "$bench_tmp/prometheus.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null || { echo "bench: prometheus not ready" >&2; exit 1; }
"$OUT/bench/promrw_bench" "http://127.0.0.1:$port/api/v1/write" "${ARGS[@]}"
