#!/usr/bin/env bash
# bench/fuzz.sh [SECONDS] [TARGET...] — fuzz every parser long (default 600 s per target) and
# print executions and findings per target. Targets are built by tests/fuzz/build.sh into
# build/fuzz-long (clang, ASan + UBSan); each runs on one core, as many at a time as there are
# cores (FUZZ_JOBS overrides); the corpus grows in build/fuzz-long/corpus across runs;
# findings (crash-, leak-, timeout- files) land in build/fuzz-long/findings/TARGET. The template
# engine's fuzzer (bench/fuzz_tmpl.sh) runs last, on every core. Exit 1 if anything was found.
# FUZZ_RUNS=N stops each target after N executions (SECONDS then only caps the time);
# FUZZ_FORK=N runs each target as N processes (then one target at a time unless FUZZ_JOBS
# says otherwise); FUZZ_MAX_LEN as in tests/fuzz/run.sh. The figures of docs/reliability.md:
#   FUZZ_JOBS=1 FUZZ_RUNS=10000000 nice -n 10 bench/fuzz.sh 3600 TARGET...
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
out=build/fuzz-long
all=(envelope aws_error aws_clients runtime oncall sqs_event plugin_twilio plugin_slack plugin_hipchat
     plugin_smtp notify tmpl)
targets=("${@:-${all[@]}}")
tests/fuzz/build.sh "$out" >/dev/null
jobs=${FUZZ_JOBS:-$(nproc)}
[ "${FUZZ_FORK:-1}" -gt 1 ] && jobs=${FUZZ_JOBS:-1}
results=$out/results.txt
: >"$results"
running=0
for t in "${targets[@]}"; do
  [ "$t" = tmpl ] && continue
  (tests/fuzz/run.sh "$out" "$t" "$secs" 2>/dev/null | tail -1 >>"$results") &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
for t in "${targets[@]}"; do
  [ "$t" = tmpl ] && { bench/fuzz_tmpl.sh "$secs" 2>&1 | tail -1 >>"$results" || true; }
done
sort "$results"
! grep -q 'findings: [1-9]' "$results"
