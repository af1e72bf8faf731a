"""The sender under faults, as long-polling worker processes (iris-sender --worker) against
MariaDB, SQS (moto) and the dummy plugin: a slow mode does not hold back another lane; a
worker killed in the middle of a vendor call loses nothing (its claim is taken over after the
lease and the page goes out once); the database dropping the sender's connections between
messages costs nothing; a private MariaDB SIGKILLed and restarted under load loses and
duplicates nothing."""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

import irisstack as stack
from irisstack import sql, wait_for
from private_mariadb import PrivateMariaDB

SENDER = stack.bootstrap("sender")
INCIDENT_600 = """INSERT INTO incident (id, plan_id, created, context, application_id, current_step,
                                        active)
                  VALUES (600, 2, UTC_TIMESTAMP(), '{"host": "h", "check": "c"}', 1, 1, 1);"""


@pytest.fixture
def env(tmp_path):
    sqs = stack.aws_client("sqs")
    sfx = uuid.uuid4().hex[:6]
    queues = stack.create_queues(sqs, lambda lane: f"f-{lane}-{sfx}", ("sms", "call"),
                                 VisibilityTimeout=2)
    with stack.iris_db("iris_faults") as db:
        sql(db, INCIDENT_600)
        yield {"db": db, "sqs": sqs, "queues": queues, "record": tmp_path / "sent.jsonl"}


def config(env, call_stall_ms=0, lease=60, sms_stall_ms=0):
    rec = str(env["record"])
    call = {"record_file": rec}
    if call_stall_ms:
        call["stall_ms"] = str(call_stall_ms)
    sms = {"record_file": rec}
    if sms_stall_ms:
        sms["stall_ms"] = str(sms_stall_ms)
    return stack.config(
        env["db"], env["queues"], plugins=True, host=env.get("db_host", stack.MYSQL_HOST),
        port=env.get("db_port", stack.MYSQL_PORT),
        sender={"lease_seconds": lease, "backoff_base_seconds": 1},
        vendors={"sms": [{"plugin": "dummy", "name": "sms", "config": sms}],
                 "call": [{"plugin": "dummy", "name": "call", "config": call}],
                 "email": [{"plugin": "dummy", "name": "email", "config": {"record_file": rec}}]})


def worker(env, cfg, lanes, max_idle=4):
    # Logs go to a file: an unread pipe would fill up and block the worker.
    log = open(env["record"].parent / f"worker-{'-'.join(lanes)}-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen([SENDER, "--worker", "--max-idle", str(max_idle), *lanes],
                            env=dict(os.environ, IRIS_CONFIG_JSON=json.dumps(cfg)),
                            stdout=subprocess.DEVNULL, stderr=log)


def add_messages(env, rows, run=None):
    (run or sql)(env["db"], "".join(
        f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES ({m}, UTC_TIMESTAMP(), 1, {t},"
        f" {p}, 2, 2, 600, 1, '');" for m, t, p in rows))


def enqueue(env, lane, ids):
    for i in ids:
        env["sqs"].send_message(QueueUrl=env["queues"][lane],
                                MessageBody=json.dumps({"v": 1, "kind": "message", "message_id": i}))


def sent(env):
    return stack.read_jsonl(env["record"])


def test_a_slow_mode_does_not_delay_another_lane(env):
    # grace → call (her override for Autoalerts/high); ada → sms
    add_messages(env, [(7001, 2, 2), (7002, 1, 2), (7003, 1, 2), (7004, 1, 2)])
    cfg = config(env, call_stall_ms=6000)
    enqueue(env, "call", [7001])
    enqueue(env, "sms", [7002, 7003, 7004])
    t0 = time.monotonic()
    calls, smss = worker(env, cfg, ["call"]), worker(env, cfg, ["sms"])
    try:
        assert wait_for(lambda: {"7002", "7003", "7004"} <= {r["message_id"] for r in sent(env)})
        sms_done = time.monotonic() - t0
        assert not [r for r in sent(env) if r["message_id"] == "7001"]  # the call is still stalled
        assert wait_for(lambda: "7001" in {r["message_id"] for r in sent(env)})
        call_done = time.monotonic() - t0
        print(f"sms lane finished after {sms_done:.1f} s, the stalled call lane after {call_done:.1f} s")
        assert sms_done < call_done
    finally:
        for p in (calls, smss):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)


