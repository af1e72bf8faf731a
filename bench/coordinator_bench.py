#!/usr/bin/env python3
"""bench/coordinator_bench.py [BURST] [ACTIVE] — the coordinator end to end, through the real
iris-coordinator bootstrap (fake Runtime API) against the local MariaDB and SQS (moto).

1. Burst: BURST new incidents (default 6000) open at once on 20 plans (two notifications each:
   a user at high, a three-person team at low — four messages per incident, no aggregation).
   Prints the time from the invocation's start until every first message is enqueued, twice:
   against an SQS stand-in that answers at once (the coordinator's own cost: MySQL, encoding,
   signing, HTTP) and against the stand-in with 20 ms per call (about SQS's latency in a
   region), which shows what the parallel SendMessageBatch calls buy. moto is not used for
   this: its SendMessageBatch slows down as its queue grows (over 150 ms a call at a few
   thousand messages), which would measure moto.
2. Steady state: ACTIVE incidents (default 10000) are active and waiting (step 1, their
   messages sent, no repeat due yet). Prints the mean and longest tick — the cost of looking
   for due work when there is none.
3. The plans MariaDB chooses for the coordinator's per-tick queries (EXPLAIN), with ACTIVE
   incidents in the tables.

Needs only MariaDB (bench/coordinator_bench.sh checks it runs, in a stack of its own). Numbers are from one
2-core machine with MariaDB, moto and the coordinator sharing it."""
import asyncio
import json
import os
import socket
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import irisstack as stack  # noqa: E402

BURST = int(sys.argv[1]) if len(sys.argv) > 1 and __name__ == "__main__" else 6000
ACTIVE = int(sys.argv[2]) if len(sys.argv) > 2 and __name__ == "__main__" else 10000
PLANS = 20


def sql(db, text):
    return stack.sql(db, text, timeout=600)


def make_db():
    db = stack.unique_name("iris_cbench")
    stack.load_iris(db)
    # 20 plans like a busy Iris: each pages a user at high and a team of three at low, never
    # aggregated (threshold far away), one step, no tracking.
    stmts = []
    for p in range(PLANS):
        pid = 100 + p
        stmts.append(
            f"INSERT INTO plan (id, name, created, user_id, description, step_count,"
            f" threshold_window, threshold_count, aggregation_window, aggregation_reset)"
            f" VALUES ({pid}, 'bench-{p}', UTC_TIMESTAMP(), 1, 'bench', 1, 900, 1000000, 300, 300);"
            f"INSERT INTO plan_active (name, plan_id) VALUES ('bench-{p}', {pid});"
            f"INSERT INTO plan_notification (plan_id, step, template, target_id, optional, role_id,"
            f" priority_id, `repeat`, wait) VALUES ({pid}, 1, 'disk-alert', {1 + p % 4}, 0, 1, 2, 1, 600),"
            f" ({pid}, 1, 'disk-alert', 10, 0, 3, 4, 0, 600);")
    sql(db, "".join(stmts))
    return db


class SqsStandIn:
    """Answers SendMessageBatch and SendMessage (JSON protocol) with success after `delay_ms`;
    counts entries. Signatures are not checked (moto-based tests do that).

    One asyncio loop in one thread serves every connection (HTTP/1.1, kept alive), and the
    delay is an asyncio sleep: calls in flight wait side by side, as they do on SQS. A
    thread per connection (http.server) made the stand-in itself the bottleneck: with 16
    calls in flight its threads queued for the GIL and each call took ~12 ms instead of
    ~0.2 ms, which measured Python, not the coordinator. Subclasses see every accepted
    request through accepted(queue, doc), called after the answer is written."""

    def __init__(self, delay_ms=0):
        self.delay = delay_ms / 1000.0
        self.entries = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", 0))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait()
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def accepted(self, queue, doc):
        """Called for every accepted request (doc: its JSON body) after it was answered."""

    async def _connection(self, reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                doc = json.loads(body)
                if self.delay:
                    await asyncio.sleep(self.delay)
                entries = doc.get("Entries", [])
                with self.lock:
                    self.entries += len(entries) or 1
                    self.calls += 1
                if entries:
                    answer = {"Successful": [{"Id": e["Id"], "MessageId": str(uuid.uuid4()),
                                              "MD5OfMessageBody": "0" * 32} for e in entries],
                              "Failed": []}
                else:  # SendMessage
                    answer = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32}
                out = json.dumps(answer).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(out), out))
                await writer.drain()
                # the JSON protocol posts to "/" and names the queue in the body
                queue = str(doc.get("QueueUrl") or path).rstrip("/").rsplit("/", 1)[-1]
                self.accepted(queue, doc)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def queues(self):
        return {lane: f"{self.url}/123456789012/bench-{lane}"
                for lane in ("email", "sms", "call", "im", "slack", "hipchat", "notifications")}

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def run(db, queues, timeout_ms, endpoint, tick_s=1, parallel=4):
    cfg = stack.config(db, queues, endpoint=endpoint, log={"level": "info"},
                       coordinator={"tick_seconds": tick_s, "margin_ms": 500,
                                    "enqueue_parallel": parallel})
    run = stack.run_lambda(stack.bootstrap("coordinator"), [{"source": "aws.scheduler"}],
                           env=stack.function_env(cfg), timeout_ms=timeout_ms, timeout=1200)
    if run.init_error or run.proc.returncode:
        raise SystemExit(f"coordinator failed: {run.init_error} {run.proc.err[-2000:]}")
    return run.results[0]["json"], run.proc.err


