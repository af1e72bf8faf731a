#!/usr/bin/env bash
# scripts/demo.sh — the main job, locally: set up, build, start the local stack and run the
# demo flow. Grows with the project (see README).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$IRIS_ROOT"

py=$(scripts/setup.sh)
log "build (release)"
cmake -S . -B build/release -DIRIS_PYTHON="$py" >/dev/null
cmake --build build/release -j "$(nproc)" >/dev/null
stack=build/release/stack
trap 'scripts/stack.sh stop "$stack"' EXIT
scripts/stack.sh start "$stack"
IRIS_BUILD_DIR=$IRIS_ROOT/build/release scripts/with-stack.sh "$stack" "$py" "$IRIS_ROOT/scripts/demo.py"
