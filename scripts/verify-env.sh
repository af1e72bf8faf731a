# scripts/verify-env.sh — source it: the shell functions docs/verification.md's steps use, so the
# same commands run against the local stack or against a deployed stack.
#
#   IRIS_TARGET=local (default)  the stand-ins `scripts/verify.py start DIR` started; DIR is
#                                $IRIS_VERIFY_DIR (default build/verify)
#   IRIS_TARGET=aws              the stack $IRIS_STACK (aws CLI, credentials of your shell) and
#                                the Iris database at $IRIS_DB_HOST as $IRIS_DB_USER with
#                                $IRIS_DB_PASSWORD (mariadb client), database $IRIS_DB_NAME
#
#   iris_sql [SQL]        run SQL (argument or stdin) on the Iris database; tab-separated rows
#   iris_tick             one coordinator invocation (aws: wait for the next scheduled one);
#                         prints "skipped: <why>" when it found another coordinator at work
#   iris_deliver          deliver what waits on the lanes (aws: wait until the lanes are empty)
#   iris_age ID SECONDS   the compressed clock: incident ID's escalation (and its plan's
#                         aggregation) happened SECONDS earlier
#   iris_enqueue LANE JSON   put one envelope on a lane, as a producer would
#   iris_notify [--unsigned | --wrong-key] [--idempotency-key KEY] APP JSON
#                         POST JSON to Iris's /v0/notifications through the notify function,
#                         signed with APP's key (Iris's application.key, read from the
#                         database) as Iris's client signs (scripts/verify-notify.py); prints
#                         "STATUS BODY". Locally the notify bootstrap gets API Gateway's event
#                         through the fake Runtime API; aws: an HTTPS POST to the stack's
#                         NotifyApiUrl. --unsigned sends no signature, --wrong-key signs with
#                         a key that is not APP's
#   iris_received TEXT    what the vendor stand-ins received with TEXT in it: one
#                         "<mode> <recipient>" line per page (aws: look in the test accounts)
#   iris_dead_letters     print the `reason` of each record in the sender's dead-letter queue
#                         (and delete it)
# Every function returns non-zero, with the reason on stderr, when something fails.

IRIS_TARGET=${IRIS_TARGET:-local}
IRIS_VERIFY_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$IRIS_TARGET" = local ]; then
  IRIS_VERIFY_DIR=$(cd "${IRIS_VERIFY_DIR:-build/verify}" && pwd) || return 1
  [ -f "$IRIS_VERIFY_DIR/env" ] || { echo "verify-env: run scripts/verify.py start $IRIS_VERIFY_DIR first" >&2; return 1; }
  set -a
  # shellcheck disable=SC1091
  source "$IRIS_VERIFY_DIR/env"
  set +a
  export IRIS_CONFIG=$IRIS_VERIFY_DIR/config.json
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
  export AWS_REGION=${AWS_REGION:-us-east-1}
  IRIS_DB_HOST=${IRIS_TEST_MYSQL_HOST:-127.0.0.1} IRIS_DB_PORT=${IRIS_TEST_MYSQL_PORT:-3306}
  IRIS_DB_USER=root IRIS_DB_PASSWORD=
else
  : "${IRIS_STACK:?set IRIS_STACK to the name of the stack}" "${IRIS_DB_HOST:?}" "${IRIS_DB_USER:?}" "${IRIS_DB_NAME:?}"
  IRIS_DB_PORT=${IRIS_DB_PORT:-3306}
  _iris_output() {
    aws cloudformation describe-stacks --stack-name "$IRIS_STACK" \
      --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
  }
  IRIS_DEAD_LETTER_URL=$(_iris_output SenderDeadLetterQueueUrl)
  IRIS_NOTIFY_URL=$(_iris_output NotifyApiUrl)
  for _lane in Email Sms Call Im Slack Hipchat Notifications; do
    printf -v "IRIS_QUEUE_URL_${_lane^^}" '%s' "$(_iris_output "${_lane}QueueUrl")"
  done
