#!/usr/bin/env bash
# bench/fuzz_tmpl.sh [SECONDS] — fuzz the template engine with libFuzzer + ASan + UBSan.
# Builds core/tmpl*.c with clang into build/fuzz, seeds the corpus with every conformance case
# (template NUL context), runs for SECONDS (default 120) on all cores (FUZZ_JOBS=N: N
# workers), and prints the number of executions and of findings (crash-/leak-/timeout-
# files). Exit 1 if anything was found. The corpus grows in build/fuzz/corpus across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
out=build/fuzz
mkdir -p "$out/corpus" "$out/findings"
command -v clang >/dev/null || { echo "clang is required (scripts/setup.sh installs it)" >&2; exit 2; }
srcs=(core/tmpl/tmpl_*.c core/base/alloc.c core/base/buf.c core/base/err.c core/base/url.c core/base/utf8.c)
clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -Icore/tmpl -Icore/base -Iplugin-api "${srcs[@]}" tests/tmpl/fuzz_tmpl.c \
  $(pkg-config --cflags --libs jansson) -lunistring -lm -pthread -o "$out/fuzz_tmpl"
python3 - "$out/corpus" <<'PY'
import json, sys, os, hashlib
doc = json.load(open("tests/tmpl/cases.json"))
for c in doc["cases"]:
    data = c["template"].encode() + b"\0" + json.dumps(c["context"]).encode()
    open(os.path.join(sys.argv[1], hashlib.sha1(data).hexdigest()), "wb").write(data)
PY
jobs=${FUZZ_JOBS:-$(nproc)}
log=$out/fuzz.log
"$out/fuzz_tmpl" "$out/corpus" -max_total_time="$secs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -jobs="$jobs" -workers="$jobs" -artifact_prefix="$out/findings/" \
  >"$log" 2>&1 || true
# Each worker logs "Done N runs in S second(s)"; add them up.
execs=$(cat fuzz-*.log "$log" 2>/dev/null | sed -n 's/^Done \([0-9]*\) runs.*/\1/p' | awk '{s+=$1} END {print s+0}')
findings=$(find "$out/findings" -type f | wc -l)
rm -f fuzz-*.log
echo "fuzz_tmpl: ${secs}s on $jobs workers, executions: ${execs:-unknown}, findings: $findings ($out/findings)"
[ "$findings" -eq 0 ]
