#!/usr/bin/env bash
# Replays every fuzz corpus (fuzz/corpus/NAME/, seeds plus every crash input
# found so far) once through its driver, built with gcc and
# fuzz/replay_main.c as $LOTUS_BUILD/replay/fuzz_NAME by `make unit-tests`
# (STYLE rule 45). In the ASan+UBSan flavour any memory error, UB or leak
# fails the line; in the release flavour only crashes and driver invariants
# (abort) do. Prints TAP, one line per fuzz target.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${LOTUS_BUILD:-build}

names=()
for f in fuzz/fuzz_*.c; do
  n=${f#fuzz/fuzz_}
  names+=("${n%.c}")
done
echo "1..${#names[@]}"
i=0
fail=0
for n in "${names[@]}"; do
  i=$((i + 1))
  bin="$build/replay/fuzz_$n"
  corpus="fuzz/corpus/$n"
  if [ ! -x "$bin" ]; then
    echo "not ok $i - fuzz_$n # replayer $bin not built (make unit-tests)"
    fail=1
    continue
  fi
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "not ok $i - fuzz_$n # no seed corpus in $corpus"
    fail=1
    continue
  fi
  log=$(mktemp)
  start=$SECONDS
  if timeout -k 5 120 "$bin" "$corpus" >"$log" 2>&1; then
    echo "ok $i - fuzz_$n: $(grep -o 'replayed [0-9]* inputs' "$log") ($((SECONDS - start))s)"
  else
    echo "not ok $i - fuzz_$n"
    sed 's/^/# /' "$log" | tail -n 40
    fail=1
  fi
  rm -f "$log"
done
exit "$fail"
