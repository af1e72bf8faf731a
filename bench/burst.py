#!/usr/bin/env python3
"""bench/burst.py [N] — the whole pipeline in a burst: N incidents (default 6000) opened at
once on a one-step plan paging one user, one message each, through the real iris-coordinator
and iris-sender bootstraps (fake Runtime API) against the local MariaDB, with the dummy
vendor plugin. SQS is a stand-in (coordinator_bench.SqsStandIn) that answers SendMessageBatch
after a fixed delay and hands every accepted batch to the senders as one Lambda SQS event, as
an event source mapping would.

Runs every combination of BURST_SENDERS (default "1,4": sender processes serving the events)
and BURST_SQS_MS (default "0,20": ms per SendMessageBatch), and prints for each:
  escalation done   every incident on step 1 with its message and marker (s after opening)
  all enqueued      every message accepted by SQS
  first sent        the first claim finished by a sender: before it the sender only waits
  all sent          every claim finished by a sender
  incident→sent     p50 and p99 over the pages (opening → the claim finished)
  commits/record    Com_commit and Handler_commit deltas (SHOW GLOBAL STATUS) / N: the
                    server is shared, so other clients' commits count too
then the CPU seconds MariaDB (the server's own process, found by its pid file), the senders,
the coordinator and this script (the fake Runtime APIs and the SQS stand-in; not the `mariadb`
clients it polls with, about 7 ms each) used until all was sent, and one line
`burst: N=… senders=… sqs_ms=… all_sent_s=… p99_s=…`. It fails if any
coordinator invocation answered an error. The cumulative pages-sent curve of every run is
drawn into one chart, BURST_CHART (default docs/img/burst.png). BURST_LOG_LEVEL sets the
processes' log level (default warn); BURST_COORD_LOG names a file to keep the coordinator's log
in (each tick's line says how its time split between escalation, aggregation and enqueue).
IRIS_BENCH_BOOTSTRAP runs another build's sender bootstrap instead of this tree's (to compare
two builds side by side, as bench/sender_bench.sh does). BURST_SLICE_MS sets the coordinator's
`coordinator.slice_ms` (default 1000: the whole burst is escalated before the first enqueue).

A script that prints figures, not a timed test: run it on a quiet machine and repeat."""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import irisstack as stack  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402
from coordinator_bench import SqsStandIn, sql  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
SENDERS = [int(x) for x in os.environ.get("BURST_SENDERS", "1,4").split(",")]
SQS_MS = [int(x) for x in os.environ.get("BURST_SQS_MS", "0,20").split(",")]
CHART = os.environ.get("BURST_CHART", os.path.join(ROOT, "docs", "img", "burst.png"))
PLAN = 100
FIRST_INCIDENT = 10000
ACCOUNT = "123456789012"


class FeedingSqs(SqsStandIn):
    """The stand-in, plus delivery: each accepted SendMessageBatch becomes one Lambda event
    (its entries as records) on the senders' fake Runtime API."""

    def __init__(self, delay_ms, runtime):
        self.runtime = runtime
        self.events = []
        super().__init__(delay_ms)

    def accepted(self, queue, doc):
        # SendMessageBatch (the coordinator) or SendMessage (a sender moving a record to the
        # lane of its mode)
        entries = doc.get("Entries") or ([{"MessageBody": doc["MessageBody"], "Id": "one"}]
                                         if "MessageBody" in doc else [])
        records = [stack.sqs_record(e["MessageBody"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}",
                                    receipt_handle="rh-" + e["Id"])
                   for e in entries]
        if records:
            with self.lock:
                self.events.append(self.runtime.add_event({"Records": records},
                                                          timeout_ms=600000))


