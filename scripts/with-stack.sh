#!/usr/bin/env bash
# scripts/with-stack.sh STACKDIR CMD... — run CMD with the local stack's endpoints exported
# (STACKDIR/env, written by stack.sh start) and the test venv first on PATH.
set -euo pipefail
dir=${1:?usage: with-stack.sh STACKDIR CMD...}; shift
[ -f "$dir/env" ] || { echo "error: the local stack is not running ($dir/env missing)" >&2; exit 1; }
# shellcheck disable=SC1091
source "$dir/env"
export PATH="$(dirname "$IRIS_PYTHON"):$PATH"
export IRIS_BUILD_DIR=${IRIS_BUILD_DIR:-$(cd "$dir/.." && pwd)}
export IRIS_SOURCE_DIR=${IRIS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
exec "$@"
