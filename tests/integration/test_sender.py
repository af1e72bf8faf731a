"""The sender bootstrap (lambda/sender) as a real process driven by the fake Lambda Runtime
API, against MariaDB (Iris's schema, the sender's migrations, the demo data), SQS (moto) and
the dummy plugin: Iris's mode resolution, rendering, delivery and recording; duplicate
deliveries send nothing; claimed incidents are not paged; a permanent vendor failure falls
back to email; a retryable one is retried with backoff; bad envelopes are dead-lettered with
their reason."""
import json
import random
import subprocess
import time
import uuid

import pytest

import irisstack as stack
from irisstack import sql
from smtp_sink import SmtpSink

BOOTSTRAP = stack.bootstrap("sender")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sender")
    db = stack.unique_name("iris_sender")
    stack.load_iris(db)
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
        (9040, UTC_TIMESTAMP(), 1, 4, 1, 2, 2, 500, 1, ''),
        (9050, UTC_TIMESTAMP(), 1, 2, 2, 2, 2, 500, 1, ''),
        (9051, UTC_TIMESTAMP(), 1, 2, 2, 2, 2, 500, 1, '');""")
    sqs = stack.aws_client("sqs")
    suffix = uuid.uuid4().hex[:6]
    queues = stack.create_queues(sqs, lambda lane: f"iris-{lane}-{suffix}",
                                 dead_letter=f"iris-dlq-{suffix}")
    record = tmp / "sent.jsonl"
    dummy = lambda **extra: [{"plugin": "dummy", "name": f"dummy-{extra.pop('tag', 'x')}",
                              "config": {"record_file": str(record), **extra}}]
    config = stack.config(
        db, queues, plugins=True,
        # These tests hand records to whichever lane is convenient: delivered where they
        # arrive (test_record_moves_to_its_modes_lane turns moving on).
        sender={"backoff_base_seconds": 7, "max_attempts": 2, "lease_seconds": 60,
                "move_to_lane": False},
        quota={"sender_app": "iris"},
        vendors={"email": dummy(tag="email"), "sms": dummy(tag="sms", fail_destination="+15550100199"),
                 "call": dummy(tag="call", fail="permanent"),
                 "im": dummy(tag="im", fail="retryable"),
                 "slack": dummy(tag="slack"), "hipchat": dummy(tag="hipchat")})
    yield {"db": db, "sqs": sqs, "queues": queues, "record": record, "config": config,
           "suffix": suffix}
    stack.drop_db(db)


def event(env, lane, bodies, receipts=None):
    arn = stack.queue_arn(f"iris-{lane}-{env['suffix']}")
    return {"Records": [stack.sqs_record(b, arn, receipt_handle=(receipts or {}).get(i, f"rh-{i}"))
                        for i, b in enumerate(bodies)]}


def invoke(env, *events):
    run = stack.run_lambda(BOOTSTRAP, events, env=stack.function_env(env["config"]))
    answers = run.answers()
    env["stdout"] = run.proc.out  # EMF metric lines
    return answers, run.proc.err


def sent(env):
    return stack.read_jsonl(env["record"])


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
    run = stack.run_lambda(BOOTSTRAP, [{"hello": "world"}],
                           env={"IRIS_CONFIG_JSON": json.dumps(env["config"])})
    assert run.results[0]["json"]["errorType"] == "Iris.EPARSE"


def test_bad_configuration_is_an_init_error(env):
    cfg = dict(env["config"], vendors={"sms": [{"plugin": "nope"}]})
    run = stack.run_lambda(BOOTSTRAP, [{"Records": []}], env={"IRIS_CONFIG_JSON": json.dumps(cfg)})
    assert run.init_error and "no loaded plugin 'nope'" in run.init_error["json"]["errorMessage"]


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


def test_a_repeated_batch_or_notification_in_one_sqs_batch_is_acknowledged_once_sent(env):
    # SQS may hand the same message twice in one batch. A message repeating another's claim key
    # gets that one's verdict (test_duplicates_send_nothing); an aggregated batch or a
    # notification, whose claims need their data first, repeats one with the same body.
    # (grace: no reprioritisation rule that these pages would bring closer for later tests)
    n = notification(target="grace", role="user", priority="high", subject="Twice",
                     body="db-2 is almost full")
    b = {"v": 1, "kind": "batch", "batch_id": "e" * 32, "message_ids": [9050, 9051]}
    other = dict(n, notification_id=str(uuid.uuid4()))  # same text, another notification
    res, log = invoke(env, event(env, "sms", [n, b, n, b, other]))
    assert res == [{"batchItemFailures": []}]
    pages = [r for r in sent(env) if r["message_id"] == n["notification_id"]]
    assert len(pages) == 1
    assert len([r for r in sent(env) if r["message_id"] == other["notification_id"]]) == 1
    assert len([r for r in sent(env) if r["message_id"] == "9050"]) == 1
    assert log.count("of the same batch: duplicate delivery acknowledged") == 2
    row = sql(env["db"], "SELECT state, recipients_total, recipients_sent"
                         f" FROM sender_notification WHERE id = '{n['notification_id']}'")
    assert row == [["done", "1", "1"]]


def test_notification_literal_target_and_template(env):
    lit = notification(target="oncall-room@example.com", role="literal_target", mode="email",
                       subject="hi", body="**bold** text")
    tpl = notification(target="ada", role="user", mode="sms", template="disk-alert",
                       context={"check": "cpu", "host": "web-2", "value": 5, "threshold": 4})
    res, _ = invoke(env, event(env, "email", [lit, tpl]))
    assert res == [{"batchItemFailures": []}]
    [mail] = [r for r in sent(env) if r["message_id"] == lit["notification_id"]]
    assert mail["destinations"] == ["oncall-room@example.com"]
    assert mail["email_html"] == "<body><p><strong>bold</strong> text</p></body>"
    [sms] = [r for r in sent(env) if r["message_id"] == tpl["notification_id"]]
    assert sms["body"] == ': cpu web-2 = 5/4. Reply " claim".'


def test_bad_notifications_are_dead_lettered(env):
    bad = [notification(target="nobody-here", role="user", priority="high", body="x"),
           notification(target="storage-oncall", role="oncall-primary", priority="high", body="x"),
           notification(application="NoSuchApp", target="ada", role="user", priority="high", body="x"),
           notification(target="ada", role="user", priority="high", body="x", destination="+1 evil"),
           # (its rows' columns are ASCII: it failed on every receive with a database error)
           notification(notification_id="\u00e9-1", target="grace", role="user", priority="high",
                        body="x")]
    res, _ = invoke(env, event(env, "sms", bad))
    assert res == [{"batchItemFailures": []}]
    dlq = env["sqs"].receive_message(QueueUrl=env["queues"]["dead_letter"], MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1, MessageAttributeNames=["All"])["Messages"]
    reasons = " | ".join(m["MessageAttributes"]["reason"]["StringValue"] for m in dlq)
    assert "INVALID role:target (user:nobody-here)" in reasons
    assert "needs the Oncall API" in reasons
    assert "INVALID application: NoSuchApp" in reasons
    assert "unknown field 'destination' in a notification" in reasons
    assert "field 'notification_id' must be printable ASCII" in reasons


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


def reprioritization_users(env, rules):
    """Users rp-<id> with sms, email and slack contacts, and their target_reprioritization rules
    [(target id, src mode, dst mode, count, duration)]."""
    ids = sorted({r[0] for r in rules})
    sql(env["db"], "".join(
        f"INSERT INTO target (id, name, type_id, active) VALUES ({i}, 'rp-{i}', 1, 1);"
        f"INSERT INTO user (target_id, admin) VALUES ({i}, 0);"
        f"INSERT INTO target_contact (target_id, mode_id, destination) VALUES"
        f" ({i}, 2, '+1555020{i:04d}'), ({i}, 1, 'rp-{i}@example.com'), ({i}, 5, '@rp-{i}');"
        for i in ids) + "".join(
        f"INSERT INTO target_reprioritization (target_id, src_mode_id, dst_mode_id, count, duration)"
        f" SELECT {t}, s.id, d.id, {count}, {duration} FROM mode s JOIN mode d"
        f" WHERE s.name = '{src}' AND d.name = '{dst}';" for t, src, dst, count, duration in rules))


def page_messages(env, target, ids):
    sql(env["db"], "".join(
        f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES"
        f" ({i}, UTC_TIMESTAMP(), 1, {target}, 2, 2, 2, 500, 1, '');" for i in ids))


def fresh_minute(env, need=20):
    # Counting windows are whole UTC minutes of the database's clock (a 60 s rule is the
    # current minute): start well inside one so the messages of a test share it.
    second = int(sql(env["db"], "SELECT SECOND(UTC_TIMESTAMP())")[0][0])
    if second > 60 - need:
        time.sleep(61 - second)


def modes_sent(env, ids):
    by_id = {r["message_id"]: r for r in sent(env)}
    return [by_id[str(i)]["mode"] if str(i) in by_id else None for i in ids]


def test_reprioritization_switches_after_count(env):
    # Autoalerts/high resolves to sms for these users (the priority's default mode)
    reprioritization_users(env, [(60, "sms", "email", 2, 60)])
    ids = [9201, 9202, 9203, 9204]
    page_messages(env, 60, ids)
    fresh_minute(env)
    res, log = invoke(env, *[event(env, "sms", [msg(i)]) for i in ids])
    assert res == [{"batchItemFailures": []}] * 4
    assert modes_sent(env, ids) == ["sms", "sms", "email", "email"]
    pages = {r["message_id"]: r for r in sent(env)}
    assert pages["9203"]["destinations"] == ["rp-60@example.com"]
    assert pages["9201"]["destinations"] == ["+15550200060"]
    changes = sql(env["db"], "SELECT message_id, change_type, old, new, description FROM message_changelog"
                             " WHERE message_id BETWEEN 9201 AND 9204 ORDER BY message_id")
    assert changes == [[str(i), "mode-change", "sms", "email", "Changing mode due to reprioritization"]
                       for i in (9203, 9204)]
    assert sql(env["db"], "SELECT m.id, mo.name FROM message m JOIN mode mo ON mo.id = m.mode_id"
                          " WHERE m.id BETWEEN 9201 AND 9204 ORDER BY m.id") == [
        ["9201", "sms"], ["9202", "sms"], ["9203", "email"], ["9204", "email"]]
    # the counter all instances share: four sms resolutions of this user in this minute
    assert sql(env["db"], "SELECT SUM(hits) FROM sender_quota_counter WHERE scope = 'target_mode'"
                          " AND subject_id = 60 AND mode_id = 2") == [["4"]]
    assert "m:9203: rp-60 reprioritized from sms to email (1 rule)" in log
    # a redelivery neither counts again nor sends again
    res, _ = invoke(env, event(env, "sms", [msg(9204)]))
    assert res == [{"batchItemFailures": []}]
    assert modes_sent(env, ids) == ["sms", "sms", "email", "email"]
    assert sql(env["db"], "SELECT SUM(hits) FROM sender_quota_counter WHERE scope = 'target_mode'"
                          " AND subject_id = 60") == [["4"]]


def test_reprioritization_rules_chain_and_loops_end(env):
    reprioritization_users(env, [(61, "sms", "email", 1, 60), (61, "email", "slack", 1, 60),
                                 (62, "sms", "email", 1, 60), (62, "email", "sms", 1, 60)])
    chain, loop = [9211, 9212, 9213], [9221, 9222, 9223]
    page_messages(env, 61, chain)
    page_messages(env, 62, loop)
    fresh_minute(env)
    res, log = invoke(env, *[event(env, "sms", [msg(i)]) for i in chain + loop])
    assert res == [{"batchItemFailures": []}] * 6
    # chain: the third sms is over sms's count and, as email, over email's count too
    assert modes_sent(env, chain) == ["sms", "email", "slack"]
    assert sql(env["db"], "SELECT old, new FROM message_changelog WHERE message_id = 9213"
                          " AND change_type = 'mode-change' ORDER BY id") == [["sms", "email"], ["email", "slack"]]
    # loop: sms → email → (sms again: not followed), so the third stays on email
    assert modes_sent(env, loop) == ["sms", "email", "email"]
    assert sql(env["db"], "SELECT old, new FROM message_changelog WHERE message_id = 9223"
                          " AND change_type = 'mode-change'") == [["sms", "email"]]
    assert "reprioritization loop for rp-62: email -> sms was visited already; staying on email" in log


def test_reprioritization_decided_per_batch_matches_one_by_one(env):
    """A batch's deliveries are decided together (one transaction, counters counted once per
    (user, mode)); on generated rule sets and batches, what is sent, logged, counted and
    stored must be what deciding the same messages one event at a time gives."""
    rng = random.Random(1213)
    modes = ["sms", "email", "slack"]
    scenarios = []
    for k in range(8):
        rules = {}
        for src in modes:
            dst = rng.choice([m for m in modes if m != src])
            if src == "sms" or rng.random() < 0.6:
                rules[src] = (dst, rng.randint(1, 3))
        scenarios.append((rules, rng.randint(3, 10)))
    users = []
    for k, (rules, n) in enumerate(scenarios):
        for base in (100, 200):  # 100+k: one record per event; 200+k: the whole batch at once
            users.append([(base + k, src, dst, count, 60) for src, (dst, count) in rules.items()])
    reprioritization_users(env, [r for u in users for r in u])
    single, batched = [], []
    for k, (rules, n) in enumerate(scenarios):
        single.append([20000 + k * 20 + j for j in range(n)])
        batched.append([30000 + k * 20 + j for j in range(n)])
        page_messages(env, 100 + k, single[-1])
        page_messages(env, 200 + k, batched[-1])
    fresh_minute(env, need=40)
    events = [event(env, "sms", [msg(i)]) for ids in single for i in ids]
    events += [event(env, "sms", [msg(i) for i in ids]) for ids in batched]
    res, log = invoke(env, *events)
    assert all(r == {"batchItemFailures": []} for r in res), res

    def outcome(target, ids):
        lo, hi = ids[0], ids[-1]
        changes = sql(env["db"], "SELECT message_id, old, new, description FROM message_changelog"
                                 f" WHERE message_id BETWEEN {lo} AND {hi} AND change_type = 'mode-change'"
                                 " ORDER BY id")
        return {
            "sent": modes_sent(env, ids),
            # (per message in the order made; a batch writes its first hops before its second)
            "changes": sorted(([int(m) - lo, o, n, d] for m, o, n, d in changes), key=lambda c: c[0]),
            "rows": [r[0] for r in sql(env["db"], "SELECT IFNULL(mo.name, '-') FROM message m"
                                                  " LEFT JOIN mode mo ON mo.id = m.mode_id"
                                                  f" WHERE m.id BETWEEN {lo} AND {hi} ORDER BY m.id")],
            "hits": sql(env["db"], "SELECT mo.name, SUM(c.hits) FROM sender_quota_counter c"
                                   " JOIN mode mo ON mo.id = c.mode_id WHERE c.scope = 'target_mode'"
                                   f" AND c.subject_id = {target} GROUP BY mo.name ORDER BY mo.name"),
            "decisions": sql(env["db"], "SELECT s.name, d.name, r.hops FROM sender_reprioritization r"
                                        " JOIN mode s ON s.id = r.src_mode_id JOIN mode d ON d.id = r.dst_mode_id"
                                        f" WHERE r.target_id = {target}"
                                        " ORDER BY CAST(SUBSTRING(r.claim_key, 3) AS UNSIGNED)"),
            "logged": sum(f"rp-{target} reprioritized from" in line for line in log.splitlines()),
        }

    for k, (rules, n) in enumerate(scenarios):
        one, many = outcome(100 + k, single[k]), outcome(200 + k, batched[k])
        assert None not in one["sent"], (k, one)
        assert many == one, (k, rules, n, one, many)
    assert any(o != "sms" for k in range(len(scenarios)) for o in outcome(200 + k, batched[k])["sent"])


def test_reprioritization_of_notifications_by_priority(env):
    reprioritization_users(env, [(63, "sms", "email", 1, 60)])
    fresh_minute(env)
    first, second = (notification(target="rp-63", role="user", priority="high", subject="s", body="b")
                     for _ in range(2))
    res, _ = invoke(env, event(env, "sms", [first]), event(env, "sms", [second]))
    assert res == [{"batchItemFailures": []}] * 2
    got = {r["message_id"]: (r["mode"], r["destinations"]) for r in sent(env)}
    assert got[first["notification_id"]] == ("sms", ["+15550200063"])
    assert got[second["notification_id"]] == ("email", ["rp-63@example.com"])
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_reprioritization WHERE target_id = 63"
                          " AND hops = 1") == [["1"]]


def emf_metrics(text):
    """(metric name, frozenset of its dimensions) for every EMF line printed."""
    got = set()
    for line in text.splitlines():
        doc = json.loads(line) if line.startswith("{") else {}
        for d in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for m in d["Metrics"]:
                for dims in d["Dimensions"]:
                    got.add((m["Name"], frozenset((k, doc[k]) for k in dims)))
    return got


def test_metrics_by_mode_and_vendor(env):
    page_messages(env, 3, [9301])  # linus: sms
    lit = notification(target="+15550109999", role="literal_target", mode="call", body="x")
    res, _ = invoke(env, event(env, "sms", [msg(9301)]), event(env, "call", [lit]))
    assert res == [{"batchItemFailures": []}] * 2
    got = emf_metrics(env["stdout"])

    def has(name, mode, vendor):
        return (name, frozenset({("Function", "sender"), ("Mode", mode), ("Vendor", vendor)})) in got
    assert has("sent", "sms", "dummy-sms") and has("vendor_latency", "sms", "dummy-sms")
    # the call vendor refuses every call; a literal target has no email fallback
    assert has("failed", "call", "dummy-call") and has("vendor_latency", "call", "dummy-call")


def test_tracking_copies_are_rendered_from_the_plan_and_sent_once(env):
    """Plan 2 copies new incidents to storage-tracking@example.com by email (subject, text and
    HTML from its tracking_template); a plan tracking by SMS sends its body; a tracking
    template that does not compile still sends Iris's note naming the plan and the error."""
    tmpl_sms = json.dumps({"Autoalerts": {"body": "new {{ check }} on {{ host }} ({{ iris.incident_id }})"}})
    tmpl_bad = json.dumps({"Autoalerts": {"body": "{% if %}"}})
    sql(env["db"], f"""
      INSERT INTO plan (id, name, created, user_id, step_count, threshold_window, threshold_count,
                        aggregation_window, aggregation_reset, tracking_key, tracking_type,
                        tracking_template) VALUES
        (70, 'track-sms', UTC_TIMESTAMP(), 1, 1, 900, 10, 300, 300, '+15550100177', 'sms', '{tmpl_sms}'),
        (71, 'track-bad', UTC_TIMESTAMP(), 1, 1, 900, 10, 300, 300, '+15550100178', 'sms', '{tmpl_bad}');
      INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active) VALUES
        (560, 2, '2026-11-24 10:00:00', '{{"host": "db-7", "check": "disk", "value": 99}}', 1, 1, 1),
        (561, 70, '2026-11-24 10:00:00', '{{"host": "db-8", "check": "load"}}', 1, 1, 1),
        (562, 71, '2026-11-24 10:00:00', '{{}}', 1, 1, 1);
      INSERT INTO sender_tracking (incident_id, plan_id, mode, destination, state) VALUES
        (560, 2, 'email', 'storage-tracking@example.com', 'enqueued'),
        (561, 70, 'sms', '+15550100177', 'enqueued'),
        (562, 71, 'sms', '+15550100178', 'enqueued');""")
    track = lambda i: {"v": 1, "kind": "tracking", "incident_id": i}
    res, _ = invoke(env, event(env, "email", [track(560), track(560)]),
                    event(env, "sms", [track(561), track(562)]), event(env, "email", [track(560)]))
    assert res == [{"batchItemFailures": []}] * 3
    [mail] = [r for r in sent(env) if r["destinations"] == ["storage-tracking@example.com"]]
    assert mail["mode"] == "email" and mail["subject"] == "[tracking] disk on db-7"
    assert mail["body"] == "Incident 560 opened for db-7 (disk = 99)."
    assert mail["email_html"].startswith("<p>Incident 560: <b>db-7</b></p>")
    [text] = [r for r in sent(env) if r["destinations"] == ["+15550100177"]]
    assert text["mode"] == "sms" and text["body"] == "new load on db-8 (561)"
    [bad] = [r for r in sent(env) if r["destinations"] == ["+15550100178"]]
    assert bad["body"].startswith("plan track-bad - tracking notification body failed to render: ")
    assert sql(env["db"], "SELECT incident_id, state, outcome, vendor FROM sender_tracking"
                          " WHERE incident_id IN (560, 561, 562) ORDER BY 1") == [
        ["560", "done", "sent", "dummy-email"], ["561", "done", "sent", "dummy-sms"],
        ["562", "done", "sent", "dummy-sms"]]


