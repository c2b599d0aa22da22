#!/usr/bin/env bash
# Runs every unit test binary, integration test and browser test for each build directory
# given (e.g. build build/asan). Each test program speaks TAP; only lines at column 0 count:
#   ok N - x                      a pass
#   not ok N - x                  a failure
#   ok N - x # SKIP reason        a skip ("# skip" in any case, after "ok" or "not ok":
#   not ok N # SKIP name          cmocka's skip() in CMOCKA_MESSAGE_OUTPUT=TAP prints this form)
#   1..0 # SKIP reason            the whole program skipped
#   # info ...                    a comment: informational output, never counted
# A program also counts one more failure when it exits non-zero without a "not ok" line,
# when it reports no result at all, or when its results do not add up to its plan (1..N).
#
# Skips are counted and named: before the closing line comes "skipped: prog:test (reason), ...".
#
# Strict skips: with LOTUS_STRICT_SKIPS=1 (`make test` sets it) or, when LOTUS_STRICT_SKIPS is
# unset, CI=true, every skip counts as a FAILURE: what a test needs (chromium, curl, openssl,
# clang-format, node modules, the build) is installed by scripts/deps.sh and `make`, so a skip
# means a test that did not run. The one exception is a skip whose reason carries the marker
#   [outside-deps]
# meaning the test needs something deps.sh cannot provide (root for mount, a file-descriptor
# limit, a Go toolchain, a flavour where the test means nothing such as timings under ASan):
#   ok 1 - disk full # SKIP [outside-deps] cannot mount a tmpfs here (needs root)
# Such a skip stays a skip in strict mode. LOTUS_STRICT_SKIPS=0 turns strict mode off.
#
# Ends with the plain line "N passed, N failed, N skipped" alone on the last line (CI reads
# it); exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

SKIP_OK_MARK='[outside-deps]'
strict=0
case "${LOTUS_STRICT_SKIPS:-}" in
  1 | yes | true) strict=1 ;;
  "") [ "${CI:-}" = true ] && strict=1 ;;
esac

pass=0
fail=0
skipn=0
failed_names=()
skipped_names=()
TIMEOUT_UNIT=${TIMEOUT_UNIT:-120}
TIMEOUT_INT=${TIMEOUT_INT:-300}

# tap_count LOG -> lines "P n", "F n", "PLAN n|-", "S <tab> test <tab> reason" (one per skip)
tap_count() {
  awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    /^1\.\.[0-9]+/ {
      planned = 1; n = $0; sub(/^1\.\./, "", n); plan += n + 0
      low = tolower($0)
      if (n + 0 == 0 && match(low, /#[ \t]*skip/))
        printf "S\t(all)\t%s\n", trim(substr($0, RSTART + RLENGTH))
      next
    }
    /^(not )?ok [0-9]+/ {
      low = tolower($0)
      if (match(low, /#[ \t]*skip/)) {
        name = substr($0, 1, RSTART - 1); why = trim(substr($0, RSTART + RLENGTH))
        sub(/^(not )?ok [0-9]+[ \t]*(-[ \t]*)?/, "", name); name = trim(name)
        if (name == "") { name = why; why = "skip()" }  # cmocka: "not ok N # SKIP name"
        printf "S\t%s\t%s\n", name, why
      } else if ($0 ~ /^not ok/) f++
      else p++
    }
    END { printf "P %d\nF %d\nPLAN %s\n", p, f, planned ? plan : "-" }
  ' "$1"
}

run_one() { # name timeout cmd...
  local name=$1 to=$2; shift 2
  local log; log=$(mktemp)
  local start=$SECONDS
  timeout -k 5 "$to" "$@" >"$log" 2>&1
  local rc=$?
  local p=0 f=0 s=0 sf=0 plan=- notes=() counts rest tname why
  counts=$(tap_count "$log")
  while IFS= read -r line; do
    case "$line" in
      "P "*) p=${line#P } ;;
      "F "*) f=${line#F } ;;
      "PLAN "*) plan=${line#PLAN } ;;
      S$'\t'*)
        rest=${line#S$'\t'}; tname=${rest%%$'\t'*}; why=${rest#*$'\t'}
        if [ "$strict" -eq 1 ] && [[ "$why" != *"$SKIP_OK_MARK"* ]]; then
          sf=$((sf + 1))
          notes+=("skip counted as a failure (strict mode; not marked $SKIP_OK_MARK): $tname ($why)")
        else
          s=$((s + 1))
          skipped_names+=("$name:$tname ($why)")
        fi
        ;;
    esac
  done <<<"$counts"
  f=$((f + sf))
  local total=$((p + f + s))
  if [ "$rc" -ne 0 ] && [ "$(grep -cE '^not ok [0-9]+' "$log")" -eq 0 ]; then
    f=$((f + 1)); notes+=("exit status $rc without a \"not ok\" line")
  fi
  if [ "$total" -eq 0 ]; then
    f=$((f + 1)); notes+=("no TAP result at all")
  elif [ "$plan" != - ] && [ "$plan" -ne 0 ] && [ "$plan" -ne "$total" ]; then
    f=$((f + 1)); notes+=("plan says $plan results, got $total")
  fi
  pass=$((pass + p)); fail=$((fail + f)); skipn=$((skipn + s))
  printf '%-58s %4d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
  if [ "$f" -ne 0 ]; then
    failed_names+=("$name")
    echo "---- output of $name (rc=$rc) ----"
    tail -n 80 "$log"
    for n in "${notes[@]}"; do echo "run-tests: $n"; done
    echo "---- end of $name ----"
  fi
  rm -f "$log"
}

[ "$strict" -eq 1 ] && echo "strict skips: a skip not marked $SKIP_OK_MARK counts as a failure"
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
if [ ${#skipped_names[@]} -ne 0 ]; then
  sk=$(printf '%s, ' "${skipped_names[@]}")
  echo "skipped: ${sk%, }"
fi
echo "$pass passed, $fail failed, $skipn skipped"
[ "$fail" -eq 0 ]
