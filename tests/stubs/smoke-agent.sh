#!/usr/bin/env bash
# THROW-AWAY smoke test of src/agent/main.c + agent.c against the stand-ins in
# tests/stubs (no network, no real gRPC client/collectors). Delete at merge
# together with the stubs. Usage: bash tests/stubs/smoke-agent.sh [build|build/asan]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build}
SAN=""
[ "$OUT" = build/asan ] && SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
BIN=$OUT/stub-lotus-agent
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter $SAN -Isrc -I$OUT/gen \
   -o "$BIN" src/agent/main.c tests/stubs/collect_stub.c tests/stubs/grpc_client_stub.c \
   "$OUT/libagent.a" "$OUT/obj/gen/nezha_v0.pb-c.o" "$OUT/libcore.a" \
   $(pkg-config --libs libuv libprotobuf-c openssl yaml-0.1)
fails=0
check() { if grep -qF -- "$2" "$1"; then echo "ok - $3"; else echo "not ok - $3"; fails=$((fails+1)); fi; }
log=$(mktemp)
LOTUS_AGENT_RETRY_MS=200 "$BIN" -s 127.0.0.1:5555 -p SECRET --ip 203.0.113.1 -d >"$log" 2>&1 &
pid=$!
sleep 2.5
kill -TERM $pid
wait $pid; rc=$?
check "$log" "stub: /proto.NezhaService/ReportSystemInfo" "registers"
check "$log" "stub: /proto.NezhaService/RequestTask" "opens the task stream"
check "$log" "stub: /proto.NezhaService/ReportSystemState" "reports state"
check "$log" "stub: /proto.NezhaService/LookupGeoIP" "looks up GeoIP"
check "$log" "GeoIP country code \"de\"" "stores the country"
check "$log" "TaskResult id=0 type=1 successful=0 data=lotus-agent: task type 1 is not supported yet" "refuses type 1"
check "$log" "TaskResult id=9 type=4 successful=0 data=lotus-agent: task type 4 is not supported yet" "refuses type 4 with a result"
check "$log" "task type 8: refused" "refuses type 8 (log)"
check "$log" "task type 99: unknown" "drops unknown types"
check "$log" "malformed task message" "drops malformed tasks"
check "$log" "reconnecting in" "reconnects after the stream ends"
check "$log" "stopped" "shuts down on SIGTERM"
if grep -q "NO-SECRET" "$log"; then echo "not ok - every call carries client_secret"; fails=$((fails+1)); else echo "ok - every call carries client_secret"; fi
[ "$rc" -eq 0 ] && echo "ok - exit 0" || { echo "not ok - exit $rc"; fails=$((fails+1)); }
n=$(grep -c "task type 1: refused" "$log" || true)
[ "$n" -eq 1 ] && echo "ok - log once per type" || { echo "not ok - log once per type ($n)"; fails=$((fails+1)); }
# disable flags
LOTUS_AGENT_RETRY_MS=200 "$BIN" -s 127.0.0.1:5555 -p SECRET --ip 203.0.113.1 --disable-send-query \
  --disable-command-execute >"$log.2" 2>&1 &
pid=$!; sleep 1; kill -TERM $pid; wait $pid || true
check "$log.2" "type=1 successful=0 data=此 Agent 已禁止发送请求" "--disable-send-query refusal text"
check "$log.2" "type=4 successful=0 data=此 Agent 已禁止命令执行" "--disable-command-execute refusal text"
# authentication failure
STUB_AUTH_FAIL=1 LOTUS_AGENT_RETRY_MS=100 "$BIN" -p WRONG --ip 203.0.113.1 >"$log.3" 2>&1 &
pid=$!; sleep 1; kill -TERM $pid; wait $pid || true
n=$(grep -c "authentication failed: the dashboard rejected the secret (客户端认证失败)" "$log.3" || true)
[ "$n" -ge 2 ] && echo "ok - auth failure logged per retry ($n)" || { echo "not ok - auth failure lines: $n"; fails=$((fails+1)); }
[ $fails -eq 0 ] || { echo "---- log"; cat "$log"; }
rm -f "$log" "$log.2" "$log.3"
exit $fails