def test_worker_killed_mid_send_loses_nothing(env):
    add_messages(env, [(7101, 2, 2)])
    enqueue(env, "call", [7101])
    first = worker(env, config(env, call_stall_ms=20000, lease=5), ["call"])
    try:
        ok = wait_for(lambda: sql(env["db"], "SELECT state FROM sender_claim WHERE claim_key = 'm:7101'")
                      == [["sending"]])
        assert ok, [p.read_text() for p in env["record"].parent.glob("worker-*.log")]
    finally:
        first.kill()  # SIGKILL in the middle of the vendor call
        first.wait()
    assert sent(env) == []
    second = worker(env, config(env, lease=5), ["call"], max_idle=12)
    try:
        assert wait_for(lambda: sql(env["db"], "SELECT state, takeovers, attempts FROM sender_claim"
                                               " WHERE claim_key = 'm:7101'") == [["sent", "1", "2"]],
                        timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert [r["message_id"] for r in sent(env)] == ["7101"]  # delivered once
    assert sql(env["db"], "SELECT active, sent IS NOT NULL FROM message WHERE id = 7101") == [["0", "1"]]


def test_database_connections_dropped_between_messages(env):
    add_messages(env, [(7201, 1, 2), (7202, 1, 2)])
    w = worker(env, config(env), ["sms"], max_idle=30)
    try:
        enqueue(env, "sms", [7201])
        assert wait_for(lambda: "7201" in {r["message_id"] for r in sent(env)})
        ids = sql(env["db"], f"SELECT id FROM information_schema.processlist WHERE db = '{env['db']}'"
                             " AND id <> CONNECTION_ID()")
        assert ids
        sql(env["db"], "".join(f"KILL CONNECTION {i[0]};" for i in ids))
        enqueue(env, "sms", [7202])
        assert wait_for(lambda: "7202" in {r["message_id"] for r in sent(env)}, timeout=30)
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
    assert [r["message_id"] for r in sent(env)].count("7202") == 1


@pytest.fixture
def private_env(tmp_path):
    """A database on a private MariaDB server of this test's own, which it may kill."""
    mdb = PrivateMariaDB()
    try:
        mdb.start()
        db = "iris_restart"
        mdb.load_iris(db)
        mdb.sql(db, INCIDENT_600)
        sqs = stack.aws_client("sqs")
        sfx = uuid.uuid4().hex[:6]
        # A visibility timeout well above a worker's batch (10 records x the vendor's stall), so
        # only the sender's own retries make a record visible again.
        queues = {"sms": sqs.create_queue(QueueName=f"r-sms-{sfx}",
                                          Attributes={"VisibilityTimeout": "30"})["QueueUrl"]}
        yield {"db": db, "mdb": mdb, "db_host": mdb.host, "db_port": mdb.port, "sqs": sqs,
               "queues": queues, "record": tmp_path / "sent.jsonl"}
    finally:
        mdb.close()


def worker_logs(env):
    return "".join(p.read_text(errors="replace") for p in env["record"].parent.glob("worker-*.log"))


def test_database_restart_under_load_loses_and_duplicates_nothing(private_env):
    env, mdb = private_env, private_env["mdb"]
    ids = list(range(8001, 8061))
    # linus (3), Autoalerts high → sms by the priority default; he has no reprioritisation rule
    add_messages(env, [(i, 3, 2) for i in ids], run=mdb.sql)
    # Every vendor call takes 100 ms, so workers are likely inside one when the server dies:
    # their pages are out, and the outcome has to be recorded once the database is back.
    cfg = config(env, lease=20, sms_stall_ms=100)
    workers = [worker(env, cfg, ["sms"], max_idle=100) for _ in range(3)]
    try:
        for k in range(0, len(ids), 10):
            env["sqs"].send_message_batch(QueueUrl=env["queues"]["sms"], Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"v": 1, "kind": "message", "message_id": i})}
                for i in ids[k:k + 10]])
        assert wait_for(lambda: len(sent(env)) >= 12, timeout=60), worker_logs(env)
        mdb.kill()
        killed_at = len(sent(env))
        time.sleep(4)
        during = len(sent(env))
        mdb.start()
        print(f"server killed after {killed_at} sends; {during - killed_at} vendor calls finished"
              " while it was down")

        def settled():
            try:
                return mdb.sql(env["db"], "SELECT COUNT(*) FROM sender_claim WHERE state = 'sent'"
                                          " AND message_id BETWEEN 8001 AND 8060") == [["60"]]
            except RuntimeError:
                return False
        assert wait_for(settled, timeout=120), worker_logs(env)[-5000:]
        assert all(w.poll() is None for w in workers), "a worker exited: " + worker_logs(env)[-5000:]
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(timeout=60) for w in workers]
    assert codes == [0, 0, 0], worker_logs(env)[-5000:]
    pages = [int(r["message_id"]) for r in sent(env)]
    assert sorted(pages) == ids, f"lost {set(ids) - set(pages)}, twice {[i for i in ids if pages.count(i) > 1]}"
    rows = mdb.sql(env["db"], "SELECT COUNT(*), SUM(active = 0), SUM(sent IS NOT NULL),"
                              " SUM(mode_id = 2), SUM(destination = '+15550100103')"
                              " FROM message WHERE id BETWEEN 8001 AND 8060")
    assert rows == [["60", "60", "60", "60", "60"]]
    assert mdb.sql(env["db"], "SELECT COUNT(*) FROM sender_enqueue WHERE message_id BETWEEN 8001 AND 8060"
                              " AND state <> 'done'") == [["0"]]
    # What the workers met while the server was down was reported specifically: the MySQL
    # client error (2002 cannot connect, 2013 lost during a query, 2006 gone) and what was done.
    problems = [l["msg"] for l in map(json.loads, worker_logs(env).splitlines())
                if l["level"] in ("warn", "error")]
    print("\n".join(problems[:20]))
    assert problems
    assert all(any(f"MySQL {e}" in m for e in (2002, 2006, 2013)) for m in problems
               if "recording" in m or "will retry" in m), problems
    assert any(f"127.0.0.1:{mdb.port}" in m or "Lost connection" in m for m in problems), problems


