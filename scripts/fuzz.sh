#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, ASan and UBSan in
# ./build-fuzz and runs each one on a copy of its corpus (fuzz/corpus/<name>)
# for an equal share of the time given. Fails on the first crash, leak,
# sanitizer report or timeout; the input that caused it is kept in
# build-fuzz/findings/<name>/.
# Usage: scripts/fuzz.sh [--seconds N] [--keep-corpus] [target ...]
#   --seconds N     total run time, split between the targets (default 100)
#   --keep-corpus   merge what the run learned back into fuzz/corpus/
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=100
keep=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --keep-corpus) keep=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(request json table_mappings sigv4 dms)
builddir=build-fuzz
if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang meson setup "$builddir" -Dfuzz=true -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C "$builddir" $(printf 'fuzz/fuzz_%s ' "${targets[@]}")
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
per=$(( seconds / ${#targets[@]} ))
[ "$per" -ge 1 ] || per=1
status=0
for t in "${targets[@]}"; do
  work="$builddir/corpus/$t"
  findings="$builddir/findings/$t"
  rm -rf "$work"
  mkdir -p "$work" "$findings"
  cp fuzz/corpus/"$t"/* "$work"/
  echo "fuzz_$t: ${per}s"
  if ! "$builddir/fuzz/fuzz_$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
       -max_len=8192 -print_final_stats=1 -artifact_prefix="$findings/" \
       -dict=fuzz/json.dict "$work" 2>"$builddir/fuzz_$t.log"; then
    tail -60 "$builddir/fuzz_$t.log"
    echo "fuzz_$t FAILED: the input is in $findings/" >&2
    status=1
    continue
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)" "$builddir/fuzz_$t.log" |
    tr '\n' ' '
  echo
  if [ "$keep" = 1 ]; then
    "$builddir/fuzz/fuzz_$t" -merge=1 fuzz/corpus/"$t" "$work" 2>/dev/null
  fi
done
exit $status