def incidents_sql(first, n, step, minutes_ago=0):
    rows = ",".join(f"({first + i}, {100 + i % PLANS}, UTC_TIMESTAMP() - INTERVAL {minutes_ago} MINUTE,"
                    f" '{{\"host\": \"h{i}\", \"check\": \"disk\", \"value\": 97}}', 1, {step}, 1)"
                    for i in range(n))
    return ("INSERT INTO incident (id, plan_id, created, context, application_id, current_step,"
            f" active) VALUES {rows};")


def burst(delay_ms, parallel):
    db = make_db()
    stand_in = SqsStandIn(delay_ms)
    try:
        sql(db, incidents_sql(10000, BURST, 0))
        t0 = float(sql(db, "SELECT UNIX_TIMESTAMP(UTC_TIMESTAMP(3))")[0][0])
        wall = time.monotonic()
        summary, log = run(db, stand_in.queues(), 120000, stand_in.url, parallel=parallel)
        wall = time.monotonic() - wall
        row = sql(db, "SELECT COUNT(*), SUM(state = 'enqueued'), UNIX_TIMESTAMP(MIN(enqueued_at)),"
                      " UNIX_TIMESTAMP(MAX(enqueued_at)), UNIX_TIMESTAMP(MAX(created_at))"
                      " FROM sender_enqueue")[0]
        total, enq = int(row[0]), int(row[1] or 0)
        first, last, created = (float(x) - t0 for x in row[2:5])
        print(f"burst, SQS answering in {delay_ms} ms, {parallel} call(s) in flight: {BURST} new"
              f" incidents, {total} messages — first enqueued after {first:.2f} s, all created"
              f" after {created:.2f} s, all {enq} enqueued after {last:.2f} s"
              f" ({summary.get('sqs_calls')} SendMessageBatch calls, {summary.get('ticks')} ticks)")
        if enq != total or summary.get("new_incidents") != BURST:
            print(f"  !! not everything went out: {summary}")
        if os.environ.get("BENCH_VERBOSE"):
            for line in log.splitlines():
                if '"tick ' in line:
                    print("   ", json.loads(line)["msg"])
    finally:
        stand_in.close()
        stack.drop_db(db)


