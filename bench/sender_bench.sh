#!/usr/bin/env bash
# bench/sender_bench.sh [--count|--trace] [N] — records/s and peak memory of one sender process (see sender_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
stack=build/release/bench-stack  # its own moto: never replaces the one the tests are using
scripts/stack.sh start "$stack" >/dev/null
trap 'scripts/stack.sh stop "$stack"' EXIT
scripts/with-stack.sh "$stack" python bench/sender_bench.py "${@:-2000}"
