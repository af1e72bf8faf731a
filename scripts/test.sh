#!/usr/bin/env bash
# scripts/test.sh — set up, build both flavours (release, ASan+UBSan) and run every test.
# Exits non-zero on any failure. Usage: scripts/test.sh [ctest -L label]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$IRIS_ROOT"

py=$(scripts/setup.sh)
jobs=$(nproc)
status=0
for flavour in release asan; do
  dir=build/$flavour
  opts=(-DIRIS_PYTHON="$py")
  [ "$flavour" = asan ] && opts+=(-DIRIS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  log "configure + build ($flavour)"
  cmake -S . -B "$dir" "${opts[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  log "tests ($flavour)"
  # ASan: fail on leaks too; UBSan already aborts (-fno-sanitize-recover).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" || status=1
done
if [ $status -ne 0 ]; then log "FAILED"; else log "all tests passed (release and asan)"; fi
exit $status
