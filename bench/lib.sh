# Helpers shared by the bench scripts (sourced, not run). Loopback only.
# Every process a script starts goes into bench_pids; bench_cleanup (installed as the
# EXIT trap by bench_init) kills those, by pid, and removes the temp dir (kept, for a look at
# the logs, when BENCH_KEEP is set).

bench_init() { # sets bench_tmp, installs the traps
  bench_tmp=$(mktemp -d)
  bench_pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $bench_tmp" >&2; else rm -rf "$bench_tmp"; fi
}
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # port: up to 10 s
  local _
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "bench: nothing listens on 127.0.0.1:$1" >&2; return 1
}
now_us() { echo "${EPOCHREALTIME/./}"; }
sleep_until_us() { # absolute wall-clock microseconds
  local now; now=$(now_us)
  [ "$1" -gt "$now" ] && sleep "$(awk -v d=$(($1 - now)) 'BEGIN { printf "%.6f", d / 1e6 }')"
  return 0
}
status_kib() { # pid field -> the kB value of that /proc/PID/status field
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
pss_kib() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"; }
cpu_ticks() { # pid -> utime+stime in clock ticks (fields 14, 15; counted after the "(comm)")
  local s; s=$(<"/proc/$1/stat"); s=${s##*) }
  awk '{ print $12 + $13 }' <<<"$s"
}
cpu_ns() { # pid -> on-CPU ns summed over its live threads (/proc/PID/task/*/schedstat field 1)
  { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
machine_busy_ns() { # on-CPU ns of the whole machine, all cores (/proc/stat: all but idle, iowait)
  awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz * 1e9 }' /proc/stat
}
alive() { # pid name logfile
  kill -0 "$1" 2>/dev/null && return 0
  echo "bench: $2 (pid $1) died; log:" >&2; tail -n 40 "$3" >&2; exit 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "inf" }'; }
# Builds a bench tool when it is missing or older than its source (release or asan tree).
bench_tool() { # out name
  local bin="$1/bench/$2"
  if [ ! -x "$bin" ] || [ "bench/$2.c" -nt "$bin" ]; then
    case "$1" in
      build) make -s WERROR=1 "$bin" >&2 ;;
      build/asan) make -s WERROR=1 SANITIZE=address,undefined "$bin" >&2 ;;
      *) echo "bench: $bin missing (make bench-tools)" >&2; return 1 ;;
    esac
  fi
}
# Creates n servers in the data dir (which must not be served yet) and writes their
# secrets, one a line in id order, to the file given. Small n: the CLI, one call each;
# larger n: one `server add` (creates and migrates the database), then one sqlite3
# transaction inserting the rest with 18-character secrets as store.c makes them
# (unique, alphanumeric; here upper-case hex from randomblob).
make_servers() { # out datadir n secrets_file
  local out=$1 data=$2 n=$3 file=$4 i
  "$out/lotus-dashboard" --data "$data" server add --name bench-1 >/dev/null
  if [ "$n" -le 100 ]; then
    for ((i = 2; i <= n; i++)); do
      "$out/lotus-dashboard" --data "$data" server add --name "bench-$i" >/dev/null
    done
  elif [ "$n" -gt 1 ]; then
    sqlite3 "$data/sqlite.db" >/dev/null <<SQL
.bail on
PRAGMA busy_timeout = 5000;
BEGIN IMMEDIATE;
WITH RECURSIVE k(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
INSERT INTO servers (created_at, updated_at, name, secret)
  SELECT ms, ms, 'bench-' || i, hex(randomblob(9))
  FROM k, (SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) AS ms);
COMMIT;
SQL
  fi
  sqlite3 "$data/sqlite.db" "SELECT secret FROM servers ORDER BY id" >"$file"
  [ "$(wc -l <"$file")" -eq "$n" ] || { echo "bench: made $(wc -l <"$file") servers, wanted $n" >&2; return 1; }
}
