"""The coordinator bootstrap (lambda/coordinator) through the fake Runtime API against
MariaDB (Iris's schema and demo plans) and SQS (moto): new incidents get their first step's
messages, every message is enqueued once on its lane, repeats and step escalation follow the
plan on a compressed clock (message times moved back), exhausted incidents are deactivated,
claimed incidents stop, and two coordinators started at once produce what one would."""
import json
import os
import subprocess
import sys
import threading
import uuid

import boto3
import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(SRC, "tests", "fakes"))
from fake_runtime import FakeRuntime  # noqa: E402

COORD = os.path.join(BUILD, "lambda", "coordinator", "iris-coordinator")
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
def env():
    db = f"iris_coord_{uuid.uuid4().hex[:8]}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True)
    sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
    sfx = uuid.uuid4().hex[:6]
    queues = {lane: sqs.create_queue(QueueName=f"c-{lane}-{sfx}")["QueueUrl"]
              for lane in ("email", "sms", "call", "im", "slack", "hipchat", "notifications")}
    cfg = {"db": {"host": HOST, "port": int(PORT), "user": "root", "database": db},
           "aws": {"region": "us-east-1", "endpoint": ENDPOINT}, "queues": queues,
           "coordinator": {"tick_seconds": 1, "margin_ms": 200}}
    yield {"db": db, "sqs": sqs, "queues": queues, "cfg": cfg}
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def run(env, timeout_ms=1500, n=1):
    with FakeRuntime() as rt:
        ids = [rt.add_event({"source": "aws.scheduler"}, timeout_ms=timeout_ms) for _ in range(n)]
        proc = rt.run_bootstrap(COORD, env={"IRIS_CONFIG_JSON": json.dumps(env["cfg"]),
                                            "AWS_ACCESS_KEY_ID": "testing",
                                            "AWS_SECRET_ACCESS_KEY": "testing"})
        assert rt.init_error is None and proc.returncode == 0, proc.err
        return [rt.results[i]["json"] for i in ids]


def queued(env, lane=None):
    """The envelopes waiting on one lane (all lanes when None), received and deleted."""
    if lane is None:
        return [e for name in env["queues"] for e in queued(env, name)]
    got = []
    while True:
        batch = env["sqs"].receive_message(QueueUrl=env["queues"][lane], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return got
        for m in batch:
            got.append(json.loads(m["Body"]))
            env["sqs"].delete_message(QueueUrl=env["queues"][lane], ReceiptHandle=m["ReceiptHandle"])


def messages(env, incident):
    return sql(env["db"], "SELECT m.plan_notification_id, t.name, p.name FROM message m"
                          " JOIN target t ON t.id = m.target_id JOIN priority p ON p.id = m.priority_id"
                          f" WHERE m.incident_id = {incident} ORDER BY m.plan_notification_id, t.name")


def open_incident(env, id_=700):
    sql(env["db"], "INSERT INTO incident (id, plan_id, created, context, application_id, current_step,"
                   f" active) VALUES ({id_}, 2, UTC_TIMESTAMP(), '{{\"host\": \"db-9\"}}', 1, 0, 1)")


def age(env, incident, seconds):
    """The compressed clock: everything the coordinator remembers about the incident happened
    `seconds` earlier."""
    sql(env["db"], f"UPDATE message SET created = created - INTERVAL {seconds} SECOND,"
                   f" sent = sent - INTERVAL {seconds} SECOND WHERE incident_id = {incident};"
                   f"UPDATE sender_escalation SET last_round_at = last_round_at - INTERVAL {seconds} SECOND,"
                   f" due_at = due_at - INTERVAL {seconds} SECOND WHERE incident_id = {incident};")


def test_new_incident_first_step_and_enqueue_once(env):
    open_incident(env)
    [summary] = run(env)
    assert summary["new_incidents"] == 1 and summary["messages_created"] == 4
    # step 1: on-call (needs the Oncall API → the plan's creator, ada, at low, with a note)
    # and the whole team (optional, low)
    assert messages(env, 700) == [["2", "ada", "low"], ["3", "ada", "low"], ["3", "linus", "low"],
                                  ["3", "wei", "low"]]
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["1"]]
    note = sql(env["db"], "SELECT LEFT(body, 60) FROM message WHERE incident_id = 700 AND plan_notification_id = 2")
    assert note[0][0].startswith("You are receiving this as you created this plan")
    assert sql(env["db"], "SELECT COUNT(*) FROM message_changelog c JOIN message m ON m.id = c.message_id"
                          " WHERE m.incident_id = 700 AND c.change_type = 'target-change'") == [["1"]]
    envs = queued(env)  # each on the lane of its mode; the plan's tracking copy by email
    assert sorted(e["message_id"] for e in envs if e["kind"] == "message") == sorted(
        int(r[0]) for r in sql(env["db"], "SELECT id FROM message WHERE incident_id = 700"))
    assert [e for e in envs if e["kind"] == "tracking"] == [{"v": 1, "kind": "tracking", "incident_id": 700}]
    # a second run enqueues nothing again (markers are 'enqueued', not yet due)
    [summary] = run(env)
    assert summary["messages_enqueued"] == 0 and queued(env, "email") == []


