#!/usr/bin/env bash
# bench/fuzz_notify.sh [SECONDS] — fuzz the notify function's request parsers (API Gateway
# events v1/v2, base64 bodies, form decoding, Iris's and Twilio's signatures) with libFuzzer +
# ASan + UBSan. Builds core/notify/{apigw,sign}.c with clang into build/fuzz-notify, seeds the
# corpus with API Gateway events of both formats, runs for SECONDS (default 120) on all cores,
# and prints the number of executions and of findings. Exit 1 if anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
out=build/fuzz-notify
mkdir -p "$out/corpus" "$out/findings"
command -v clang >/dev/null || { echo "clang is required (scripts/setup.sh installs it)" >&2; exit 2; }
srcs=(core/notify/apigw.c core/notify/sign.c core/base/alloc.c core/base/buf.c core/base/err.c core/base/base64.c)
clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -Icore/notify -Icore/base "${srcs[@]}" tests/fuzz/fuzz_notify.c \
  $(pkg-config --cflags --libs jansson) -lcrypto -lm -o "$out/fuzz_notify"
python3 - "$out/corpus" <<'PY'
import base64, hashlib, json, os, sys
d = sys.argv[1]
body = json.dumps({"role": "user", "target": "ada", "subject": "s", "body": "b", "mode": "email"})
form = "MessageSid=SM1&MessageStatus=failed&To=%2B15550100&Body=a+b%20c"
seeds = [
    {"resource": "/v0/notifications", "path": "/v0/notifications", "httpMethod": "POST",
     "headers": {"Authorization": "hmac app:x", "Idempotency-Key": "k"}, "body": body,
     "isBase64Encoded": False, "requestContext": {"stage": "prod", "path": "/prod/v0/notifications"},
     "multiValueQueryStringParameters": {"a": ["1", "2"]}},
    {"version": "2.0", "rawPath": "/prod/v0/twilio/calls/status", "rawQueryString": "x=1",
     "headers": {"x-twilio-signature": "abc=", "host": "h"}, "body": base64.b64encode(form.encode()).decode(),
     "isBase64Encoded": True, "requestContext": {"stage": "prod", "domainName": "h",
                                                 "http": {"method": "POST", "path": "/prod/v0/twilio/calls/status"}}},
]
for s in seeds:
    data = json.dumps(s).encode()
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)
open(os.path.join(d, "form"), "w").write(form)
PY
jobs=$(nproc)
log=$out/fuzz.log
"$out/fuzz_notify" "$out/corpus" -max_total_time="$secs" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -jobs="$jobs" -workers="$jobs" -artifact_prefix="$out/findings/" \
  >"$log" 2>&1 || true
execs=$(cat fuzz-*.log "$log" 2>/dev/null | sed -n 's/^Done \([0-9]*\) runs.*/\1/p' | awk '{s+=$1} END {print s+0}')
findings=$(find "$out/findings" -type f | wc -l)
rm -f fuzz-*.log
echo "fuzz_notify: ${secs}s on $jobs workers, executions: ${execs:-unknown}, findings: $findings ($out/findings)"
[ "$findings" -eq 0 ]
