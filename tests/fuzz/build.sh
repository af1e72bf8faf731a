#!/usr/bin/env bash
# tests/fuzz/build.sh OUTDIR — build every libFuzzer target (clang, ASan + UBSan) into OUTDIR.
# Exit 77 (ctest's "skipped") when clang with libFuzzer is not available.
#
# Targets (one parser each; docs/reliability.md says what each feeds and checks):
#   fuzz_envelope       the queue envelope (core/iris/contract.c)
#   fuzz_aws_error      AWS error bodies and the query-error header (core/clients/aws.c)
#   fuzz_aws_clients    SQS and Secrets Manager answers through the real clients
#   fuzz_runtime        the Runtime API's next event and its headers (core/clients/runtime.c)
#   fuzz_oncall         Oncall's answers (core/clients/oncall.c)
#   fuzz_sqs_event      the sender's reading of the Lambda SQS event (core/sender/sqs_event.c)
#   fuzz_plugin_twilio, fuzz_plugin_slack, fuzz_plugin_hipchat
#                       each vendor's answers, with the plugin's own source compiled in
#   fuzz_plugin_smtp    the SMTP plugin: messages, MX answers, SMTP outcomes (libcurl reads the
#                       replies; the plugin reads its curl code and last reply code)
#   (fuzz_tmpl, the template engine, is built and run by bench/fuzz_tmpl.sh, which the
#    template engine owns; run.sh and bench/fuzz.sh call it)
#   fuzz_notify         the notify function's request parsers: API Gateway events, form bodies,
#                       Iris's and Twilio's signatures (core/notify/apigw.c, sign.c)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out/obj"
cc=${IRIS_FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found; skipping" >&2; exit 77; }
flags=(-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wno-unused-function
       -fsanitize=address,undefined -fno-sanitize-recover=undefined)
probe=$out/obj/probe
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
  > "$probe.c"
"$cc" "${flags[@]}" -fsanitize=fuzzer "$probe.c" -o "$probe" 2>/dev/null ||
  { echo "fuzz: $cc cannot build libFuzzer targets; skipping" >&2; exit 77; }

inc=(-I"$src/core/base" -I"$src/core/clients" -I"$src/core/iris" -I"$src/core/tmpl"
     -I"$src/core/db" -I"$src/core/sender" -I"$src/plugin-api" -I"$src/plugins/common" -I"$src/tests/fuzz")
jansson=$(pkg-config --cflags --libs jansson)
libs=($jansson -lcrypto -lpthread -lm)

# Objects shared by the core targets: compiled once per change (make-like timestamps).
objs=()
for f in "$src"/core/base/*.c "$src"/core/clients/*.c "$src"/core/iris/contract.c \
         "$src"/tests/fuzz/fake_curl.c; do
  o=$out/obj/$(basename "$(dirname "$f")")_$(basename "${f%.c}").o
  if [ ! -e "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find "$src/core/base" "$src/core/clients" \
       "$src/tests/fuzz" -name '*.h' -newer "$o" -print -quit)" ]; then
    "$cc" "${flags[@]}" -fsanitize=fuzzer-no-link "${inc[@]}" $(pkg-config --cflags jansson) \
      -c "$f" -o "$o"
  fi
  objs+=("$o")
done

link() { # name, sources...
  local name=$1
  shift
  "$cc" "${flags[@]}" -fsanitize=fuzzer "${inc[@]}" "$@" -o "$out/$name"
}
for t in envelope aws_error aws_clients runtime oncall; do
  link "fuzz_$t" "$src/tests/fuzz/fuzz_$t.c" "${objs[@]}" "${libs[@]}"
done
link fuzz_sqs_event "$src/tests/fuzz/fuzz_sqs_event.c" "$src/core/sender/sqs_event.c" "${objs[@]}" \
  "${libs[@]}"
link fuzz_notify -I"$src/core/notify" "$src/tests/fuzz/fuzz_notify.c" "$src/core/notify/apigw.c" \
  "$src/core/notify/sign.c" "${objs[@]}" "${libs[@]}"

plugin() { # name, config initialiser
  link "fuzz_plugin_$1" -DFUZZ_CONFIG="$2" "$src/tests/fuzz/fuzz_plugin.c" \
    "$src/plugins/$1/$1.c" $jansson
}
plugin twilio 'KV("account_sid", "AC0123456789abcdef0123456789abcdef"), KV("auth_token", "t0ken"), KV("from_number", "+15550000000"), KV("relay_base_url", "https://relay.example.com"), KV("api_base", "http://127.0.0.1:9/twilio")'
plugin slack 'KV("auth_token", "xoxb-fuzz"), KV("base_url", "http://127.0.0.1:9/slack/api"), KV("iris_incident_url", "https://iris.example.com/incidents")'
plugin hipchat 'KV("auth_token", "t0ken"), KV("room_id", "42"), KV("base_url", "http://127.0.0.1:9/hipchat")'

link fuzz_plugin_smtp "$src/tests/fuzz/fuzz_plugin_smtp.c" "$src/plugins/smtp/smtp.c" \
  "$out/obj/fuzz_fake_curl.o" -lresolv -ldl

echo "fuzz: targets in $out"