def redrive_lane(env, lane, max_receives, own_dlq=True):
    """A lane whose queue has a real redrive policy (maxReceiveCount = max_receives) to a
    dead-letter queue; with own_dlq the sender is told that queue too (queues.dead_letter)."""
    sqs, sfx = env["sqs"], uuid.uuid4().hex[:6]
    dlq = sqs.create_queue(QueueName=f"f-dlq-{lane}-{sfx}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName=f"f-{lane}-rd-{sfx}", Attributes={
        "VisibilityTimeout": "2",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    env["queues"][lane] = q
    if own_dlq:
        env["queues"]["dead_letter"] = dlq
    return q, dlq


def poison_config(env, max_receives, fail_sms="retryable", fail_email="retryable"):
    cfg = config(env)
    cfg["sender"].update(max_receives=max_receives, max_attempts=10, backoff_base_seconds=1)
    for lane, fail in (("sms", fail_sms), ("email", fail_email)):
        if fail:
            cfg["vendors"][lane][0]["config"]["fail"] = fail
    return cfg


def dead_letters(env, dlq, want=1, timeout=30):
    got, end = [], time.monotonic() + timeout
    while len(got) < want and time.monotonic() < end:
        got += env["sqs"].receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                          MessageAttributeNames=["All"]).get("Messages", [])
    return got


def run_until_dead_lettered(env, dlq, lanes):
    w = worker(env, env["cfg"], lanes, max_idle=60)
    try:
        got = dead_letters(env, dlq)
        # nothing more arrives: the record is not dead-lettered twice, nor redelivered
        got += dead_letters(env, dlq, want=2, timeout=4)
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(timeout=30) == 0
    return got