fi

iris_sql() {
  local q=${1:-$(cat)}
  MYSQL_PWD=${IRIS_DB_PASSWORD:-} mariadb --protocol=TCP -h "$IRIS_DB_HOST" -P "$IRIS_DB_PORT" \
    -u "$IRIS_DB_USER" --batch --skip-column-names "$IRIS_DB_NAME" -e "$q"
}

iris_tick() {
  if [ "$IRIS_TARGET" = aws ]; then
    sleep 70  # the schedule starts it every minute; its invocation ends before the next
    return
  fi
  local out
  out=$(echo '{"source": "aws.scheduler"}' | python3 "$IRIS_VERIFY_SOURCE/tests/fakes/fake_runtime.py" \
        --bootstrap "$IRIS_VERIFY_BUILD/lambda/coordinator/iris-coordinator" --event - \
        --timeout-ms "${IRIS_TICK_MS:-2500}" 2>>"$IRIS_VERIFY_DIR/coordinator.log" |
        grep '"kind"') ||
    { echo "iris_tick: the coordinator failed; see $IRIS_VERIFY_DIR/coordinator.log" >&2; return 1; }
  case "$out" in
    *'"skipped"'*) printf '%s\n' "$out" | sed -n 's/.*"skipped": "\([^"]*\)".*/skipped: \1/p' ;;
    *'"kind": "response"'*) ;;
    *) echo "iris_tick: $out" >&2; return 1 ;;
  esac
}

iris_deliver() {
  if [ "$IRIS_TARGET" = aws ]; then
    local lane url n i
    for i in $(seq 1 60); do
      n=0
      for lane in EMAIL SMS CALL IM SLACK HIPCHAT NOTIFICATIONS; do
        url=IRIS_QUEUE_URL_$lane
        n=$((n + $(aws sqs get-queue-attributes --queue-url "${!url}" --attribute-names \
          ApproximateNumberOfMessages ApproximateNumberOfMessagesNotVisible \
          --query 'sum(map(&to_number(@), values(Attributes)))' --output text)))
      done
      [ "$n" -eq 0 ] && return 0
      sleep 5
    done
    echo "iris_deliver: records still waiting after 5 minutes" >&2
    return 1
  fi
  "$IRIS_VERIFY_BUILD/lambda/sender/iris-sender" --worker --max-idle 1 >>"$IRIS_VERIFY_DIR/sender.log" 2>&1 ||
    { echo "iris_deliver: the sender failed; see $IRIS_VERIFY_DIR/sender.log" >&2; return 1; }
}

iris_age() {
  local id=$1 s=$2
  [[ $id =~ ^[0-9]+$ && $s =~ ^[0-9]+$ ]] || { echo "usage: iris_age INCIDENT SECONDS" >&2; return 2; }
  iris_sql "UPDATE message SET created = created - INTERVAL $s SECOND, sent = sent - INTERVAL $s SECOND
              WHERE incident_id = $id;
            UPDATE sender_escalation SET last_round_at = last_round_at - INTERVAL $s SECOND,
              due_at = due_at - INTERVAL $s SECOND WHERE incident_id = $id;
            UPDATE incident SET created = created - INTERVAL $s SECOND WHERE id = $id;
            UPDATE sender_aggregation SET aggregating_since = aggregating_since - INTERVAL $s SECOND,
              last_message_at = last_message_at - INTERVAL $s SECOND,
              last_flush_at = last_flush_at - INTERVAL $s SECOND,
              next_flush_at = next_flush_at - INTERVAL $s SECOND
              WHERE plan_id = (SELECT plan_id FROM incident WHERE id = $id);"
}

iris_enqueue() {
  local url=IRIS_QUEUE_URL_${1^^}
  [ -n "${!url:-}" ] || { echo "iris_enqueue: no lane '$1'" >&2; return 2; }
  if [ "$IRIS_TARGET" = aws ]; then
    aws sqs send-message --queue-url "${!url}" --message-body "$2" >/dev/null
  else
    "$IRIS_VERIFY_BUILD/tests/tools/iris-sqs-cli" send "${!url}" "$2" >/dev/null
  fi
}

