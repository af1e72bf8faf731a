#!/usr/bin/env bash
# bench/coordinator_bench.sh [BURST] [ACTIVE] — burst of new incidents until all first pages are
# enqueued, and tick duration with many active incidents (see coordinator_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
stack=build/bench-stack  # its own: a test run stopping build/release/stack must not stop this
scripts/stack.sh start "$stack" >/dev/null
trap 'scripts/stack.sh stop "$stack"' EXIT
IRIS_BUILD_DIR=$PWD/build/release scripts/with-stack.sh "$stack" python bench/coordinator_bench.py "${1:-6000}" "${2:-10000}"