def steady():
    db = make_db()
    stand_in = SqsStandIn(0)
    try:
        queues = stand_in.queues()
        # ACTIVE incidents on step 1 for 2 minutes, four messages each, all sent (repeats are
        # due after 10 minutes), their markers settled.
        sql(db, incidents_sql(100000, ACTIVE, 1, minutes_ago=2))
        msgs = []
        mid = 1000000
        for i in range(ACTIVE):
            inc, plan = 100000 + i, 100 + i % PLANS
            for tgt, prio, pn_off in ((1 + (i % PLANS) % 4, 2, 0), (1, 4, 1), (2, 4, 1), (3, 4, 1)):
                msgs.append((mid, inc, plan, tgt, prio, pn_off))
                mid += 1
        pn = {int(r[0]): (int(r[1]), int(r[2])) for r in
              sql(db, "SELECT plan_id, MIN(id), MAX(id) FROM plan_notification WHERE plan_id >= 100"
                      " GROUP BY plan_id")}
        for k in range(0, len(msgs), 5000):
            chunk = msgs[k:k + 5000]
            rows = ",".join(
                f"({m}, UTC_TIMESTAMP() - INTERVAL 2 MINUTE, UTC_TIMESTAMP() - INTERVAL 2 MINUTE,"
                f" 1, {t}, {p}, {plan}, {pn[plan][off]}, {inc}, 0, '')"
                for m, inc, plan, t, p, off in chunk)
            sql(db, "INSERT INTO message (id, created, sent, application_id, target_id, priority_id,"
                    f" plan_id, plan_notification_id, incident_id, active, body) VALUES {rows};"
                    "INSERT INTO sender_enqueue (message_id, state, lane, plan_id, application_id,"
                    " priority_id, target_id, created_at, done_at) SELECT id, 'done', 'email', plan_id,"
                    " application_id, priority_id, target_id, created, sent FROM message"
                    f" WHERE id BETWEEN {chunk[0][0]} AND {chunk[-1][0]};")
        # their escalation state as the coordinator keeps it: round 1 of each notification
        # done two minutes ago, the next thing due in eight minutes
        sql(db, "INSERT INTO sender_escalation (incident_id, plan_notification_id, step, rounds,"
                " max_rounds, wait_s, state, last_round_at, due_at, messages)"
                " SELECT i.id, pn.id, 1, 1, pn.repeat + 1, pn.wait, IF(pn.repeat > 0, 'repeating',"
                " 'exhausted'), i.created, i.created + INTERVAL pn.wait SECOND, 1 FROM incident i"
                " JOIN plan_notification pn ON pn.plan_id = i.plan_id WHERE i.id >= 100000;"
                "ANALYZE TABLE message, incident, sender_enqueue, sender_escalation;")
        # The first invocation on a database taken over from Iris's old sender checks every
        # active incident once for adoption (then records sender_mark 'adopted_through');
        # every later invocation reads only newer incidents. Shown apart, then measured warm.
        first, _ = run(db, queues, 4000, stand_in.url)
        print(f"steady state, first invocation after the takeover (adoption pass): "
              f"{first['ticks']} ticks, duration mean {first['tick_ms_mean']} ms,"
              f" max {first['tick_ms_max']} ms")
        summary, _ = run(db, queues, 12000, stand_in.url)
        print(f"steady state: {ACTIVE} active incidents ({len(msgs)} messages): "
              f"{summary['ticks']} ticks, duration mean {summary['tick_ms_mean']} ms, "
              f"max {summary['tick_ms_max']} ms (nothing due)")
        # The plans, from MariaDB's general log of one more invocation (logging every
        # statement slows the ticks down, so they are not timed).
        # The general log is a server-wide setting: note how it was and put it back exactly,
        # whatever happens (another user of the server may rely on it).
        was_output, was_log = sql(db, "SELECT @@global.log_output, @@global.general_log")[0]
        sql(db, "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1;")
        try:
            run(db, queues, 3000, stand_in.url)
        finally:
            sql(db, f"SET GLOBAL general_log = {int(was_log)};"
                    f" SET GLOBAL log_output = '{was_output}';")
        explain(db)
    finally:
        stand_in.close()
        stack.drop_db(db)


def explain(db):
    """EXPLAIN what the coordinator really ran in one tick (MariaDB's general log holds the
    prepared statements with their values)."""
    threads = [r[0] for r in sql(db, "SELECT DISTINCT thread_id FROM mysql.general_log"
                                     f" WHERE command_type = 'Connect' AND argument LIKE '%{db}%'")]
    if not threads:
        print("  (no queries captured)")
        return
    rows = sql(db, "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE"
                   f" command_type = 'Execute' AND thread_id IN ({','.join(threads)})")
    sql(db, "TRUNCATE TABLE mysql.general_log;")
    seen = set()
    for (stmt,) in rows:
        stmt = stmt.replace("\\n", " ")
        head = " ".join(stmt.split()[:12])
        if head in seen or not stmt.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE")):
            continue
        seen.add(head)
        print(f"  {stmt[:160]}{'…' if len(stmt) > 160 else ''}")
        for row in sql(db, "EXPLAIN " + stmt + ";"):
            print("      " + " | ".join(c for c in row[:10]))


if __name__ == "__main__":  # bench/burst.py imports the stand-in from here
    try:
        if BURST:
            for spec in os.environ.get("BENCH_BURSTS", "0:4,20:1,20:8").split(","):
                delay, par = spec.split(":")
                burst(int(delay), int(par))
        if ACTIVE:
            steady()
    except stack.StackError as e:
        raise SystemExit(str(e))