def test_repeats_escalation_and_deactivation(env):
    open_incident(env)
    run(env)
    age(env, 700, 301)  # pn 2 waits 300 s between its 3 rounds
    [s] = run(env)
    assert s["repeats"] == 1 and s["escalations"] == 0
    age(env, 700, 700)  # pn 3 (once, wait 600) is exhausted → step 2; pn 2 repeats again
    [s] = run(env)
    assert s["escalations"] == 1
    assert sql(env["db"], "SELECT current_step FROM incident WHERE id = 700") == [["2"]]
    step2 = [m for m in messages(env, 700) if m[0] in ("4", "5")]
    assert ["4", "grace", "urgent"] in step2  # the team's manager
    assert {m[1] for m in step2 if m[0] == "5"} == {"ada", "grace", "linus"}  # the list
    # Not deactivated while final-step messages are unsent.
    age(env, 700, 1000)
    run(env)
    assert sql(env["db"], "SELECT active FROM incident WHERE id = 700") == [["1"]]
    # Send everything, finish the repeats, let the waits pass: deactivated.
    for _ in range(3):
        sql(env["db"], "UPDATE message SET sent = UTC_TIMESTAMP(), active = 0 WHERE incident_id = 700")
        age(env, 700, 1000)
        run(env)
    assert sql(env["db"], "SELECT active FROM incident WHERE id = 700") == [["0"]]


def test_claimed_incident_stops(env):
    open_incident(env)
    run(env)
    sql(env["db"], "UPDATE incident SET active = 0, owner_id = 1 WHERE id = 700;"
                   "UPDATE message SET active = 0 WHERE incident_id = 700;")
    age(env, 700, 2000)
    [s] = run(env)
    assert s["repeats"] == 0 and s["escalations"] == 0 and s["messages_created"] == 0
    assert sql(env["db"], "SELECT COUNT(*) FROM sender_enqueue WHERE state <> 'done'") == [["0"]]


def test_two_coordinators_at_once_do_the_work_once(env):
    for i in range(5):
        open_incident(env, 710 + i)
    results = []
    threads = [threading.Thread(target=lambda: results.extend(run(env, timeout_ms=3000)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    skipped = [r for r in results if "skipped" in r]
    worked = [r for r in results if "skipped" not in r]
    assert len(worked) >= 1
    assert sql(env["db"], "SELECT COUNT(*) FROM message WHERE incident_id BETWEEN 710 AND 714") == [["20"]]
    assert sum(r["new_incidents"] for r in worked) == 5
    envs = queued(env)
    assert len([e for e in envs if e["kind"] == "message"]) == 20
    assert sorted(e["incident_id"] for e in envs if e["kind"] == "tracking") == list(range(710, 715))
    print(f"{len(worked)} coordinator(s) worked, {len(skipped)} found the lease held")
