#!/usr/bin/env bash
# Source and binary checks, printed as TAP:
#   - scripts/check-src (banned functions, header self-containment, dependency rule,
#     include loops, clang-format), renumbered; its function length report is
#     "# info" comments, passed through;
#   - build hardening of $LOTUS_BUILD/lotus-dashboard and lotus-agent:
#     PIE (ELF type DYN, FLAGS_1 PIE), full RELRO (GNU_RELRO segment plus
#     BIND_NOW / FLAGS_1 NOW), stack protector (__stack_chk_fail referenced),
#     and in the release flavour _FORTIFY_SOURCE (__*_chk functions referenced).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${LOTUS_BUILD:-build}
n=0
fail=0

# check-src numbers its own lines from 1; renumber into this file's sequence.
out=$(bash scripts/check-src "$build")
rc=$?
while IFS= read -r line; do
  case "$line" in
    "ok "[0-9]*|"not ok "[0-9]*)
      n=$((n + 1))
      echo "$line" | sed -E "s/^(not )?ok [0-9]+/\1ok $n/"
      ;;
    1..*) ;;
    *) echo "$line" ;;
  esac
done <<<"$out"
[ "$rc" -ne 0 ] && fail=1

check() { # description, then a command that succeeds when the property holds
  local what=$1; shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; fail=1; fi
}

for bin in "$build/lotus-dashboard" "$build/lotus-agent"; do
  name=$(basename "$bin")
  if [ ! -x "$bin" ]; then
    n=$((n + 1)); echo "not ok $n - $name: not built ($bin)"; fail=1
    continue
  fi
  hdr=$(readelf -h "$bin")
  dyn=$(readelf -d "$bin")
  seg=$(readelf -lW "$bin")
  syms=$(readelf --dyn-syms -W "$bin")
  check "$name: PIE (ELF type DYN, FLAGS_1 PIE)" \
    bash -c 'grep -q "Type: *DYN" <<<"$1" && grep -Eq "FLAGS_1.*\bPIE\b" <<<"$2"' _ "$hdr" "$dyn"
  check "$name: full RELRO (GNU_RELRO segment, BIND_NOW, FLAGS_1 NOW)" \
    bash -c 'grep -q GNU_RELRO <<<"$1" && grep -Eq "\(FLAGS\).*BIND_NOW" <<<"$2" &&
             grep -Eq "FLAGS_1.*\bNOW\b" <<<"$2"' _ "$seg" "$dyn"
  check "$name: stack protector (__stack_chk_fail referenced)" grep -q "__stack_chk_fail" <<<"$syms"
  if [ "$build" = build ]; then
    check "$name: _FORTIFY_SOURCE (__*_chk functions referenced)" \
      grep -Eq " __[a-z_]+_chk@" <<<"$syms"
  fi
done
echo "1..$n"
exit "$fail"
