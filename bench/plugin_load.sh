#!/usr/bin/env bash
# bench/plugin_load.sh [BUILD_DIR] — packaged sizes and plugin load times.
# Prints the layer's size (zipped/unpacked) and, for each plugin, the median and max time
# to load and check it (dlopen + entry point + ABI checks, as the loader measures it) over
# 25 cold processes, using the harness from the build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/package.sh "$build" "$out"
for _ in $(seq 25); do
  "$build/lambda/tools/iris-plugin-harness" --dir "$build/plugins/out" --list
done | python3 -c '
import json, sys, statistics
t = {}
for line in sys.stdin:
    d = json.loads(line)
    t.setdefault(d["plugin"], []).append(d["load_us"])
for name, v in sorted(t.items()):
    print(f"plugin {name:8s} load+check: median {statistics.median(v):6.0f} us, max {max(v):6d} us ({len(v)} runs)")
'
