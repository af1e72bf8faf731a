"""Iris's real character sets (issue #14.0): Iris's tables are latin1 (message_changelog utf8mb3),
and MySQL in strict mode refuses a whole statement for one character such a column cannot hold.
A page whose rendered subject and body hold text outside latin-1 must still be recorded as sent
(once), with its content narrowed to latin-1, and a changelog reason holding such text must be
recorded too. Driven through the real sender bootstrap (fake Runtime API, MariaDB, moto)."""
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
LANES = ["email", "sms", "call", "im", "slack", "hipchat", "notifications"]
# Outside latin-1: an arrow and a snowman (3 bytes), an emoji (4 bytes, not even utf8mb3).
HOST_NAME = "db-1 \u2192 DOWN \u2603 \U0001F600"
CHECK = "disk \u2603"
VENDOR = "dummy-\u2709\U0001F600"


def sql(db, text):
    r = subprocess.run(["mariadb", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", "root",
                        "--default-character-set=utf8mb4", "--batch", "--skip-column-names", db],
                       input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("latin1")
    db = f"iris_latin1_{uuid.uuid4().hex[:8]}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True)
    # Iris's API stores the context as ASCII JSON (\u escapes), which a latin1 column holds;
    # the rendered page is where the text outside latin-1 appears.
    ctx = json.dumps({"host": HOST_NAME, "check": CHECK, "value": 97.5, "threshold": 90,
                      "severity": "critical"}).replace("\\", "\\\\")
    sql(db, f"""
      INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
        VALUES (600, 2, '2026-11-24 10:00:00', '{ctx}', 1, 1, 1);
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9101, UTC_TIMESTAMP(), 1, 1, 3, 2, 2, 600, 1, ''),
        (9102, UTC_TIMESTAMP(), 1, 2, 3, 2, 2, 600, 1, '');""")
    sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:6]
    queues = {lane: sqs.create_queue(QueueName=f"iris-{lane}-{suffix}")["QueueUrl"] for lane in LANES}
    queues["dead_letter"] = sqs.create_queue(QueueName=f"iris-dlq-{suffix}")["QueueUrl"]
    record = tmp / "sent.jsonl"
    vendors = {lane: [{"plugin": "dummy", "name": f"dummy-{lane}",
                       "config": {"record_file": str(record)}}] for lane in LANES[:-1]}
    # Grace's email is refused permanently by a vendor whose name (so its reason) is not latin-1.
    vendors["email"] = [{"plugin": "dummy", "name": VENDOR,
                         "config": {"record_file": str(record),
                                    "fail_destination": "grace@example.com"}}]
    config = {
        "db": {"host": HOST, "port": int(PORT), "user": "root", "database": db},
        "aws": {"region": "us-east-1", "endpoint": ENDPOINT},
        "queues": queues,
        "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
        "sender": {"backoff_base_seconds": 7, "max_attempts": 2, "lease_seconds": 60},
        "quota": {"sender_app": "iris"},
        "vendors": vendors,
    }
    yield {"db": db, "record": record, "config": config, "suffix": suffix}
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def invoke(env, message_id):
    ev = {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "rh-0",
        "body": json.dumps({"v": 1, "kind": "message", "message_id": message_id}),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:iris-email-{env['suffix']}",
        "awsRegion": "us-east-1"}]}
    with FakeRuntime() as rt:
        rid = rt.add_event(ev)
        proc = rt.run_bootstrap(BOOTSTRAP, env={"IRIS_CONFIG_JSON": json.dumps(env["config"]),
                                                "AWS_ACCESS_KEY_ID": "testing",
                                                "AWS_SECRET_ACCESS_KEY": "testing"})
        assert rt.init_error is None, rt.init_error
        assert rt.results[rid]["kind"] == "response", (rt.results[rid], proc.err)
        return rt.results[rid]["json"], proc.err


def pages(env, message_id):
    if not env["record"].exists():
        return []
    return [r for r in map(json.loads, env["record"].read_text().splitlines())
            if r["message_id"] == str(message_id)]


def test_page_with_text_outside_latin1_is_recorded_sent_once(env):
    res, log = invoke(env, 9101)
    assert res == {"batchItemFailures": []}, log
    [page] = pages(env, 9101)
    # The page itself carried the text as rendered.
    assert HOST_NAME in page["subject"] and CHECK in page["subject"]
    row = sql(env["db"], "SELECT active, sent IS NOT NULL, destination, subject,"
                         " LOCATE('db-1 ? DOWN ? ?', body) > 0 FROM message WHERE id = 9101")
    assert row == [["0", "1", "ada@example.com", "[CRITICAL] disk ? on db-1 ? DOWN ? ?", "1"]]
    assert "stored narrowed to latin-1" in log
    # Recorded as sent: a redelivery (a lapsed lease, a coordinator redrive) sends nothing.
    res, _ = invoke(env, 9101)
    assert res == {"batchItemFailures": []}
    assert len(pages(env, 9101)) == 1


def test_failure_reason_outside_latin1_reaches_the_changelog(env):
    res, log = invoke(env, 9102)
    assert res == {"batchItemFailures": []}, log
    assert pages(env, 9102) == []
    assert sql(env["db"], "SELECT active FROM message WHERE id = 9102") == [["0"]]
    changes = sql(env["db"], "SELECT change_type, old, new, description FROM message_changelog"
                             " WHERE message_id = 9102")
    assert ["sent-change", "email", "failed",
            "dummy dummy-??: destination grace@example.com refused (configured)"] in changes, changes
    # The sender's own tables are utf8mb4: the claim keeps the reason as it was.
    [[err]] = sql(env["db"], "SELECT last_error FROM sender_claim WHERE claim_key = 'm:9102'")
    assert VENDOR in err
