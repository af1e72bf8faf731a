#!/usr/bin/env bash
# bench/tmpl_bench.sh [BUILD_DIR] — renders/second of Iris's typical templates: our engine
# (tests/tmpl/tmpl_bench, release build) and real Jinja2 (SandboxedEnvironment, autoescape off,
# as Iris renders), same templates and context, one after the other in this run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
build=${1:-build/release}
py=$(iris_venv_dir)/bin/python
[ -x "$build/tests/tmpl/tmpl_bench" ] || { echo "build $build first" >&2; exit 2; }
c=$("$build/tests/tmpl/tmpl_bench" tests/tmpl/bench_templates.json)
j=$("$py" - <<'PY'
import json, time
from jinja2.sandbox import SandboxedEnvironment
doc = json.load(open("tests/tmpl/bench_templates.json"))
env = SandboxedEnvironment(autoescape=False)
for name, src in doc["templates"].items():
    t = env.from_string(src)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for _ in range(200):
            t.render(**doc["context"])
        n += 200
    print(name, round(n / (time.perf_counter() - t0)))
PY
)
printf '%-12s %14s %14s %8s\n' template "iris renders/s" "jinja2 /s" ratio
join <(echo "$c" | sort) <(echo "$j" | sort) | while read -r name ours theirs; do
  printf '%-12s %14s %14s %7.1fx\n' "$name" "$ours" "$theirs" "$(echo "$ours $theirs" | awk '{print $1/$2}')"
done