def cpu_s(pid):
    """CPU seconds (user + system) a process used so far, or 0.0 when it cannot be read
    (pid None included)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def mariadb_pid(db):
    """The pid of the MariaDB server db lives on (from its pid file), or None if unreadable."""
    try:
        with open(sql(db, "SELECT @@pid_file")[0][0], encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, IndexError, ValueError):
        return None


def status(db):
    return {k: int(v) for k, v in sql(db, "SHOW GLOBAL STATUS WHERE Variable_name IN"
                                          " ('Com_commit', 'Handler_commit')")}


def make_db():
    db = stack.unique_name("iris_burst")
    stack.load_iris(db)
    # One step, one notification: user 1 at priority 2, never repeated, never aggregated; and
    # no reprioritisation rule of the fixture turns the user's pages into calls half-way.
    sql(db, "DELETE FROM target_reprioritization")
    sql(db, f"INSERT INTO plan (id, name, created, user_id, description, step_count,"
            f" threshold_window, threshold_count, aggregation_window, aggregation_reset)"
            f" VALUES ({PLAN}, 'burst', UTC_TIMESTAMP(), 1, 'burst', 1, 900, 1000000, 300, 300);"
            f"INSERT INTO plan_active (name, plan_id) VALUES ('burst', {PLAN});"
            f"INSERT INTO plan_notification (plan_id, step, template, target_id, optional, role_id,"
            f" priority_id, `repeat`, wait) VALUES ({PLAN}, 1, 'disk-alert', 1, 0, 1, 2, 0, 600);"
            "UPDATE application_quota SET hard_quota_threshold = 30000,"
            " soft_quota_threshold = 30000;")
    return db


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def one_run(senders, sqs_ms):
    db = make_db()
    procs, send_logs = [], []
    # The processes' logs go to files, not pipes: a pipe nobody reads until the end fills up
    # at a verbose log level and stalls the process writing to it.
    log_files = []
    with FakeRuntime() as send_rt, FakeRuntime() as coord_rt:
        stand_in = FeedingSqs(sqs_ms, send_rt)
        try:
            queues = {lane: f"{stand_in.url}/{ACCOUNT}/burst-{lane}" for lane in stack.LANES}
            base = stack.config(db, queues, endpoint=stand_in.url,
                                log={"level": os.environ.get("BURST_LOG_LEVEL", "warn")})
            send_cfg = dict(base, plugins={"dir": stack.PLUGINS_DIR},
                            vendors={m: [{"plugin": "dummy", "name": m, "config": {}}]
                                     for m in stack.MODE_LANES})
            coord_settings = {"tick_seconds": 1, "margin_ms": 500}
            if os.environ.get("BURST_SLICE_MS"):
                coord_settings["slice_ms"] = int(os.environ["BURST_SLICE_MS"])
            coord_cfg = dict(base, coordinator=coord_settings)
            for _ in range(senders):
                log_files.append(tempfile.TemporaryFile("w+", encoding="utf-8"))
                procs.append(send_rt.start_bootstrap(
                    os.environ.get("IRIS_BENCH_BOOTSTRAP") or stack.bootstrap("sender"),
                    stack.function_env(send_cfg),
                    stdout=subprocess.DEVNULL, stderr=log_files[-1], text=True))
            rows = ",".join(f"({FIRST_INCIDENT + i}, {PLAN}, UTC_TIMESTAMP(),"
                            f" '{{\"host\": \"h{i}\", \"check\": \"disk\", \"value\": 97}}', 1, 0, 1)"
                            for i in range(N))
            before = status(db)
            server = mariadb_pid(db)
            cpu0 = {"mariadb": cpu_s(server), "bench": time.process_time(),
                    "senders": sum(cpu_s(p.pid) for p in procs)}
            t0 = float(sql(db, "SELECT UNIX_TIMESTAMP(UTC_TIMESTAMP(3))")[0][0])
            sql(db, "INSERT INTO incident (id, plan_id, created, context, application_id,"
                    f" current_step, active) VALUES {rows};")
            log_files.append(tempfile.TemporaryFile("w+", encoding="utf-8"))
            coord_log_file = log_files[-1]
            coord = coord_rt.start_bootstrap(
                stack.bootstrap("coordinator"), stack.function_env(coord_cfg),
                stdout=subprocess.DEVNULL, stderr=coord_log_file, text=True)
            # Invocations of 5 s back to back (EventBridge's minute, compressed) until all is sent.
            invocations = []
            deadline = time.monotonic() + 300
            sent = 0
            while time.monotonic() < deadline:
                if not invocations or invocations[-1] in coord_rt.results:
                    invocations.append(coord_rt.add_event({"source": "aws.scheduler"},
                                                          timeout_ms=5000))
                sent = int(sql(db, "SELECT COUNT(*) FROM sender_claim WHERE finished_at IS NOT NULL"
                                   " AND state = 'sent'")[0][0])
                if sent >= N:
                    break
                time.sleep(0.2)
            after = status(db)
            cpu = {"mariadb": cpu_s(server) - cpu0["mariadb"],
                   "senders": sum(cpu_s(p.pid) for p in procs) - cpu0["senders"],
                   "coordinator": cpu_s(coord.pid),
                   "bench": time.process_time() - cpu0["bench"]}
            coord_rt.finish()
            send_rt.finish()
            coord_rt.wait_results(invocations, timeout=30)
            coord.wait(timeout=60)
            coord_log_file.seek(0)
            coord_log = coord_log_file.read()
            if os.environ.get("BURST_COORD_LOG"):
                with open(os.environ["BURST_COORD_LOG"], "w", encoding="utf-8") as f:
                    f.write(coord_log)
            send_logs = []
            for p, f in zip(procs, log_files):
                p.wait(timeout=60)
                f.seek(0)
                send_logs.append(f.read())
            # time the senders held events (from handing one out to its answer), summed
            held = sum(r.get("held_s", 0) for r in list(send_rt.results.values()))
            errors = [coord_rt.results[i] for i in invocations if coord_rt.results[i]["kind"] != "response"]
            failed_ticks = sum((coord_rt.results[i]["json"] or {}).get("failed_ticks", 0)
                               for i in invocations if coord_rt.results[i]["kind"] == "response")
            esc = float(sql(db, "SELECT UNIX_TIMESTAMP(MAX(last_round_at)) FROM sender_escalation")[0][0]) - t0
            enq = float(sql(db, "SELECT UNIX_TIMESTAMP(MAX(enqueued_at)) FROM sender_enqueue")[0][0]) - t0
            states = sql(db, "SELECT kind, lane, state, COUNT(*), MAX(last_error) FROM sender_claim"
                             " GROUP BY 1, 2, 3")
            done = sorted(float(r[0]) - t0 for r in
                          sql(db, "SELECT UNIX_TIMESTAMP(finished_at) FROM sender_claim"
                                  " WHERE state = 'sent' ORDER BY finished_at"))
        finally:
            stand_in.close()
            for p in procs:
                if p.poll() is None:
                    p.kill()
            for f in log_files:
                f.close()
            stack.drop_db(db)
    all_sent = done[-1] if len(done) >= N else float("nan")
    commits = (after["Com_commit"] - before["Com_commit"]) / N
    handler = (after["Handler_commit"] - before["Handler_commit"]) / N
    print(f"{N} incidents, {senders} sender(s), SQS {sqs_ms} ms: escalation done {esc:.2f} s,"
          f" all enqueued {enq:.2f} s, {len(done)} sent, first sent {done[0] if done else float('nan'):.2f} s,"
          f" all sent {all_sent:.2f} s,"
          f" incident→sent p50 {percentile(done, 0.5):.2f} s p99 {percentile(done, 0.99):.2f} s,"
          f" commits/record {commits:.2f} (Com_commit) {handler:.2f} (Handler_commit),"
          f" {len(invocations)} coordinator invocation(s), {failed_ticks} failed tick(s),"
          f" the senders held events {held:.2f} s in all")
    print("CPU seconds until all sent: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()) +
          " (bench: the fake Runtime APIs, the SQS stand-in and this script's polling)")
    print(f"burst: N={N} senders={senders} sqs_ms={sqs_ms} all_sent_s={all_sent:.2f}"
          f" p99_s={percentile(done, 0.99):.2f}")
    if len(done) < N:
        print(f"not all sent; claims by kind, lane and state: {states}")
        print(f"not all sent; the first sender's log ends:\n{(send_logs or [''])[0][-3000:]}")
    if errors:
        raise SystemExit(f"a coordinator invocation failed: {errors[0]['body'][:500]!r}\n"
                         f"{coord_log[-3000:]}")
    return {"senders": senders, "sqs_ms": sqs_ms, "done": done}


def chart(runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for r in runs:
        ax.plot(r["done"], range(1, len(r["done"]) + 1),
                label=f"{r['senders']} sender(s), SQS {r['sqs_ms']} ms")
    ax.set_xlabel("seconds after the incidents opened")
    ax.set_ylabel("pages sent")
    ax.set_title(f"{N} incidents at once, one page each (bench/burst.sh)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(CHART), exist_ok=True)
    fig.savefig(CHART)
    print(f"chart: {CHART}")


if __name__ == "__main__":
    results = [one_run(s, ms) for ms in SQS_MS for s in SENDERS]
    chart(results)