def test_vendor_failing_forever_reaches_the_dead_letter_queue_with_its_reason(env):
    # linus (3), Autoalerts high → sms; his sms vendor and the email fallback answer 500 forever
    add_messages(env, [(7401, 3, 2)])
    _, dlq = redrive_lane(env, "sms", 2)
    env["cfg"] = poison_config(env, 2)
    enqueue(env, "sms", [7401])
    [dead] = run_until_dead_lettered(env, dlq, ["sms"])
    assert json.loads(dead["Body"]) == {"v": 1, "kind": "message", "message_id": 7401}
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    reason = attrs["reason"]
    assert reason.startswith("gave up on the last receive (2 of 2) after 2 attempt(s): dummy sms: "
                             "failing send 2 (configured); email fallback: dummy email: failing send"), reason
    assert attrs["lane"] == "sms" and attrs["receive_count"] == "2"
    # MySQL has the outcome: the claim failed for good, the message inactive and unsent, the
    # changelog says why
    assert sql(env["db"], "SELECT state, final, attempts, last_error FROM sender_claim"
                          " WHERE claim_key = 'm:7401'") == [["failed", "1", "3", reason]]
    assert sql(env["db"], "SELECT active, sent IS NULL FROM message WHERE id = 7401") == [["0", "1"]]
    assert ["sent-change", "sms", "failed", reason[:255]] in sql(
        env["db"], "SELECT change_type, old, new, description FROM message_changelog WHERE message_id = 7401")
    assert sent(env) == []
    logs = worker_logs(env)
    assert "attempt 1 of 10 failed: dummy sms: failing send 1 (configured); retry in 1 s" in logs
    assert "giving up on receive 2, for the dead-letter queue: gave up on the last receive" in logs


def test_without_its_own_dead_letter_queue_the_redrive_policy_takes_it(env):
    add_messages(env, [(7402, 3, 2)])
    _, dlq = redrive_lane(env, "sms", 3, own_dlq=False)
    env["cfg"] = poison_config(env, 3)
    enqueue(env, "sms", [7402])
    [dead] = run_until_dead_lettered(env, dlq, ["sms"])
    # SQS moved the original (no reason attribute); the reason is in MySQL and in the log
    assert json.loads(dead["Body"])["message_id"] == 7402 and not dead.get("MessageAttributes")
    [[state, final, error]] = sql(env["db"], "SELECT state, final, last_error FROM sender_claim"
                                             " WHERE claim_key = 'm:7402'")
    assert (state, final) == ("failed", "1")
    assert error.startswith("gave up on the last receive (3 of 3) after 3 attempt(s): dummy sms")
    assert f"giving up on receive 3, for the dead-letter queue: {error}" in worker_logs(env)
    assert sql(env["db"], "SELECT active, sent IS NULL FROM message WHERE id = 7402") == [["0", "1"]]


def test_an_internal_error_on_every_receive_reaches_the_dead_letter_queue(env):
    # The database refuses the claim's step to 'sending' for this message only, every time:
    # an error of the sender's own path, not of the vendor.
    sql(env["db"], """DELIMITER //
        CREATE TRIGGER poison_7403 BEFORE UPDATE ON sender_claim FOR EACH ROW
          IF NEW.state = 'sending' AND NEW.claim_key = 'm:7403' THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected: no sending for 7403';
          END IF //
        DELIMITER ;""")
    add_messages(env, [(7403, 3, 2)])
    _, dlq = redrive_lane(env, "sms", 2)
    env["cfg"] = poison_config(env, 2, fail_sms=None, fail_email=None)
    enqueue(env, "sms", [7403])
    [dead] = run_until_dead_lettered(env, dlq, ["sms"])
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("gave up on the last receive (2 of 2): claim m:7403 sending: db: execute"), reason
    assert "MySQL 1644: injected: no sending for 7403" in reason
    assert sql(env["db"], "SELECT state, final, attempts, last_error FROM sender_claim"
                          " WHERE claim_key = 'm:7403'") == [["failed", "1", "0", reason]]
    assert sql(env["db"], "SELECT active, sent IS NULL FROM message WHERE id = 7403") == [["0", "1"]]
    logs = worker_logs(env)
    # the first receive gave the claim back with the error, so the second did not wait out the lease
    assert "MySQL 1644: injected: no sending for 7403; will retry" in logs
    assert "that was its last receive" in logs
    assert sent(env) == []
