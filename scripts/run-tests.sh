#!/usr/bin/env bash
# Runs every unit test binary and integration test for each build directory given
# (e.g. build build/asan). Each test program speaks TAP ("ok N - x" / "not ok N - x").
# A program that exits non-zero without reporting a failure counts as one failure.
# Ends with the plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
failed_names=()
TIMEOUT_UNIT=${TIMEOUT_UNIT:-120}
TIMEOUT_INT=${TIMEOUT_INT:-300}

run_one() { # name timeout cmd...
  local name=$1 to=$2; shift 2
  local log; log=$(mktemp)
  local start=$SECONDS
  timeout -k 5 "$to" "$@" >"$log" 2>&1
  local rc=$?
  local p f
  p=$(grep -E '^ok [0-9]+' "$log" | grep -cviE '# skip')
  f=$(grep -cE '^not ok [0-9]+' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  pass=$((pass + p)); fail=$((fail + f))
  printf '%-58s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
  if [ "$f" -ne 0 ]; then
    failed_names+=("$name")
    echo "---- output of $name (rc=$rc) ----"
    tail -n 80 "$log"
    echo "---- end of $name ----"
  fi
  rm -f "$log"
}

for out in "$@"; do
  echo "== unit tests ($out) =="
  for t in "$out"/tests/test_*; do
    [ -x "$t" ] || continue
    CMOCKA_MESSAGE_OUTPUT=TAP run_one "$t" "$TIMEOUT_UNIT" "$t"
  done
  echo "== integration tests ($out) =="
  for t in tests/integration/[0-9][0-9]-*; do
    [ -f "$t" ] || continue
    case "$t" in
      *.py) LOTUS_BUILD="$out" run_one "$out:$t" "$TIMEOUT_INT" /usr/bin/python3 "$t" ;;
      *.sh) LOTUS_BUILD="$out" run_one "$out:$t" "$TIMEOUT_INT" bash "$t" ;;
    esac
  done
  echo "== browser tests ($out) =="
  for t in tests/browser/*.test.mjs; do
    [ -f "$t" ] || continue
    LOTUS_BUILD="$out" run_one "$out:$t" "$TIMEOUT_INT" node --test --test-reporter=tap "$t"
  done
done

if [ ${#failed_names[@]} -ne 0 ]; then
  echo "failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
