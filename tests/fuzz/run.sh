#!/usr/bin/env bash
# tests/fuzz/run.sh OUTDIR TARGET SECONDS — run one fuzz target built by build.sh in OUTDIR
# for SECONDS on one core, starting from the checked-in seeds (tests/fuzz/corpus/TARGET) plus
# what earlier runs in OUTDIR found, and print one line:
#   fuzz_TARGET: S s, executions: N, findings: K (OUTDIR/findings/TARGET)
# Exit 0 without findings, 1 with findings, 77 when OUTDIR has no such target (no clang).
# TARGET "tmpl" runs bench/fuzz_tmpl.sh (the template engine's own fuzzer) instead.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run.sh OUTDIR TARGET SECONDS}
target=${2:?usage: run.sh OUTDIR TARGET SECONDS}
secs=${3:-5}
if [ "$target" = tmpl ]; then
  line=$("$src/bench/fuzz_tmpl.sh" "$secs" 2>&1 | tail -1) || { echo "$line"; exit 1; }
  echo "$line"
  exit 0
fi
bin=$out/fuzz_$target
[ -x "$bin" ] || { echo "fuzz_$target: not built (no clang with libFuzzer?)" >&2; exit 77; }
corpus=$out/corpus/$target
findings=$out/findings/$target
mkdir -p "$corpus" "$findings"
cp -n "$src/tests/fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true
log=$out/$target.log
# -timeout: a single input taking 10 s is a finding (a hang); leaks are findings too.
set +e
"$bin" "$corpus" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1
status=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
count=$(find "$findings" -type f | wc -l)
echo "fuzz_$target: ${secs} s, executions: ${execs:-unknown}, findings: $count ($findings)"
if [ "$count" -gt 0 ] || [ "$status" -ne 0 ]; then
  tail -40 "$log" >&2
  exit 1
fi
