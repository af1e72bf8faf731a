#!/usr/bin/env bash
# bench/coordinator_bench.sh [BURST] [ACTIVE] — burst of new incidents until all first pages are
# enqueued, and tick duration with many active incidents (see coordinator_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
run_with_own_stack build/bench-stack python bench/coordinator_bench.py "${1:-6000}" "${2:-10000}"