iris_dead_letters() {
  if [ "$IRIS_TARGET" = aws ]; then
    aws sqs receive-message --queue-url "$IRIS_DEAD_LETTER_URL" --max-number-of-messages 10 \
      --wait-time-seconds 2 --message-attribute-names reason \
      --query 'Messages[].MessageAttributes.reason.StringValue' --output text | tr '\t' '\n'
    return
  fi
  python3 - "$IRIS_SQS_ENDPOINT" "$IRIS_DEAD_LETTER_URL" <<'PY'
import sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1")
got = sqs.receive_message(QueueUrl=sys.argv[2], MaxNumberOfMessages=10, WaitTimeSeconds=1,
                          MessageAttributeNames=["All"]).get("Messages", [])
for m in got:
    print(m["MessageAttributes"]["reason"]["StringValue"])
    sqs.delete_message(QueueUrl=sys.argv[2], ReceiptHandle=m["ReceiptHandle"])
PY
}

iris_notify() {
  local sign=ok idem=() where key
  while [ $# -gt 2 ]; do
    case $1 in
      --unsigned) sign=none; shift ;;
      --wrong-key) sign=wrong-key; shift ;;
      --idempotency-key) idem=(--idempotency-key "$2"); shift 2 ;;
      *) break ;;
    esac
  done
  [[ $# -eq 2 && $1 =~ ^[A-Za-z0-9_.-]+$ ]] ||
    { echo "usage: iris_notify [--unsigned | --wrong-key] [--idempotency-key KEY] APP JSON" >&2; return 2; }
  key=$(iris_sql "SELECT \`key\` FROM application WHERE name = '$1'") || return 1
  [ -n "$key" ] || { echo "iris_notify: no application '$1' with a key" >&2; return 1; }
  if [ "$IRIS_TARGET" = aws ]; then
    IRIS_APP_KEY=$key python3 "$IRIS_VERIFY_SCRIPTS/verify-notify.py" --url "$IRIS_NOTIFY_URL" \
      --app "$1" --sign "$sign" "${idem[@]}" POST /v0/notifications "$2"
    return
  fi
  # the bootstrap's log (and the script's complaints) go to notify.log
  IRIS_APP_KEY=$key python3 "$IRIS_VERIFY_SCRIPTS/verify-notify.py" \
    --bootstrap "$IRIS_VERIFY_BUILD/lambda/notify/iris-notify" --app "$1" --sign "$sign" \
    "${idem[@]}" POST /v0/notifications "$2" 2>>"$IRIS_VERIFY_DIR/notify.log" ||
    { echo "iris_notify: no answer from notify; see $IRIS_VERIFY_DIR/notify.log" >&2; return 1; }
}

iris_received() {
  if [ "$IRIS_TARGET" = aws ]; then
    echo "iris_received: the vendors are real on AWS; look for '$1' in the test accounts" >&2
    return 0
  fi
  python3 - "$1" "$IRIS_VERIFY_DIR/smtp.jsonl" "$IRIS_VERIFY_DIR/vendors.jsonl" <<'PY'
import json, os, sys
text, smtp, vendors = sys.argv[1:]
def lines(path):
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []
got = []
for m in lines(smtp):
    if any(text in str(p.get("content", "")) for p in m["parts"]):
        got += [f"email {r}" for r in m["rcpt_tos"]]
for r in lines(vendors):
    body = r.get("body") or {}
    if text not in json.dumps(body, ensure_ascii=False):
        continue
    if r["route"].startswith("twilio."):
        to = body.get("To")
        got.append(f"{r['route'][7:]} {to[0] if isinstance(to, list) else to}")
    elif r["route"] == "slack":
        got.append(f"slack {body.get('channel')}")
    else:
        got.append(f"hipchat {r['route'][8:]} {r['path'].split('/')[4]}")
print("\n".join(sorted(got)))
PY
}
