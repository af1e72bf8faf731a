#!/usr/bin/env bash
# tests/fuzz/run.sh OUTDIR TARGET SECONDS — run one fuzz target built by build.sh in OUTDIR
# for SECONDS, starting from the checked-in seeds (tests/fuzz/corpus/TARGET) plus what earlier
# runs in OUTDIR found, and print one line:
#   fuzz_TARGET: S s, executions: N, findings: K (OUTDIR/findings/TARGET)
# Exit 0 without findings, 1 with findings, 77 when OUTDIR has no such target (no clang).
# TARGET "tmpl" runs bench/fuzz_tmpl.sh (the template engine's own fuzzer) instead.
#
# Environment (bench/fuzz.sh passes them on):
#   FUZZ_RUNS=N     stop after N executions (SECONDS stays the limit of time);
#   FUZZ_FORK=N     N fuzzing processes (libFuzzer's -fork=N) instead of one in-process loop:
#                   N cores' worth, executions summed; default 1;
#   FUZZ_MAX_LEN=B  the longest input (default 8192: above every limit the parsers check
#                   that a fuzzer can reach, and short inputs keep the executions fast).
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
opts=(-max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-8192}" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$findings/")
[ -n "${FUZZ_RUNS:-}" ] && opts+=(-runs="$FUZZ_RUNS")
# Fork mode: a crash, a hang or running out of memory in any process ends the run, as it does
# in-process (libFuzzer would carry on past hangs and OOMs by default).
[ "${FUZZ_FORK:-1}" -gt 1 ] && opts+=(-fork="$FUZZ_FORK" -ignore_timeouts=0 -ignore_ooms=0)
set +e
"$bin" "$corpus" "${opts[@]}" >"$log" 2>&1
status=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
# fork mode prints the total of every process as "#N: cov: ..."
[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
count=$(find "$findings" -type f | wc -l)
took=$(sed -n -e 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
  -e 's/^INFO: exiting: [0-9]* time: \([0-9]*\)s.*/\1/p' "$log" | tail -1)
echo "fuzz_$target: ${took:-$secs} s, executions: ${execs:-unknown}, findings: $count ($findings)"
if [ "$count" -gt 0 ] || [ "$status" -ne 0 ]; then
  tail -40 "$log" >&2
  exit 1
fi
