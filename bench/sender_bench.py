#!/usr/bin/env python3
"""bench/sender_bench.py [--count|--trace] [N] — the sender end to end: N message rows (default 2000)
delivered through the real iris-sender bootstrap (fake Runtime API, SQS-style events of 10
records) with the dummy plugin. Prints records per second for one process and its peak memory.

Without --count it runs against the local MariaDB (durable commits). With --count it runs
against a MariaDB of its own (tests/integration/private_mariadb.py: nothing else talks to it)
and prints what the sender asked of the database per record, from the server's status
counters: statements (Questions: one round trip each, text or prepared; prepares apart),
BEGIN/COMMIT pairs, and the redo log writes (Innodb_log_writes): with one client and durable
commits, each is one commit of a writing transaction the sender waited for.

Run inside the local stack: scripts/with-stack.sh build/release/stack python
bench/sender_bench.py (bench/sender_bench.sh does all of that)."""
import json
import re
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import irisstack as stack  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--count", "--trace")]
trace_mode = "--trace" in sys.argv[1:]
count_mode = "--count" in sys.argv[1:] or trace_mode
n = int(args[0]) if args else 2000
db = stack.unique_name("iris_bench")
ARN = "arn:aws:sqs:us-east-1:1:bench"
COUNTERS = ("Questions", "Com_stmt_execute", "Com_stmt_prepare", "Com_commit", "Com_begin",
            "Innodb_log_writes")
private = None
conn = {}
if count_mode:
    from private_mariadb import PrivateMariaDB  # noqa: E402
    private = PrivateMariaDB().start()
    conn = {"host": private.host, "port": private.port}
db_env = stack.mysql_env(**conn)


def sql(text, database=db):
    try:
        return stack.sql(database, text, timeout=None, **conn)
    except stack.StackError as e:
        raise SystemExit(str(e))


def status():
    return {k: int(v) for k, v in sql("SHOW GLOBAL STATUS", None) if k in COUNTERS}


def print_trace(path, n):
    """Statement shapes (numbers and strings folded) per record, with the server's time for
    them (the slow log at long_query_time 0), most time first."""
    import collections
    count, secs = collections.Counter(), collections.Counter()
    qtime = 0.0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"# Query_time: ([0-9.]+)", line)
            if m:
                qtime = float(m.group(1))
                continue
            if line.startswith(("#", "SET timestamp", "use ")) or not line.strip():
                continue
            if "slow_query_log" in line or "SHOW GLOBAL STATUS" in line:
                continue
            q = re.sub(r"'(?:[^'\\]|\\.)*'", "?", line.strip().rstrip(";"))
            q = re.sub(r"\b\d+(\.\d+)?\b", "N", q)
            q = re.sub(r"(\?|N)(\s*,\s*(\?|N))+", "?,…", q)
            count[q[:110]] += 1
            secs[q[:110]] += qtime
    total = sum(secs.values())
    print(f"server time: {total * 1000 / n:.3f} ms per record in all")
    for q, t in secs.most_common(30):
        print(f"{count[q] / n:6.2f}/record {t * 1000 / n:7.3f} ms/record  {q}")


try:
    try:
        stack.load_iris(db, env=db_env)
    except stack.StackError as e:
        raise SystemExit(str(e))
    ctx = json.dumps({"host": "db-1", "check": "disk_usage", "value": 97.5, "threshold": 90,
                      "severity": "critical", "tags": ["db", "prod"], "runbook_url": "https://x"})
    sql(f"INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)"
        f" VALUES (900001, 2, UTC_TIMESTAMP(), '{ctx}', 1, 1, 1);"
        "UPDATE application_quota SET hard_quota_threshold = 30000, soft_quota_threshold = 30000;")
    rows = ",".join(f"({100000 + i}, UTC_TIMESTAMP(), 1, {1 + i % 3}, 2, 2, 2, 900001, 1, '')" for i in range(n))
    sql("INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
        f" plan_notification_id, incident_id, active, body) VALUES {rows};")
    endpoint = os.environ["IRIS_TEST_AWS_ENDPOINT"]
    # The queue the events name (ARN): records are matched to configured queues by region,
    # account and name.
    cfg = stack.config(db, {"sms": endpoint + "/1/bench"}, plugins=True, endpoint=endpoint,
                       log={"level": "warn"},
                       vendors={m: [{"plugin": "dummy", "name": m, "config": {}}]
                                for m in stack.MODE_LANES}, **conn)
    with FakeRuntime() as rt:
        ids = []
        for k in range(0, n, 10):
            recs = [stack.sqs_record({"v": 1, "kind": "message", "message_id": 100000 + i}, ARN)
                    for i in range(k, min(n, k + 10))]
            ids.append(rt.add_event({"Records": recs}, timeout_ms=600000))
        before = status() if count_mode else None
        if trace_mode:
            slow_path = os.path.join(private.dir, "slow.log")
            sql(f"SET GLOBAL slow_query_log_file = '{slow_path}'; SET GLOBAL long_query_time = 0;"
                " SET GLOBAL log_slow_verbosity = ''; SET GLOBAL slow_query_log = 1", None)
        t0 = time.monotonic()
        proc = rt.run_bootstrap(os.environ.get("IRIS_BENCH_BOOTSTRAP") or stack.bootstrap("sender"),
                                env={"IRIS_CONFIG_JSON": json.dumps(cfg), "IRIS_LOG_LEVEL": "warn"},
                                timeout=1200)
        elapsed = time.monotonic() - t0
        after = status() if count_mode else None
        if trace_mode:
            sql("SET GLOBAL slow_query_log = 0", None)
        failures = sum(len(rt.results[i]["json"]["batchItemFailures"]) for i in ids)
        held = sum(rt.results[i]["held_s"] for i in ids)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kb = usage.ru_maxrss
    if count_mode:
        d = {k: after[k] - before[k] for k in COUNTERS}
        d["Questions"] -= 1  # our own SHOW GLOBAL STATUS
        print(f"sender: {n} messages against a private MariaDB, per record: "
              f"{d['Questions'] / n:.2f} statements (Questions; {d['Com_stmt_execute'] / n:.2f}"
              f" prepared executions, {d['Com_stmt_prepare'] / n:.2f} prepares), "
              f"{(d['Com_begin'] + d['Com_commit']) / n:.2f} BEGIN/COMMIT, "
              f"{d['Innodb_log_writes'] / n:.2f} redo-log writes (durable commits); "
              f"{failures} retried")
    if trace_mode:
        print_trace(slow_path, n)
    if not count_mode:
        print(f"sender: {n} messages in {elapsed:.2f} s = {n / elapsed:.0f} records/s in one process"
              f" (batches of 10, dummy plugin, MariaDB on this machine); {failures} retried;"
              f" peak RSS {peak_kb / 1024:.1f} MB; CPU {usage.ru_utime + usage.ru_stime:.2f} s"
              f" ({(usage.ru_utime + usage.ru_stime) / elapsed * 100:.0f} % of one core)")
        # The fake Runtime API (Python) costs time a real one does not: the sender's own rate
        # counts only the time it held the events (from handing one out to its answer).
        print(f"sender: {n / held:.0f} records/s of the time the sender held the events"
              f" ({held:.2f} s of {elapsed:.2f} s; the rest is the fake Runtime API and start-up)")
finally:
    stack.drop_db(db, env=db_env)
    if private:
        private.close()