def test_no_contact_at_all_is_recorded_not_lost(env):
    """A user with no contact for the chain's mode and no email: Iris's changelog
    'mode-change email → invalid', the message deactivated, nothing sent, a final claim."""
    sql(env["db"], "INSERT INTO target (id, name, type_id, active) VALUES (41, 'nocontact', 1, 1);"
                   "INSERT INTO user (target_id, admin) VALUES (41, 0);"
                   "INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
                   " plan_notification_id, incident_id, active, body) VALUES"
                   " (9101, UTC_TIMESTAMP(), 1, 41, 2, 2, 2, 500, 1, '');")
    res, log = invoke(env, event(env, "sms", [msg(9101)]))
    assert res == [{"batchItemFailures": []}]
    assert not [r for r in sent(env) if r["message_id"] == "9101"]
    assert sql(env["db"], "SELECT active, sent FROM message WHERE id = 9101") == [["0", "NULL"]]
    assert ["mode-change", "email", "invalid", "Ignore message as we failed to resolve target contact"] in \
        sql(env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9101")
    [claim] = sql(env["db"], "SELECT state, final, last_error FROM sender_claim WHERE claim_key = 'm:9101'")
    assert claim[0] in ("failed", "suppressed") and claim[1] == "1" and "contact" in claim[2]


def test_email_fallback_names_the_mode_that_had_no_contact(env):
    sql(env["db"], "INSERT INTO target (id, name, type_id, active) VALUES (42, 'mailonly', 1, 1);"
                   "INSERT INTO user (target_id, admin) VALUES (42, 0);"
                   "INSERT INTO target_contact (target_id, mode_id, destination) VALUES"
                   " (42, 1, 'mailonly@example.com');"
                   "INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
                   " plan_notification_id, incident_id, active, body) VALUES"
                   " (9102, UTC_TIMESTAMP(), 1, 42, 2, 2, 2, 500, 1, '');")
    res, _ = invoke(env, event(env, "sms", [msg(9102)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9102"]
    assert rec["mode"] == "email" and rec["destinations"] == ["mailonly@example.com"]
    assert ["mode-change", "sms", "email", "Changing mode due to original mode failure"] in \
        sql(env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9102")


def test_broken_template_sends_a_safe_note(env):
    """A template that fails to render still pages, with a subject carrying the message id and
    a body naming the template and the error — never the message's data (Iris sent repr())."""
    sql(env["db"], "INSERT INTO template (id, name, created, user_id) VALUES (20, 'broken', UTC_TIMESTAMP(), 1);"
                   "INSERT INTO template_active (name, template_id) VALUES ('broken', 20);"
                   "INSERT INTO template_content (template_id, application_id, mode_id, subject, body)"
                   " VALUES (20, 1, 2, '', '{{ host.missing.deeper }}');"
                   "INSERT INTO plan (id, name, created, user_id, step_count, threshold_window,"
                   " threshold_count, aggregation_window, aggregation_reset) VALUES"
                   " (72, 'uses-broken', UTC_TIMESTAMP(), 1, 1, 900, 10, 300, 300);"
                   "INSERT INTO plan_notification (id, plan_id, step, template, target_id, optional,"
                   " role_id, priority_id, `repeat`, wait) VALUES (72, 72, 1, 'broken', 1, 0, 1, 2, 0, 0);"
                   "INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
                   " plan_notification_id, incident_id, active, body) VALUES"
                   " (9103, UTC_TIMESTAMP(), 1, 1, 2, 72, 72, 500, 1, '');")
    res, _ = invoke(env, event(env, "sms", [msg(9103)]))
    assert res == [{"batchItemFailures": []}]
    [rec] = [r for r in sent(env) if r["message_id"] == "9103"]
    assert rec["subject"] == "9103 Iris failed to render your message"
    assert "template 'broken'" in rec["body"] and "db-1" not in rec["body"]
    assert sql(env["db"], "SELECT active, template_id FROM message WHERE id = 9103") == [["0", "NULL"]]


def test_over_long_body_is_dropped_and_recorded(env):
    big = "x" * 40010
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)"
                   f" VALUES (563, 2, UTC_TIMESTAMP(), '{{\"host\": \"{big}\", \"check\": \"c\"}}', 1, 1, 1);"
                   "INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
                   " plan_notification_id, incident_id, active, body) VALUES"
                   " (9104, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 563, 1, '');")
    res, _ = invoke(env, event(env, "sms", [msg(9104)]))
    assert res == [{"batchItemFailures": []}]
    assert not [r for r in sent(env) if r["message_id"] == "9104"]
    changes = sql(env["db"], "SELECT change_type, new, description FROM message_changelog WHERE message_id = 9104")
    assert any(c[0] == "mode-change" and c[1] == "drop" and
               c[2].startswith("Dropping due to excessive body length (") for c in changes)
    assert sql(env["db"], "SELECT m.active, mo.name FROM message m JOIN mode mo ON mo.id = m.mode_id"
                          " WHERE m.id = 9104") == [["0", "drop"]]


def with_config(env, **sender):
    cfg = json.loads(json.dumps(env["config"]))
    cfg["sender"].update(sender)
    return dict(env, config=cfg)


def test_application_from_address_and_tracking_reply_to(env):
    """Iris's SMTP vendor sent an application's mail from its custom sender address
    (application_custom_sender_address) and tracking copies with Reply-To their destination."""
    sql(env["db"], """
      INSERT INTO application_custom_sender_address (application_id, mode_id, sender_address)
        VALUES (1, 1, 'autoalerts@example.com')
        ON DUPLICATE KEY UPDATE sender_address = 'autoalerts@example.com';
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9601, UTC_TIMESTAMP(), 1, 1, 3, 2, 2, 500, 1, '');
      INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
        VALUES (570, 2, '2026-11-24 10:00:00', '{"host": "db-9", "check": "disk", "value": 91}', 1, 1, 1);
      INSERT INTO sender_tracking (incident_id, plan_id, mode, destination, state) VALUES
        (570, 2, 'email', 'storage-tracking@example.com', 'enqueued');""")
    with SmtpSink() as sink:
        e = with_config(env)
        e["config"]["vendors"]["email"] = [{"plugin": "smtp", "name": "smtp-test", "config": {
            "from": "iris@example.com", "server": f"127.0.0.1:{sink.port}", "tls": "none"}}]
        res, _ = invoke(e, event(env, "email", [msg(9601), {"v": 1, "kind": "tracking",
                                                            "incident_id": 570}]))
        assert res == [{"batchItemFailures": []}]
        page = [m for m in sink.messages if "ada@example.com" in m["rcpt_tos"]][0]
        assert page["mail_from"] == "autoalerts@example.com"
        assert page["message"]["From"] == "autoalerts@example.com"
        track = [m for m in sink.messages if "storage-tracking@example.com" in m["rcpt_tos"]][0]
        assert track["message"]["Reply-To"] == "storage-tracking@example.com"


def test_fallback_mode_is_configurable(env):
    """Iris always fell back to email (with a TODO to make it configurable)."""
    sql(env["db"], """INSERT INTO target_mode (target_id, priority_id, mode_id) VALUES (2, 4, 3)
                      ON DUPLICATE KEY UPDATE mode_id = 3;
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9602, UTC_TIMESTAMP(), 1, 2, 4, 2, 2, 500, 1, '');""")
    res, _ = invoke(with_config(env, fallback_mode="slack"), event(env, "call", [msg(9602)]))
    assert res == [{"batchItemFailures": []}]
    [page] = [r for r in sent(env) if r["message_id"] == "9602"]
    assert page["mode"] == "slack" and page["destinations"] == ["@grace"]
    assert ["mode-change", "call", "slack", "Changing mode due to original mode failure"] in sql(
        env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9602")


def test_dry_run_sends_nothing_and_records_what_it_would(env, tmp_path):
    """One switch for the whole deployment, as Iris's debug / skipsend mode: every mode goes to
    the dummy plugin, which records the page; the message is settled as sent by 'dry-run'."""
    record = tmp_path / "dry.jsonl"
    sql(env["db"], """INSERT INTO message (id, created, application_id, target_id, priority_id,
                           plan_id, plan_notification_id, incident_id, active, body) VALUES
        (9603, UTC_TIMESTAMP(), 1, 1, 2, 2, 2, 500, 1, '');""")
    e = with_config(env, dry_run=True, dry_run_record_file=str(record))
    e["config"]["vendors"]["sms"] = [{"plugin": "twilio", "name": "never", "config": {
        "account_sid": "AC0", "auth_token": "t0k3n-never", "from_number": "+15550000000",
        "api_base": "http://127.0.0.1:9"}}]
    res, log = invoke(e, event(env, "sms", [msg(9603)]))
    assert res == [{"batchItemFailures": []}]
    assert "DRY RUN" in log
    [rec] = [json.loads(l) for l in record.read_text().splitlines()]
    assert rec["message_id"] == "9603" and rec["destinations"] == ["+15550100101"]
    assert sql(env["db"], "SELECT state, vendor FROM sender_claim WHERE claim_key = 'm:9603'") == [
        ["sent", "dry-run"]]


def test_sms_override_for_users_who_opted_in(env):
    """Iris replaced the SMS of users with a mode_template_override row by
    sms_override_template (with the incident id), logging a content-change."""
    sql(env["db"], """INSERT INTO mode_template_override (target_id, mode_id) VALUES (3, 2);
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9604, UTC_TIMESTAMP(), 1, 3, 2, 2, 2, 500, 1, '');""")
    res, _ = invoke(with_config(env, sms_override_template="Iris incident %s needs you: open the app"),
                    event(env, "sms", [msg(9604)]))
    assert res == [{"batchItemFailures": []}]
    [page] = [r for r in sent(env) if r["message_id"] == "9604"]
    assert page["mode"] == "sms" and page["body"] == "Iris incident 500 needs you: open the app"
    assert ["content-change", "sms", "sms", "Replaced SMS body to avoid being blocked by carrier"] in sql(
        env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 9604")


def test_bad_sms_override_template_is_a_start_up_error(env):
    run = stack.run_lambda(BOOTSTRAP, [event(env, "sms", [msg(9001)])],
                           env=stack.function_env(with_config(env, sms_override_template="no slot")["config"]))
    assert run.init_error and "sms_override_template" in run.init_error["json"]["errorMessage"]


def test_dynamic_target_is_in_the_template_context(env):
    """Iris passes iris.dynamic_target: the name of the dynamic plan slot's target, else None."""
    sql(env["db"], """
      INSERT INTO template (id, name, created, user_id) VALUES (90, 'dyn-check', UTC_TIMESTAMP(), 1);
      INSERT INTO template_active (name, template_id) VALUES ('dyn-check', 90);
      INSERT INTO template_content (template_id, application_id, mode_id, subject, body)
        SELECT 90, 1, id, '', 'for {{ iris.dynamic_target }}' FROM mode WHERE name <> 'drop';
      INSERT INTO plan_notification (id, plan_id, step, template, target_id, optional, role_id,
                                     priority_id, `repeat`, wait, dynamic_index) VALUES
        (80, 2, 1, 'dyn-check', NULL, 0, NULL, 2, 0, 0, 0),
        (81, 2, 1, 'dyn-check', 1, 0, 1, 2, 0, 0, NULL);
      INSERT INTO dynamic_plan_map (incident_id, dynamic_index, role_id, target_id)
        VALUES (500, 0, 6, 20);
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9605, UTC_TIMESTAMP(), 1, 1, 2, 2, 80, 500, 1, ''),
        (9606, UTC_TIMESTAMP(), 1, 1, 2, 2, 81, 500, 1, '');""")
    res, _ = invoke(env, event(env, "sms", [msg(9605), msg(9606)]))
    assert res == [{"batchItemFailures": []}]
    by_id = {r["message_id"]: r for r in sent(env)}
    list_name = sql(env["db"], "SELECT name FROM target WHERE id = 20")[0][0]
    assert by_id["9605"]["body"].endswith(f"for {list_name}")
    assert by_id["9606"]["body"].endswith("for None")


def test_record_moves_to_its_modes_lane(env):
    """The coordinator chose the sms lane, then the user's preference for the priority became
    email: the record goes to the email lane's queue, its claim is given back, and it is
    delivered by email when that lane hands it over."""
    sql(env["db"], """INSERT INTO target_mode (target_id, priority_id, mode_id) VALUES (3, 2, 1)
                      ON DUPLICATE KEY UPDATE mode_id = 1;
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9607, UTC_TIMESTAMP(), 1, 3, 2, 2, 2, 500, 1, '');""")
    moving = with_config(env, move_to_lane=True)
    res, _ = invoke(moving, event(env, "sms", [msg(9607)]))
    assert res == [{"batchItemFailures": []}]
    assert not [r for r in sent(env) if r["message_id"] == "9607"]
    got = env["sqs"].receive_message(QueueUrl=env["queues"]["email"], MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1).get("Messages", [])
    moved = [m for m in got if json.loads(m["Body"]).get("message_id") == 9607]
    assert len(moved) == 1
    assert sql(env["db"], "SELECT state, final FROM sender_claim WHERE claim_key = 'm:9607'") == [
        ["failed", "0"]]
    time.sleep(1.2)  # the given-back claim may be taken again after a second
    res, _ = invoke(moving, event(env, "email", [moved[0]["Body"]]))
    assert res == [{"batchItemFailures": []}]
    [page] = [r for r in sent(env) if r["message_id"] == "9607"]
    assert page["mode"] == "email" and page["destinations"] == ["linus@example.org"]


def test_reprioritization_of_mode_and_category_notifications(env):
    """Iris reprioritised every resolved contact of a user, whatever chose the mode."""
    reprioritization_users(env, [(64, "sms", "email", 1, 60), (65, "slack", "email", 1, 60)])
    sql(env["db"], """INSERT INTO notification_category (id, application_id, name, description, mode_id)
                      VALUES (90, 1, 'repri-cat', 'test', 5)""")
    fresh_minute(env)
    by_mode = [notification(target="rp-64", role="user", mode="sms", subject="s", body="b")
               for _ in range(2)]
    by_cat = [notification(target="rp-65", role="user", category="repri-cat", subject="s", body="b")
              for _ in range(2)]
    res, _ = invoke(env, event(env, "sms", by_mode[:1]), event(env, "sms", by_mode[1:]),
                    event(env, "slack", by_cat[:1]), event(env, "slack", by_cat[1:]))
    assert res == [{"batchItemFailures": []}] * 4
    got = {r["message_id"]: r["mode"] for r in sent(env)}
    assert [got[n["notification_id"]] for n in by_mode] == ["sms", "email"]
    assert [got[n["notification_id"]] for n in by_cat] == ["slack", "email"]


def test_push_before_a_text_as_iris_did(env):
    """Iris's Twilio vendor pushed to the user's phones (FCM) before every text and call; here
    through FCM's HTTP v1 API with a service account, once per page, and a device FCM no longer
    knows is forgotten."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google_fake import GoogleFake
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    email = "iris-push@example-project.iam.gserviceaccount.com"
    sql(env["db"], """INSERT INTO target (id, name, type_id, active) VALUES (95, 'pushy', 1, 1);
      INSERT INTO user (target_id, admin) VALUES (95, 0);
      INSERT INTO target_contact (target_id, mode_id, destination) VALUES (95, 2, '+15550100195'),
        (95, 1, 'pushy@example.com');
      INSERT INTO device (registration_id, user_id, platform) VALUES
        ('fcm-pushy-android', 95, 'android'), ('gone-token', 95, 'ios');
      INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,
                           plan_notification_id, incident_id, active, body) VALUES
        (9610, UTC_TIMESTAMP(), 1, 95, 2, 2, 2, 500, 1, '');""")
    with GoogleFake(client_email=email, public_key_pem=pub) as fake:
        fake.gone.add("gone-token")
        e = with_config(env)
        e["config"]["push"] = {
            "credentials": json.dumps({"type": "service_account", "client_email": email,
                                       "private_key": pem}),
            "project": "iris-app", "api": fake.url, "token_uri": f"{fake.url}/token"}
        res, log = invoke(e, event(env, "sms", [msg(9610)]))
        assert res == [{"batchItemFailures": []}]
        sends = [json.loads(r["body"])["message"] for r in fake.requests if r["path"].endswith(":send")]
        assert sorted(m["token"] for m in sends) == ["fcm-pushy-android", "gone-token"]
        android = [m for m in sends if m["token"] == "fcm-pushy-android"][0]
        assert android["data"]["incident_id"] == "500"
        assert fake.violations == []
    [page] = [r for r in sent(env) if r["message_id"] == "9610"]
    assert page["mode"] == "sms"
    assert sql(env["db"], "SELECT COUNT(*) FROM device WHERE registration_id = 'gone-token'") == [["0"]]
    assert pem.splitlines()[1] not in log


@pytest.mark.parametrize("cache_ms", [60000, 0])
def test_contact_change_reaches_a_warm_sender_after_lookup_cache_ms(env, cache_ms):
    """The priority chains read for one batch answer the next batches of the same users for
    sender.lookup_cache_ms: a warm sender pages the number it read until then; with 0 it reads
    them for every batch, so the next batch pages the new number."""
    from fake_runtime import FakeRuntime
    t = 77 if cache_ms else 78
    first, second = [t * 100 + 1, t * 100 + 2], [t * 100 + 3, t * 100 + 4]
    sql(env["db"], f"INSERT INTO target (id, name, type_id, active) VALUES ({t}, 'lc-{t}', 1, 1);"
                   f"INSERT INTO user (target_id, admin) VALUES ({t}, 0);"
                   f"INSERT INTO target_contact (target_id, mode_id, destination) VALUES"
                   f" ({t}, 2, '+155503000{t}'), ({t}, 1, 'lc-{t}@example.com');")
    page_messages(env, t, first + second)
    cfg = with_config(env, lookup_cache_ms=cache_ms)["config"]
    with FakeRuntime() as rt:
        proc = rt.start_bootstrap(BOOTSTRAP, stack.function_env(cfg), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        one = rt.add_event(event(env, "sms", [msg(i) for i in first]), timeout_ms=30000)
        rt.wait_results([one], timeout=60)
        sql(env["db"], f"UPDATE target_contact SET destination = '+155503999{t}'"
                       f" WHERE target_id = {t} AND mode_id = 2")
        two = rt.add_event(event(env, "sms", [msg(i) for i in second]), timeout_ms=30000)
        rt.wait_results([two], timeout=60)
        rt.finish()
        _, log = proc.communicate(timeout=60)
    assert proc.returncode == 0, log[-2000:]
    assert [rt.results[i]["json"] for i in (one, two)] == [{"batchItemFailures": []}] * 2
    by_id = {r["message_id"]: r["destinations"] for r in sent(env)}
    assert [by_id[str(i)] for i in first] == [[f"+155503000{t}"]] * 2
    expect = f"+155503000{t}" if cache_ms else f"+155503999{t}"
    assert [by_id[str(i)] for i in second] == [[expect]] * 2
