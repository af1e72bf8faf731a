"""The sender bootstrap (lambda/sender) as a real process driven by the fake Lambda Runtime
API, against MariaDB (Iris's schema, the sender's migrations, the demo data), SQS (moto) and
the dummy plugin: Iris's mode resolution, rendering, delivery and recording; duplicate
deliveries send nothing; claimed incidents are not paged; a permanent vendor failure falls
back to email; a retryable one is retried with backoff; bad envelopes are dead-lettered with
their reason."""
import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(SRC, "tests", "fakes"))
from fake_runtime import FakeRuntime  # noqa: E402

BOOTSTRAP = os.path.join(BUILD, "lambda", "sender", "iris-sender")
HOST = os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1")
PORT = os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")
ENDPOINT = os.environ.get("IRIS_TEST_AWS_ENDPOINT")
LANES = ["email", "sms", "call", "im", "slack", "hipchat"]


def sql(db, text):
    r = subprocess.run(["mariadb", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", "root",
                        "--batch", "--skip-column-names", db], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sender")
    db = f"iris_sender_{uuid.uuid4().hex[:8]}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True)
    ctx = json.dumps({"host": "db-1", "check": "disk_usage", "value": 97.5, "threshold": 90,
                      "severity": "critical", "tags": ["db"], "runbook_url": ""})
    sql(db, f"""
      INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
        VALUES (500, 2, '2026-11-24 10:00:00', '{ctx}', 1, 1, 1),
               (501, 2, '2026-11-24 10:00:00', '{ctx}', 1, 1, 0),
               (502, 3, '2026-11-24 10:00:00', '{{"job": "etl", "status": "FAILED"}}', 3, 1, 1);
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9001, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, ''),
        (9002, UTC_TIMESTAMP(), 1, 2, 2, 2, 2, 500, 1, ''),
        (9003, UTC_TIMESTAMP(), 1, 3, 2, 2, 2, 501, 1, ''),
        (9004, UTC_TIMESTAMP(), 1, 3, 3, 2, 2, 500, 1, ''),
        (9005, UTC_TIMESTAMP(), 1, 1, 3, 2, 2, 500, 1, ''),
        (9006, UTC_TIMESTAMP(), 1, 4, 4, 2, 2, 500, 1, ''),
        (9010, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, ''),
        (9011, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, ''),
        (9012, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, ''),
        (9013, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 501, 1, ''),
        (9020, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, ''),
        (9021, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 501, 1, ''),
        (9030, UTC_TIMESTAMP(), 3, 3, 3, 3, 6, 502, 1, ''),
        (9031, UTC_TIMESTAMP(), 3, 3, 3, 3, 6, 502, 1, ''),
        (9032, UTC_TIMESTAMP(), 3, 3, 3, 3, 6, 502, 1, ''),
        (9040, UTC_TIMESTAMP(), 1, 4, 1, 2, 2, 500, 1, '');""")
    sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:6]
    queues = {lane: sqs.create_queue(QueueName=f"iris-{lane}-{suffix}")["QueueUrl"] for lane in LANES}
    queues["dead_letter"] = sqs.create_queue(QueueName=f"iris-dlq-{suffix}")["QueueUrl"]
    queues["notifications"] = sqs.create_queue(QueueName=f"iris-notifications-{suffix}")["QueueUrl"]
    record = tmp / "sent.jsonl"
    dummy = lambda **extra: [{"plugin": "dummy", "name": f"dummy-{extra.pop('tag', 'x')}",
                              "config": {"record_file": str(record), **extra}}]
    config = {
        "db": {"host": HOST, "port": int(PORT), "user": "root", "database": db},
        "aws": {"region": "us-east-1", "endpoint": ENDPOINT},
        "queues": queues,
        "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
        "sender": {"backoff_base_seconds": 7, "max_attempts": 2, "lease_seconds": 60},
        "quota": {"sender_app": "iris"},
        "vendors": {"email": dummy(tag="email"), "sms": dummy(tag="sms", fail_destination="+15550100199"),
                    "call": dummy(tag="call", fail="permanent"),
                    "im": dummy(tag="im", fail="retryable"),
                    "slack": dummy(tag="slack"), "hipchat": dummy(tag="hipchat")},
    }
    yield {"db": db, "sqs": sqs, "queues": queues, "record": record, "config": config,
           "suffix": suffix}
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def event(env, lane, bodies, receipts=None):
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": (receipts or {}).get(i, f"rh-{i}"),
        "body": b if isinstance(b, str) else json.dumps(b),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:iris-{lane}-{env['suffix']}",
        "awsRegion": "us-east-1"} for i, b in enumerate(bodies)]}


