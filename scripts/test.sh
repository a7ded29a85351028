#!/usr/bin/env bash
# Runs every test (C unit tests and the pytest integration suite against the
# real daemon and throwaway PostgreSQL clusters) after setting everything up.
# Usage: scripts/test.sh            # regular build in ./build
#        scripts/test.sh --asan     # ASan+UBSan build in ./build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
builddir=build
if [ "${1:-}" = "--asan" ]; then
  builddir=build-asan
  if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug
  fi
  ninja -C "$builddir"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 || status=$?
# One closing line with the totals of every test case that ran.
/usr/bin/python3 scripts/test-summary.py "$builddir/meson-logs/testlog.json" || true
exit $status
