#!/usr/bin/env bash
# `make run`: start the dashboard on ./data (embedded SQLite) plus a local agent
# reporting to it; print the URL and the first-login credentials. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build}
DATA=${LOTUS_DATA:-./data}
HTTP=${LOTUS_HTTP:-0.0.0.0:8008}
GRPC=${LOTUS_GRPC:-0.0.0.0:5555}
GRPC_PORT=${GRPC##*:}
HTTP_PORT=${HTTP##*:}
DASH="$OUT/lotus-dashboard"
AGENT="$OUT/lotus-agent"

mkdir -p "$DATA"
chmod 700 "$DATA"
log="$DATA/dashboard.log"
: > "$log"

# A server for the local agent, created once and remembered (secret file 0600).
secret_file="$DATA/local-agent.secret"
if [ ! -s "$secret_file" ] || ! "$DASH" --data "$DATA" server list | grep -q '"name":"local"'; then
  umask 077
  "$DASH" --data "$DATA" server add --name local --tag local |
    sed -n 's/.*"secret":"\([0-9A-Za-z]*\)".*/\1/p' > "$secret_file"
fi
secret=$(cat "$secret_file")

# stdout carries the first-start password: keep it out of the log (a 0600 file, removed below).
out="$DATA/.dashboard-stdout"
( umask 077; : > "$out" )
"$DASH" --data "$DATA" --http "$HTTP" --grpc "$GRPC" >"$out" 2> >(tee -a "$log" >&2) &
dash_pid=$!
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  kill "$dash_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 150); do
  if grep -q "HTTP listening" "$log" 2>/dev/null; then break; fi
  kill -0 "$dash_pid" 2>/dev/null || { echo "make run: the dashboard did not start (see $log)" >&2; exit 1; }
  sleep 0.1
done

# The dashboard prints the admin password once, on its first start; keep it for make run.
pw_file="$DATA/initial-admin-password"
if [ ! -s "$pw_file" ]; then
  umask 077
  sed -n 's/.*initial admin password: \([0-9A-Za-z]*\).*/\1/p' "$out" | tail -n 1 > "$pw_file"
fi
rm -f "$out"

"$AGENT" -s "127.0.0.1:$GRPC_PORT" -p "$secret" &
agent_pid=$!

echo
echo "  Lotus dashboard: http://127.0.0.1:$HTTP_PORT/"
if [ -s "$pw_file" ]; then
  echo "  login:           admin / $(cat "$pw_file")   (saved in $pw_file)"
else
  echo "  login:           an admin account exists already in $DATA; reset it with"
  echo "                   $DASH --data $DATA user passwd admin"
fi
echo "  local agent:     reporting to 127.0.0.1:$GRPC_PORT as server 'local'"
echo "  Ctrl-C stops both."
echo
wait "$dash_pid"