def invoke(env, *events):
    with FakeRuntime() as rt:
        ids = [rt.add_event(e) for e in events]
        proc = rt.run_bootstrap(BOOTSTRAP, env={"IRIS_CONFIG_JSON": json.dumps(env["config"]),
                                                "AWS_ACCESS_KEY_ID": "testing",
                                                "AWS_SECRET_ACCESS_KEY": "testing"})
        assert rt.init_error is None, rt.init_error
        assert proc.returncode == 0, proc.err
        out = [rt.results[i] for i in ids]
        for r in out:
            assert r["kind"] == "response", (r, proc.err)
        return [r["json"] for r in out], proc.err


def sent(env):
    if not env["record"].exists():
        return []
    return [json.loads(l) for l in env["record"].read_text().splitlines()]


def msg(id_):
    return {"v": 1, "kind": "message", "message_id": id_}


def test_delivers_by_priority_chain_and_records(env):
    res, log = invoke(env, event(env, "sms", [msg(9001)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9001"]
    assert rec["mode"] == "sms" and rec["destinations"] == ["+15550100101"]
    assert rec["body"].startswith("9001: disk_usage db-1 = 97.5/90")
    row = sql(env["db"], "SELECT m.active, m.sent IS NOT NULL, mo.name, m.destination, m.template_id,"
                         " LEFT(m.body, 10) FROM message m JOIN mode mo ON mo.id = m.mode_id WHERE m.id = 9001")
    assert row == [["0", "1", "sms", "+15550100101", "2", "9001: disk"]]
    claim = sql(env["db"], "SELECT state, final, attempts, vendor, vendor_message_id FROM sender_claim"
                           " WHERE claim_key = 'm:9001'")
    assert claim == [["sent", "1", "1", "dummy-sms", "dummy-dummy-sms-1"]]


def test_duplicates_send_nothing(env):
    before = len(sent(env))
    res, log = invoke(env, event(env, "sms", [msg(9001), msg(9001)]), event(env, "sms", [msg(9001)]))
    assert res == [{"batchItemFailures": []}, {"batchItemFailures": []}]
    assert len(sent(env)) == before
    assert "duplicate delivery acknowledged" in log


def test_claimed_incident_is_not_paged(env):
    res, _ = invoke(env, event(env, "sms", [msg(9003)]))
    assert res == [{"batchItemFailures": []}]
    assert not [r for r in sent(env) if r["message_id"] == "9003"]
    assert sql(env["db"], "SELECT state, last_error FROM sender_claim WHERE claim_key = 'm:9003'") == [
        ["suppressed", "incident claimed or resolved"]]


def test_permanent_failure_falls_back_to_email(env):
    res, _ = invoke(env, event(env, "call", [msg(9002)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9002"]
    assert rec["mode"] == "email" and rec["destinations"] == ["grace@example.com"]
    assert rec["email_html"].startswith("<body><p><strong>disk_usage</strong>")
    changes = sql(env["db"], "SELECT change_type, old, new, description FROM message_changelog"
                             " WHERE message_id = 9002")
    assert ["mode-change", "call", "email", "Changing mode due to original mode failure"] in changes
    assert sql(env["db"], "SELECT mo.name FROM message m JOIN mode mo ON mo.id = m.mode_id"
                          " WHERE m.id = 9002") == [["email"]]


def test_other_modes(env):
    res, _ = invoke(env, event(env, "slack", [msg(9004)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9004"]
    assert rec["mode"] == "slack" and rec["destinations"] == ["@linus"]


def test_retryable_failure_is_retried_then_falls_back(env):
    sqs, q = env["sqs"], env["queues"]["im"]
    sqs.send_message(QueueUrl=q, MessageBody=json.dumps(msg(9006)))
    m = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"][0]
    ev = event(env, "im", [msg(9006)], receipts={0: m["ReceiptHandle"]})
    res, log = invoke(env, ev)
    assert res[0]["batchItemFailures"] == [{"itemIdentifier": ev["Records"][0]["messageId"]}]
    claim = sql(env["db"], "SELECT state, final, attempts, next_attempt_at > UTC_TIMESTAMP(3)"
                           " FROM sender_claim WHERE claim_key = 'm:9006'")
    assert claim == [["failed", "0", "1", "1"]]
    assert "attempt 1 of 2 failed" in log
    # The record was hidden for the backoff (7 s), not retried at once.
    assert sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages") is None
    # Once the wait is over the retry fails again: attempts exhausted → email fallback.
    sql(env["db"], "UPDATE sender_claim SET next_attempt_at = UTC_TIMESTAMP(3) WHERE claim_key = 'm:9006'")
    res, _ = invoke(env, event(env, "im", [msg(9006)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9006"]
    assert rec["mode"] == "email" and rec["destinations"] == ["wei@example.net"]


def test_bad_envelopes_are_dead_lettered_with_reason(env):
    bad = ["not json", {"v": 2, "kind": "message", "message_id": 1},
           {"v": 1, "kind": "gossip"}, {"v": 1, "kind": "message", "message_id": -4},
           {"v": 1, "kind": "message", "message_id": 9005, "destination": "+1 evil"}]
    res, _ = invoke(env, event(env, "sms", bad))
    assert res == [{"batchItemFailures": []}]
    dlq = env["sqs"].receive_message(QueueUrl=env["queues"]["dead_letter"], MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1, MessageAttributeNames=["All"])["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dlq)
    assert len(reasons) == 5
    assert any("not valid JSON" in r for r in reasons)
    assert "envelope: unsupported version 2" in reasons
    assert "envelope: unknown kind 'gossip'" in reasons
    assert any("'message_id' must be a positive integer" in r for r in reasons)
    assert "envelope: unknown field 'destination' in a message" in reasons
    assert not [r for r in sent(env) if r["message_id"] == "9005"]


def test_not_an_sqs_event_is_an_invocation_error(env):
    with FakeRuntime() as rt:
        rid = rt.add_event({"hello": "world"})
        rt.run_bootstrap(BOOTSTRAP, env={"IRIS_CONFIG_JSON": json.dumps(env["config"])})
        assert rt.results[rid]["json"]["errorType"] == "Iris.EPARSE"


def test_bad_configuration_is_an_init_error(env):
    cfg = dict(env["config"], vendors={"sms": [{"plugin": "nope"}]})
    with FakeRuntime() as rt:
        rt.add_event({"Records": []})
        rt.run_bootstrap(BOOTSTRAP, env={"IRIS_CONFIG_JSON": json.dumps(cfg)})
        assert rt.init_error and "no loaded plugin 'nope'" in rt.init_error["json"]["errorMessage"]


BATCH = "0123456789abcdef0123456789abcdef"


def test_batch_is_one_page_for_its_active_members(env):
    ev = {"v": 1, "kind": "batch", "batch_id": BATCH, "message_ids": [9010, 9011, 9012, 9013]}
    res, _ = invoke(env, event(env, "sms", [ev]), event(env, "sms", [ev]))
    assert res == [{"batchItemFailures": []}] * 2
    pages = [r for r in sent(env) if r["message_id"] == "9010"]
    assert len(pages) == 1  # the duplicate delivery sent nothing
    assert pages[0]["subject"] == "[Autoalerts] 3 messages from plan disk-escalation"
    assert pages[0]["body"] == f"Batch ID: {BATCH}"
    rows = sql(env["db"], "SELECT id, batch, active, sent IS NOT NULL FROM message"
                          " WHERE id IN (9010, 9011, 9012, 9013) ORDER BY id")
    assert rows == [["9010", BATCH, "0", "1"], ["9011", BATCH, "0", "1"], ["9012", BATCH, "0", "1"],
                    ["9013", "NULL", "1", "0"]]


def test_batch_down_to_one_is_sent_as_that_message(env):
    ev = {"v": 1, "kind": "batch", "batch_id": "f" * 32, "message_ids": [9020, 9021]}
    res, _ = invoke(env, event(env, "sms", [ev]))
    assert res == [{"batchItemFailures": []}]
    [page] = [r for r in sent(env) if r["message_id"] == "9020"]
    assert page["body"].startswith("9020: disk_usage")


def notification(**fields):
    base = {"v": 1, "kind": "notification", "notification_id": str(uuid.uuid4()),
            "application": "Autoalerts"}
    base.update(fields)
    return base


def test_notification_to_a_team(env):
    n = notification(target="storage-oncall", role="team", priority="high", subject="Disk space",
                     body="db-1 is almost full")
    res, _ = invoke(env, event(env, "sms", [n]), event(env, "sms", [n]))
    assert res == [{"batchItemFailures": []}] * 2
    pages = [r for r in sent(env) if r["message_id"] == n["notification_id"]]
    assert sorted(p["destinations"][0] for p in pages) == ["+15550100101", "+15550100103",
                                                           "+8613800000104"]
    assert all(p["subject"] == "[Autoalerts] Disk space" and p["body"] == "db-1 is almost full"
               for p in pages)
    row = sql(env["db"], "SELECT state, recipients_total, recipients_sent, recipients_failed"
                         f" FROM sender_notification WHERE id = '{n['notification_id']}'")
    assert row == [["done", "3", "3", "0"]]


def test_notification_literal_target_and_template(env):
    lit = notification(target="oncall-room@example.com", role="literal_target", mode="email",
                       subject="hi", body="**bold** text")
    tpl = notification(target="ada", role="user", mode="sms", template="disk-alert",
                       context={"check": "cpu", "host": "web-2", "value": 5, "threshold": 4})
    res, _ = invoke(env, event(env, "email", [lit, tpl]))
    assert res == [{"batchItemFailures": []}]
    [mail] = [r for r in sent(env) if r["message_id"] == lit["notification_id"]]
    assert mail["destinations"] == ["oncall-room@example.com"]
    assert mail["email_html"] == "<body><p><strong>bold</strong> text</p>\n</body>"
    [sms] = [r for r in sent(env) if r["message_id"] == tpl["notification_id"]]
    assert sms["body"] == ': cpu web-2 = 5/4. Reply " claim".'


def test_bad_notifications_are_dead_lettered(env):
    bad = [notification(target="nobody-here", role="user", priority="high", body="x"),
           notification(target="storage-oncall", role="oncall-primary", priority="high", body="x"),
           notification(application="NoSuchApp", target="ada", role="user", priority="high", body="x"),
           notification(target="ada", role="user", priority="high", body="x", destination="+1 evil")]
    res, _ = invoke(env, event(env, "sms", bad))
    assert res == [{"batchItemFailures": []}]
    dlq = env["sqs"].receive_message(QueueUrl=env["queues"]["dead_letter"], MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1, MessageAttributeNames=["All"])["Messages"]
    reasons = " | ".join(m["MessageAttributes"]["reason"]["StringValue"] for m in dlq)
    assert "INVALID role:target (user:nobody-here)" in reasons
    assert "needs the Oncall API" in reasons
    assert "INVALID application: NoSuchApp" in reasons
    assert "unknown field 'destination' in a notification" in reasons


def test_quotas_soft_then_hard(env):
    sql(env["db"], "UPDATE application_quota SET soft_quota_threshold = 1, hard_quota_threshold = 2,"
                   " soft_quota_duration = 3600, hard_quota_duration = 3600, wait_time = 3600"
                   " WHERE application_id = 3")
    res, log = invoke(env, event(env, "slack", [msg(9030)]), event(env, "slack", [msg(9031)]),
                      event(env, "slack", [msg(9032)]))
    assert res == [{"batchItemFailures": []}] * 3
    delivered = {r["message_id"] for r in sent(env)}
    assert "9030" in delivered and "9031" in delivered and "9032" not in delivered
    # soft breach on the second: the quota's target (linus) is told through the notifications lane
    notes = env["sqs"].receive_message(QueueUrl=env["queues"]["notifications"], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1)["Messages"]
    [note] = [json.loads(m["Body"]) for m in notes]
    assert note["kind"] == "notification" and note["target"] == "linus" and note["mode"] == "email"
    assert note["application"] == "iris"
    assert note["subject"] == "Application batchjobs exceeding message quota"
    # hard breach on the third: dropped with Iris's changelog text, and an incident opened
    assert sql(env["db"], "SELECT mo.name, m.active FROM message m JOIN mode mo ON mo.id = m.mode_id"
                          " WHERE m.id = 9032") == [["drop", "0"]]
    assert ["mode-change", "slack", "drop", "Dropping due to hard quota violation."] in sql(
        env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9032")
    incidents = sql(env["db"], "SELECT i.plan_id, a.name, i.context FROM incident i JOIN application a"
                               " ON a.id = i.application_id WHERE i.context LIKE '%quota_breach%'")
    assert len(incidents) == 1 and incidents[0][:2] == ["4", "iris"]
    assert json.loads(incidents[0][2]) == {"quota_breach": {"application": "batchjobs", "limit": 2,
                                                            "duration": 60}}


def test_calls_to_china_become_text_messages(env):
    res, _ = invoke(env, event(env, "call", [msg(9040)]))
    assert res == [{"batchItemFailures": []}]
    [page] = [r for r in sent(env) if r["message_id"] == "9040"]
    assert page["mode"] == "sms" and page["destinations"] == ["+8613800000104"]
    assert page["body"].startswith("Iris cannot place automated calls to numbers in China")
    assert ["mode-change", "call", "sms", "Changing mode due to calling restriction"] in sql(
        env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9040")
