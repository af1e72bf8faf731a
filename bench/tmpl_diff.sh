#!/usr/bin/env bash
# bench/tmpl_diff.sh [N] [SEED] [BUILD_DIR] — the differential test on demand: N random
# templates (default 100000; SEED default: random) rendered by core/tmpl and by real Jinja2
# (SandboxedEnvironment, autoescape off, as Iris renders), printing the count of each class
# (identical, both-raise, unsupported, differ) and the first cases that differ. Exit 1 if any
# case differs. The ctest unit.tmpl_diff runs 3 000 cases with seed 1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
n=${1:-100000}
seed=${2:-$RANDOM$RANDOM}
build=${3:-build/release}
py=$(iris_venv_dir)/bin/python
[ -x "$build/tests/tmpl/tmpl_diff_driver" ] || { echo "build $build first" >&2; exit 2; }
exec "$py" tests/tmpl/tmpl_diff.py --driver "$build/tests/tmpl/tmpl_diff_driver" \
  --seed "$seed" --count "$n" --show 20
