#!/usr/bin/env bash
# bench/burst.sh [N] — N incidents (default 6000) at once through the real coordinator and
# sender bootstraps, 1 and 4 senders, SQS stand-in at 0 and 20 ms (see burst.py). Prints
# figures and draws docs/img/burst.png; set BURST_SENDERS / BURST_SQS_MS to run fewer cases.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
stack=build/burst-stack  # its own: a test run stopping build/release/stack must not stop this
scripts/stack.sh start "$stack" >/dev/null
trap 'scripts/stack.sh stop "$stack"' EXIT
IRIS_BUILD_DIR=$PWD/build/release scripts/with-stack.sh "$stack" python bench/burst.py "${1:-6000}"
