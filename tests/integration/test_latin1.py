"""Iris's real character sets (issue #14.0): Iris's tables are latin1 (message_changelog utf8mb3),
and MySQL in strict mode refuses a whole statement for one character such a column cannot hold.
A page whose rendered subject and body hold text outside latin-1 must still be recorded as sent
(once), with its content narrowed to latin-1, and a changelog reason holding such text must be
recorded too. Driven through the real sender bootstrap (fake Runtime API, MariaDB, moto)."""
import json
import uuid

import pytest

import irisstack as stack
from irisstack import sql

BOOTSTRAP = stack.bootstrap("sender")
# Outside latin-1: an arrow and a snowman (3 bytes), an emoji (4 bytes, not even utf8mb3).
HOST_NAME = "db-1 \u2192 DOWN \u2603 \U0001F600"
CHECK = "disk \u2603"
VENDOR = "dummy-\u2709\U0001F600"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("latin1")
    db = stack.unique_name("iris_latin1")
    stack.load_iris(db)
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
    sqs = stack.aws_client("sqs")
    suffix = uuid.uuid4().hex[:6]
    queues = stack.create_queues(sqs, lambda lane: f"iris-{lane}-{suffix}",
                                 dead_letter=f"iris-dlq-{suffix}")
    record = tmp / "sent.jsonl"
    vendors = {lane: [{"plugin": "dummy", "name": f"dummy-{lane}",
                       "config": {"record_file": str(record)}}] for lane in stack.MODE_LANES}
    # Grace's email is refused permanently by a vendor whose name (so its reason) is not latin-1.
    vendors["email"] = [{"plugin": "dummy", "name": VENDOR,
                         "config": {"record_file": str(record),
                                    "fail_destination": "grace@example.com"}}]
    config = stack.config(
        db, queues, plugins=True,
        sender={"backoff_base_seconds": 7, "max_attempts": 2, "lease_seconds": 60},
        quota={"sender_app": "iris"}, vendors=vendors)
    yield {"db": db, "record": record, "config": config, "suffix": suffix}
    stack.drop_db(db)


def invoke(env, message_id):
    rec = stack.sqs_record({"v": 1, "kind": "message", "message_id": message_id},
                           stack.queue_arn(f"iris-email-{env['suffix']}"), receipt_handle="rh-0")
    run = stack.run_lambda(BOOTSTRAP, [{"Records": [rec]}], env=stack.function_env(env["config"]))
    assert run.init_error is None, run.init_error
    assert run.results[0]["kind"] == "response", (run.results[0], run.proc.err)
    return run.results[0]["json"], run.proc.err


def pages(env, message_id):
    return [r for r in stack.read_jsonl(env["record"]) if r["message_id"] == str(message_id)]


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
