"""The sender under faults, as long-polling worker processes (iris-sender --worker) against
MariaDB, SQS (moto) and the dummy plugin: a slow mode does not hold back another lane; a
worker killed in the middle of a vendor call loses nothing (its claim is taken over after the
lease and the page goes out once); the database dropping the sender's connections between
messages costs nothing."""
import json
import os
import signal
import subprocess
import time
import uuid

import boto3
import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
SENDER = os.path.join(BUILD, "lambda", "sender", "iris-sender")
HOST = os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1")
PORT = os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")
ENDPOINT = os.environ.get("IRIS_TEST_AWS_ENDPOINT")


def sql(db, text):
    r = subprocess.run(["mariadb", "--protocol=TCP", "-h", HOST, "-P", PORT, "-u", "root",
                        "--batch", "--skip-column-names", db], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.fixture
def env(tmp_path):
    db = f"iris_faults_{uuid.uuid4().hex[:8]}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True)
    sql(db, """INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
                 VALUES (600, 2, UTC_TIMESTAMP(), '{"host": "h", "check": "c"}', 1, 1, 1);""")
    sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
    sfx = uuid.uuid4().hex[:6]
    queues = {lane: sqs.create_queue(QueueName=f"f-{lane}-{sfx}",
                                     Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
              for lane in ("sms", "call")}
    yield {"db": db, "sqs": sqs, "queues": queues, "record": tmp_path / "sent.jsonl"}
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def config(env, call_stall_ms=0, lease=60):
    rec = str(env["record"])
    call = {"record_file": rec}
    if call_stall_ms:
        call["stall_ms"] = str(call_stall_ms)
    return {"db": {"host": HOST, "port": int(PORT), "user": "root", "database": env["db"]},
            "aws": {"region": "us-east-1", "endpoint": ENDPOINT}, "queues": env["queues"],
            "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
            "sender": {"lease_seconds": lease, "backoff_base_seconds": 1},
            "vendors": {"sms": [{"plugin": "dummy", "name": "sms", "config": {"record_file": rec}}],
                        "call": [{"plugin": "dummy", "name": "call", "config": call}],
                        "email": [{"plugin": "dummy", "name": "email", "config": {"record_file": rec}}]}}


def worker(env, cfg, lanes, max_idle=4):
    # Logs go to a file: an unread pipe would fill up and block the worker.
    log = open(env["record"].parent / f"worker-{'-'.join(lanes)}-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen([SENDER, "--worker", "--max-idle", str(max_idle), *lanes],
                            env=dict(os.environ, IRIS_CONFIG_JSON=json.dumps(cfg)),
                            stdout=subprocess.DEVNULL, stderr=log)


def add_messages(env, rows):
    sql(env["db"], "".join(
        f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES ({m}, UTC_TIMESTAMP(), 1, {t},"
        f" {p}, 2, 2, 600, 1, '');" for m, t, p in rows))


def enqueue(env, lane, ids):
    for i in ids:
        env["sqs"].send_message(QueueUrl=env["queues"][lane],
                                MessageBody=json.dumps({"v": 1, "kind": "message", "message_id": i}))


def sent(env):
    if not env["record"].exists():
        return []
    return [json.loads(l) for l in env["record"].read_text().splitlines()]


def wait_for(pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


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
