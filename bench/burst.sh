#!/usr/bin/env bash
# bench/burst.sh [N] — N incidents (default 6000) at once through the real coordinator and
# sender bootstraps, 1 and 4 senders, SQS stand-in at 0 and 20 ms (see burst.py). Prints
# figures and draws docs/img/burst.png; set BURST_SENDERS / BURST_SQS_MS to run fewer cases.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
run_with_own_stack build/burst-stack python bench/burst.py "${1:-6000}"
