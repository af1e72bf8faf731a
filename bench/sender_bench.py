#!/usr/bin/env python3
"""bench/sender_bench.py [--count] [N] — the sender end to end: N message rows (default 2000)
delivered through the real iris-sender bootstrap (fake Runtime API, SQS-style events of 10
records) with the dummy plugin. Prints records per second for one process and its peak memory.

Without --count it runs against the local MariaDB (durable commits). With --count it runs
against a MariaDB of its own (tests/integration/private_mariadb.py: nothing else talks to it)
and prints what the sender asked of the database per record, from the server's status
counters: statements (Questions: one round trip each, text or prepared; prepares apart),
BEGIN/COMMIT pairs, and the redo log writes (Innodb_log_writes): with one client and
durable commits, each is one commit of a writing transaction the sender waited for.

Run inside the local stack: scripts/with-stack.sh build/release/stack python
bench/sender_bench.py (bench/sender_bench.sh does all of that)."""
import json
import os
import resource
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("IRIS_BUILD_DIR", os.path.join(ROOT, "build", "release"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from fake_runtime import FakeRuntime  # noqa: E402

args = [a for a in sys.argv[1:] if a != "--count"]
count_mode = "--count" in sys.argv[1:]
n = int(args[0]) if args else 2000
db = f"iris_bench_{uuid.uuid4().hex[:8]}"
host, port = os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"), os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")
private = None
if count_mode:
    from private_mariadb import PrivateMariaDB  # noqa: E402
    private = PrivateMariaDB().start()
    host, port = private.host, str(private.port)
db_env = dict(os.environ, IRIS_DB_HOST=host, IRIS_DB_PORT=port, IRIS_DB_USER="root", IRIS_DB_PASSWORD="")

COUNTERS = ("Questions", "Com_stmt_execute", "Com_stmt_prepare", "Com_commit", "Com_begin",
            "Innodb_log_writes")


def sql(text, database=db):
    r = subprocess.run(["mariadb", "--protocol=TCP", "-h", host, "-P", port, "-u", "root",
                        "--batch", "--skip-column-names", *([database] if database else [])],
                       input=text, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"SQL failed: {r.stderr}")
    return [line.split("\t") for line in r.stdout.splitlines()]


def status():
    rows = sql("SHOW GLOBAL STATUS", None)
    return {k: int(v) for k, v in rows if k in COUNTERS}


try:
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(ROOT, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True, env=db_env)
    ctx = json.dumps({"host": "db-1", "check": "disk_usage", "value": 97.5, "threshold": 90,
                      "severity": "critical", "tags": ["db", "prod"], "runbook_url": "https://x"})
    sql(f"INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)"
        f" VALUES (900001, 2, UTC_TIMESTAMP(), '{ctx}', 1, 1, 1);"
        "UPDATE application_quota SET hard_quota_threshold = 30000, soft_quota_threshold = 30000;")
    rows = ",".join(f"({100000 + i}, UTC_TIMESTAMP(), 1, {1 + i % 3}, 2, 2, 2, 900001, 1, '')" for i in range(n))
    sql("INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES {rows};")
    cfg = {"db": {"host": host, "port": int(port), "user": "root", "database": db},
           "aws": {"region": "us-east-1", "endpoint": os.environ["IRIS_TEST_AWS_ENDPOINT"]},
           # the queue the events name (arn:aws:sqs:us-east-1:1:bench): records are matched to
           # configured queues by region, account and name
           "queues": {"sms": os.environ["IRIS_TEST_AWS_ENDPOINT"] + "/1/bench"},
           "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
           "log": {"level": "warn"},
           "vendors": {m: [{"plugin": "dummy", "name": m, "config": {}}]
                       for m in ("email", "sms", "call", "slack", "im", "hipchat")}}
    with FakeRuntime() as rt:
        ids = []
        for k in range(0, n, 10):
            recs = [{"messageId": str(uuid.uuid4()), "receiptHandle": "rh",
                     "body": json.dumps({"v": 1, "kind": "message", "message_id": 100000 + i}),
                     "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
                     "eventSourceARN": "arn:aws:sqs:us-east-1:1:bench"} for i in range(k, min(n, k + 10))]
            ids.append(rt.add_event({"Records": recs}, timeout_ms=600000))
        before = status() if count_mode else None
        t0 = time.monotonic()
        proc = rt.run_bootstrap(os.path.join(BUILD, "lambda", "sender", "iris-sender"),
                                env={"IRIS_CONFIG_JSON": json.dumps(cfg), "IRIS_LOG_LEVEL": "warn"},
                                timeout=1200)
        elapsed = time.monotonic() - t0
        after = status() if count_mode else None
        failures = sum(len(rt.results[i]["json"]["batchItemFailures"]) for i in ids)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if count_mode:
        d = {k: after[k] - before[k] for k in COUNTERS}
        d["Questions"] -= 1  # our own SHOW GLOBAL STATUS
        print(f"sender: {n} messages against a private MariaDB, per record: "
              f"{d['Questions'] / n:.2f} statements (Questions; {d['Com_stmt_execute'] / n:.2f}"
              f" prepared executions, {d['Com_stmt_prepare'] / n:.2f} prepares), "
              f"{(d['Com_begin'] + d['Com_commit']) / n:.2f} BEGIN/COMMIT, "
              f"{d['Innodb_log_writes'] / n:.2f} redo-log writes (durable commits); "
              f"{failures} retried")
    else:
        print(f"sender: {n} messages in {elapsed:.2f} s = {n / elapsed:.0f} records/s in one process"
              f" (batches of 10, dummy plugin, MariaDB on this machine); {failures} retried;"
              f" peak RSS {peak_kb / 1024:.1f} MB")
finally:
    subprocess.run([os.path.join(ROOT, "scripts", "db.sh"), "drop", db], capture_output=True, env=db_env)
    if private:
        private.close()
