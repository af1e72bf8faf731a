#!/usr/bin/env python3
"""Chaos with accounting: many messages through two racing coordinators and several sender
workers while everything that can go wrong does, then every message is accounted for.

What runs (all real: the bootstraps, a private MariaDB, SQS on moto, HTTP fakes of Twilio):
  * incidents open on Iris's disk-escalation plan (one step, no repeats, no aggregation, no
    quotas: every message is a page that must go out) until the coordinators have written
    the requested number of messages;
  * two coordinator processes, each under its own fake Runtime API, invoked back to back:
    they race for the lease; one of them is SIGKILLed at random points and restarted;
  * four sender workers (iris-sender --worker email sms call im), SIGKILLed at random points
    and restarted;
  * every envelope the coordinators enqueue is delivered two or three times (extra copies sent
    to SQS by this driver, on random lanes);
  * the private MariaDB is SIGKILLed and restarted (twice by default);
  * Twilio (sms and call, through the twilio plugin) answers 500, 429 with Retry-After, hangs
    past the plugin's timeout then fails, or hangs then accepts, at random;
  * the im lane's vendor is down for the whole run (a dummy that always fails), so im pages
    fall back to email (Iris's rule) while the other lanes flow.

Accounting, at the end (after a quiet phase that lets everything settle):
  * a message is DELIVERED when exactly one vendor accepted it (Twilio 201, or the email
    dummy's record), and its claim says sent;
  * FAILED when its claim is final, not sent, with a reason, and no vendor accepted it (or
    only after the plugin's timeout, unseen by the sender: counted apart);
  * LOST otherwise (no final claim, or a claim that says sent with no acceptance);
  * a DUPLICATE is a message that vendors accepted more than once, classified as the hang
    window (an earlier acceptance came after the plugin's timeout, so the sender could not
    know), the crash window (the claim was taken over: a worker died holding it, possibly after
    the vendor accepted), or unexplained.
Tracking copies (one per incident) are accounted from sender_tracking the same way.

  tests/chaos/chaos.py [--messages N] [--seed S] [--db-restarts K] [--json]
needs the local stack's moto (IRIS_TEST_AWS_ENDPOINT; scripts/with-stack.sh sets it) and the
release build (IRIS_BUILD_DIR). tests/chaos/test_chaos.py runs the short form (300 messages).
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

SRC = os.environ.get("IRIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("IRIS_BUILD_DIR", os.path.join(SRC, "build", "release"))
ENDPOINT = os.environ.get("IRIS_TEST_AWS_ENDPOINT")
sys.path.insert(0, os.path.join(SRC, "tests", "support"))  # irisstack, run as a script too
sys.path.insert(0, os.path.join(SRC, "tests", "fakes"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from fake_runtime import FakeRuntime  # noqa: E402
from private_mariadb import PrivateMariaDB  # noqa: E402
from vendor_fakes import TWILIO_SID, TWILIO_TOKEN, VendorFakes  # noqa: E402

SENDER = os.path.join(BUILD, "lambda", "sender", "iris-sender")
COORD = os.path.join(BUILD, "lambda", "coordinator", "iris-coordinator")
LANES = ["email", "sms", "call", "im", "slack", "hipchat", "notifications"]
WORKER_LANES = ["email", "sms", "call", "im"]
PLUGIN_TIMEOUT_MS = 1000
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
FIRST_INCIDENT = 100000  # the run's incidents (the demo data's older messages are not counted)
BACKLOG = 300  # messages written but not yet settled that the incident opener aims at
MAX_OPEN = 20  # incidents opened at most per half second


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Run:
    def __init__(self, workdir, messages, seed, db_restarts):
        self.dir = workdir
        self.target = messages
        self.rng = random.Random(seed)
        self.db_restarts = db_restarts
        self.stop = threading.Event()
        self.kills = []            # (time, what)
        self.db_down = []          # (start, end)
        self.events = []
        self.lock = threading.Lock()
        self.workers = []
        self.coords = []
        self.dup_sent = 0
        self.duplicated = set()
        self.record = os.path.join(workdir, "email.jsonl")
        self.fatal = None
        self.db_down_now = False
        self.db = "iris_chaos"

    # ---- set-up ---------------------------------------------------------------------------

    def setup(self):
        import boto3
        self.mdb = PrivateMariaDB().start()
        self.mdb.load_iris(self.db)
        # One step, sent once, never aggregated, no quota: every message is a page to deliver.
        self.mdb.sql(self.db, """
            UPDATE plan SET step_count = 1, threshold_count = 1000000 WHERE id = 2;
            DELETE FROM plan_notification WHERE plan_id = 2 AND step > 1;
            UPDATE plan_notification SET `repeat` = 0 WHERE plan_id = 2;
            -- the team at high priority (sms and call; on-call roles would need Oncall), and
            -- the team at low priority (email, and im for wei, whose im vendor is down)
            UPDATE plan_notification SET role_id = 3 WHERE id = 2;
            DELETE FROM application_quota;""")
        self.sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1")
        sfx = uuid.uuid4().hex[:6]
        # Short visibility: a killed worker's records come back quickly.
        self.queues = {lane: self.sqs.create_queue(QueueName=f"chaos-{lane}-{sfx}",
                                                   Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
                       for lane in LANES}
        self.queues["dead_letter"] = self.sqs.create_queue(QueueName=f"chaos-dlq-{sfx}")["QueueUrl"]
        self.fakes = VendorFakes()
        twilio = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
                  "from_number": "+15550000000", "relay_base_url": "https://relay.example.com",
                  "api_base": self.fakes.url + "/twilio", "timeout_ms": str(PLUGIN_TIMEOUT_MS)}
        dummy = {"record_file": self.record}
        db = {"host": self.mdb.host, "port": self.mdb.port, "user": "root", "database": self.db,
              "connect_timeout": 2}
        base = {"db": db, "aws": {"region": "us-east-1", "endpoint": ENDPOINT},
                "queues": self.queues}
        self.sender_cfg = dict(base, plugins={"dir": os.path.join(BUILD, "plugins", "out")},
                               sender={"lease_seconds": 5, "backoff_base_seconds": 1,
                                       "max_attempts": 3},
                               vendors={"sms": [{"plugin": "twilio", "name": "twilio-sms",
                                                 "config": twilio}],
                                        "call": [{"plugin": "twilio", "name": "twilio-call",
                                                  "config": twilio}],
                                        "email": [{"plugin": "dummy", "name": "email",
                                                   "config": dummy}],
                                        "im": [{"plugin": "dummy", "name": "im-down",
                                                "config": {"fail": "retryable"}}],
                                        "slack": [{"plugin": "dummy", "name": "slack",
                                                   "config": dummy}],
                                        "hipchat": [{"plugin": "dummy", "name": "hipchat",
                                                     "config": dummy}]})
        self.coord_cfg = dict(base, coordinator={"tick_seconds": 1, "margin_ms": 300,
                                                 "lease_seconds": 10})

    # ---- processes --------------------------------------------------------------------------

    def start_worker(self, i):
        logf = open(os.path.join(self.dir, f"worker-{i}.log"), "a")
        p = subprocess.Popen([SENDER, "--worker", "--max-idle", "100000", *WORKER_LANES],
                             env=dict(os.environ, IRIS_CONFIG_JSON=json.dumps(self.sender_cfg),
                                      **AWS_ENV),
                             stdout=subprocess.DEVNULL, stderr=logf)
        logf.close()
        return p

    def coordinator_loop(self, i):
        """One coordinator 'function': invocations back to back, each a 3 s 'minute'."""
        while not self.stop.is_set():
            logf = open(os.path.join(self.dir, f"coordinator-{i}.log"), "a")
            with FakeRuntime() as rt:
                proc = rt.start_bootstrap(COORD, dict(AWS_ENV, IRIS_CONFIG_JSON=json.dumps(self.coord_cfg)),
                                          stdout=subprocess.DEVNULL, stderr=logf)
                with self.lock:
                    self.coords.append(proc)
                while not self.stop.is_set() and proc.poll() is None and rt.init_error is None:
                    # EventBridge's one invocation a minute, on a 3 s "minute"
                    t0 = time.time()
                    rid = rt.add_event({"source": "aws.scheduler"}, timeout_ms=3000)
                    while proc.poll() is None and rid not in rt.results and rt.init_error is None:
                        try:
                            rt.wait_results([rid], timeout=1)
                        except TimeoutError:
                            pass
                    self.stop.wait(max(0.0, 3.0 - (time.time() - t0)))
                rt.finish()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if rt.init_error is not None and \
                        rt.init_error["json"].get("errorType") == "Iris.ECONFIG":
                    self.fatal = f"coordinator start-up failed: {rt.init_error['json']}"
                    self.stop.set()
            time.sleep(0.5)  # the scheduler's next invocation, in a fresh sandbox
            logf.close()

    # ---- chaos threads ------------------------------------------------------------------------

    def open_incidents(self, counter):
        """Open incidents as fast as the system settles their messages: every half second,
        enough of them to bring the messages written but not yet settled up to BACKLOG (at
        most MAX_OPEN at a time). A fixed pace either idles the machine or buries it; this
        one keeps the senders busy and the faults meeting messages in every state."""
        nxt = FIRST_INCIDENT
        per_incident = 3.0  # messages per incident, measured as the run goes
        while not self.stop.is_set():
            try:
                have, final = map(int, self.mdb.sql(self.db, f"""
                    SELECT (SELECT COUNT(*) FROM message WHERE incident_id >= {FIRST_INCIDENT}),
                           (SELECT COUNT(*) FROM message m JOIN sender_claim c
                               ON c.claim_key = CONCAT('m:', m.id)
                             WHERE c.final = 1 AND m.incident_id >= {FIRST_INCIDENT})""")[0])
            except Exception:  # noqa: BLE001 — the database is being restarted
                time.sleep(0.5)
                continue
            counter["messages"] = have
            if have >= self.target:
                counter["done"] = True
                return
            # incidents the coordinators have not escalated yet count with the messages
            # they will bring (measured on the escalated ones; 0 for escalated ones)
            try:
                waiting = int(self.mdb.sql(self.db, "SELECT COUNT(*) FROM incident WHERE"
                                           f" id >= {FIRST_INCIDENT} AND current_step = 0")[0][0])
            except Exception:  # noqa: BLE001 — the database is being restarted
                time.sleep(0.5)
                continue
            if nxt - FIRST_INCIDENT > waiting and have:
                per_incident = max(1.0, have / (nxt - FIRST_INCIDENT - waiting))
            expected = have + waiting * per_incident
            room = min(BACKLOG - (expected - final), self.target - expected)
            n = max(0, min(MAX_OPEN, int(room / per_incident + 0.999)))
            ctx = '{"host": "db-%d", "check": "disk_usage", "value": 97, "threshold": 90}'
            if n:
                try:
                    self.mdb.sql(self.db, "INSERT INTO incident (id, plan_id, created, context,"
                                 " application_id, current_step, active) VALUES " +
                                 ",".join(f"({nxt + k}, 2, UTC_TIMESTAMP(), '{ctx % (nxt + k)}',"
                                          " 1, 0, 1)" for k in range(n)))
                    nxt += n
                except Exception:  # noqa: BLE001 — the database is being restarted
                    pass
            time.sleep(0.5)

    def duplicate_deliveries(self):
        """Every enqueued envelope is delivered two or three times: extra copies, random lanes.
        Each poll reads what SQS accepted in the last minute; every 20th reads everything
        (an envelope enqueued while this thread could not reach the database is caught up)."""
        polls = 0
        while not self.stop.is_set():
            recent = "" if polls % 20 == 0 else \
                " AND enqueued_at >= UTC_TIMESTAMP(3) - INTERVAL 60 SECOND"
            try:
                rows = self.mdb.sql(self.db, "SELECT message_id FROM sender_enqueue"
                                             " WHERE state IN ('enqueued', 'done')" + recent)
            except Exception:  # noqa: BLE001 — the database is being restarted
                time.sleep(0.5)
                continue
            polls += 1
            fresh = [int(r[0]) for r in rows if int(r[0]) not in self.duplicated]
            for k in range(0, len(fresh), 10):
                chunk = fresh[k:k + 10]
                entries = []
                for mid in chunk:
                    self.duplicated.add(mid)
                    for c in range(self.rng.choice([1, 2])):
                        entries.append((self.rng.choice(WORKER_LANES), mid, c))
                for lane in WORKER_LANES:
                    batch = [{"Id": f"{mid}-{c}", "MessageBody": json.dumps(
                        {"v": 1, "kind": "message", "message_id": mid})}
                        for ln, mid, c in entries if ln == lane]
                    for j in range(0, len(batch), 10):
                        self.sqs.send_message_batch(QueueUrl=self.queues[lane], Entries=batch[j:j + 10])
                        self.dup_sent += len(batch[j:j + 10])
            time.sleep(0.5)

    def vendor_faults(self):
        choices = [
            ("500", {"status": 500, "body": {"code": 20500, "message": "Internal Server Error"}}),
            ("429", {"status": 429, "headers": {"Retry-After": "1"},
                     "body": {"code": 20429, "message": "Too Many Requests"}}),
            ("hang-fail", {"stall_ms": PLUGIN_TIMEOUT_MS + 1500, "status": 504, "body": ""}),
            ("hang-accept", {"stall_ms": PLUGIN_TIMEOUT_MS + 1500}),
        ]
        while not self.stop.is_set():
            name, b = self.rng.choice(choices)
            route = self.rng.choice(["twilio.sms", "twilio.call"])
            req = urllib.request.Request(self.fakes.url + "/_fake/behave", method="POST",
                                         data=json.dumps({"route": route, "responses": [b]}).encode())
            urllib.request.urlopen(req, timeout=10).read()
            with self.lock:
                self.events.append((time.time(), f"vendor {route} {name}"))
            time.sleep(self.rng.uniform(0.2, 0.6))

    def kill_workers(self):
        """SIGKILL a random worker every few seconds; like Lambda, start a fresh one for every
        worker that is gone (killed, or exited because the database was down at start-up)."""
        next_kill = time.time() + self.rng.uniform(2.0, 5.0)
        while not self.stop.wait(0.5):
            if time.time() >= next_kill:
                i = self.rng.randrange(len(self.workers))
                self.workers[i].send_signal(signal.SIGKILL)
                self.workers[i].wait()
                with self.lock:
                    self.kills.append((time.time(), f"worker {i}"))
                next_kill = time.time() + self.rng.uniform(2.0, 5.0)
            for i, w in enumerate(self.workers):
                if w.poll() is not None:
                    self.workers[i] = self.start_worker(i)

    def kill_coordinators(self):
        while not self.stop.wait(self.rng.uniform(6.0, 12.0)):
            with self.lock:
                live = [p for p in self.coords if p.poll() is None]
            if live:
                p = self.rng.choice(live)
                p.send_signal(signal.SIGKILL)
                with self.lock:
                    self.kills.append((time.time(), "coordinator"))

    def restart_database(self, at_fractions, counter):
        for frac in at_fractions:
            while not self.stop.is_set() and counter["messages"] < frac * self.target:
                time.sleep(0.2)
            if self.stop.is_set():
                return
            t0 = time.time()
            self.db_down_now = True
            self.mdb.kill()
            log(f"MariaDB SIGKILLed at {counter['messages']} messages")
            time.sleep(self.rng.uniform(2, 4))
            self.mdb.start()
            time.sleep(1)
            self.db_down_now = False
            self.db_down.append((t0, time.time()))
            log("MariaDB back")

    # ---- the run ------------------------------------------------------------------------------

    def settled(self):
        rows = self.mdb.sql(self.db, """
            SELECT
              (SELECT COUNT(*) FROM message WHERE incident_id >= %d),
              (SELECT COUNT(*) FROM sender_claim c JOIN message m ON c.claim_key = CONCAT('m:', m.id)
                 WHERE c.final = 1 AND m.incident_id >= %d),
              (SELECT COUNT(*) FROM sender_tracking),
              (SELECT COUNT(*) FROM sender_tracking WHERE state = 'done'),
              (SELECT COUNT(*) FROM sender_enqueue WHERE state IN ('held', 'pending'))"""
                           % (FIRST_INCIDENT, FIRST_INCIDENT))
        total, final, tracking, tracking_final, pending = map(int, rows[0])
        return total, final, tracking, tracking_final, pending

    def run(self, quiet_timeout, chaos_timeout):
        t_start = time.time()
        give_up = t_start + chaos_timeout
        counter = {"messages": 0, "done": False}
        self.workers = [self.start_worker(i) for i in range(4)]
        threads = [threading.Thread(target=self.coordinator_loop, args=(i,), daemon=True)
                   for i in range(2)]
        threads += [threading.Thread(target=f, args=a, daemon=True) for f, a in (
            (self.open_incidents, (counter,)), (self.duplicate_deliveries, ()),
            (self.vendor_faults, ()), (self.kill_workers, ()), (self.kill_coordinators, ()),
            (self.restart_database,
             ([0.3, 0.7][:self.db_restarts] + [0.85] * max(0, self.db_restarts - 2), counter)))]
        for t in threads:
            t.start()
        while not counter["done"] and not self.fatal and time.time() < give_up:
            time.sleep(2)
            log(f"{counter['messages']} messages written so far")
        # Chaos goes on until everything is settled (or the time is up).
        while True:
            try:
                total, final, tr, trf, pending = self.settled()
            except Exception:  # noqa: BLE001 — the database is being restarted
                time.sleep(1)
                continue
            log(f"{total} messages, {final} settled, {pending} not yet enqueued")
            if (final == total and trf == tr and pending == 0 and
                    len(self.db_down) >= self.db_restarts) or self.fatal or time.time() > give_up:
                break
            time.sleep(2)
        chaos_end = time.time()
        self.stop.set()  # quiet phase: no more kills, faults or restarts
        for t in threads:
            t.join(timeout=60)
        if self.fatal:
            raise RuntimeError(self.fatal)
        if not self.mdb.running():
            self.mdb.start()
        # One clean coordinator redrives whatever was enqueued but never settled.
        self.stop.clear()
        quiet = threading.Thread(target=self.coordinator_loop, args=(9,), daemon=True)
        quiet.start()
        deadline = time.time() + quiet_timeout
        for i, w in enumerate(self.workers):
            if w.poll() is not None:
                self.workers[i] = self.start_worker(i)
        while time.time() < deadline:
            for i, w in enumerate(self.workers):
                if w.poll() is not None:
                    self.workers[i] = self.start_worker(i)
            total, final, tr, trf, pending = self.settled()
            if final == total and trf == tr and pending == 0:
                break
            log(f"quiet phase: {final}/{total} messages and {trf}/{tr} tracking copies settled")
            time.sleep(3)
        self.stop.set()
        quiet.join(timeout=60)
        for w in self.workers:
            w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
        return {"seconds_chaos": round(chaos_end - t_start, 1),
                "seconds_total": round(time.time() - t_start, 1)}

    # ---- accounting ---------------------------------------------------------------------------

    def account(self):
        accepted = {}   # message id -> [(at, answered_at, late)]
        unmapped = 0
        for r in self.fakes.requests():
            if r.get("status") not in (200, 201):
                continue
            form = r.get("body") or {}
            mid = None
            if r["route"] == "twilio.sms":
                m = re.match(r"(\d+):", form.get("Body", ""))
                mid = int(m.group(1)) if m else None
            elif r["route"] == "twilio.call":
                m = re.search(r"message_id=(\d+)", form.get("Url", ""))
                mid = int(m.group(1)) if m else None
            if mid is None:
                unmapped += 1
                continue
            late = r["answered_at"] - r["at"] > PLUGIN_TIMEOUT_MS / 1000
            accepted.setdefault(mid, []).append((r["at"], r["answered_at"], late))
        tracking_pages = {}
        if os.path.exists(self.record):
            for line in open(self.record):
                rec = json.loads(line)
                mid = rec["message_id"]
                if mid.isdigit():
                    accepted.setdefault(int(mid), []).append((0.0, 0.0, False))
                else:
                    tracking_pages[mid] = tracking_pages.get(mid, 0) + 1
        claims = {int(r[0]): r[1:] for r in self.mdb.sql(self.db, """
            SELECT m.id, IFNULL(c.state, ''), IFNULL(c.final, 0), IFNULL(c.last_error, ''),
                   IFNULL(c.mode, ''), IFNULL(c.takeovers, 0)
              FROM message m LEFT JOIN sender_claim c ON c.claim_key = CONCAT('m:', m.id)
             WHERE m.incident_id >= %d""" % FIRST_INCIDENT)}
        out = {"messages": len(claims), "delivered": 0, "failed": 0, "lost": 0,
               "duplicates": {"hang_window": 0, "crash_window": 0, "unexplained": 0},
               "failed_reasons": {}, "failed_but_accepted_unseen": 0, "lost_ids": [], "unexplained_ids": [], "by_mode": {},
               "unmapped_vendor_requests": unmapped}
        for mid, (state, final, why, mode, takeovers) in claims.items():
            acc = sorted(accepted.get(mid, []))
            if state == "sent" and final == "1" and len(acc) >= 1:
                out["delivered"] += 1
                out["by_mode"][mode] = out["by_mode"].get(mode, 0) + 1
            elif final == "1" and state != "sent" and why and all(late for _, _, late in acc):
                # recorded failed with its reason; a vendor may still have accepted it after
                # the plugin's timeout (the hang window): the page went out unseen
                out["failed"] += 1
                out["failed_but_accepted_unseen"] += 1 if acc else 0
                key = re.sub(r"\d+", "N", why)[:100]
                out["failed_reasons"][key] = out["failed_reasons"].get(key, 0) + 1
            else:
                out["lost"] += 1
                out["lost_ids"].append((mid, state, final, len(acc)))
            if len(acc) > 1:
                if any(late for _, _, late in acc):  # an acceptance the sender never saw
                    out["duplicates"]["hang_window"] += 1
                elif takeovers != "0":  # a worker died holding the claim: the crash window
                    out["duplicates"]["crash_window"] += 1
                else:
                    out["duplicates"]["unexplained"] += 1
                    out["unexplained_ids"].append(mid)
        out["delivered_once"] = out["delivered"] - sum(
            1 for mid in claims if len(accepted.get(mid, [])) > 1 and claims[mid][0] == "sent")
        tr = self.mdb.sql(self.db, "SELECT CONCAT(state, ':', IFNULL(outcome, '-')), COUNT(*)"
                                   " FROM sender_tracking GROUP BY 1")
        out["tracking"] = {k: int(n) for k, n in tr}
        # a tracking copy paged twice is in the crash window when its claim was taken over
        # (a worker died holding it); otherwise it is unexplained
        t_takeovers = {f"tracking-{r[0]}": int(r[1]) for r in self.mdb.sql(
            self.db, "SELECT SUBSTRING(claim_key, 3), takeovers FROM sender_claim"
                     " WHERE claim_key LIKE 't:%'")}
        twice = [mid for mid, n in tracking_pages.items() if n > 1]
        out["tracking_pages_twice"] = {
            "crash_window": sum(1 for mid in twice if t_takeovers.get(mid, 0) > 0),
            "unexplained": sum(1 for mid in twice if t_takeovers.get(mid, 0) == 0)}
        out["extra_deliveries_sent"] = self.dup_sent
        out["worker_kills"] = sum(1 for _, w in self.kills if w.startswith("worker"))
        out["coordinator_kills"] = sum(1 for _, w in self.kills if w == "coordinator")
        out["db_restarts"] = len(self.db_down)
        out["vendor_faults"] = {}
        for _, e in self.events:
            k = e.split(" ", 2)[2]
            out["vendor_faults"][k] = out["vendor_faults"].get(k, 0) + 1
        out["vendor_violations"] = len(self.fakes.violations())
        out["takeovers"] = int(self.mdb.sql(self.db, "SELECT IFNULL(SUM(takeovers), 0) FROM sender_claim")[0][0])
        return out

    def close(self):
        self.stop.set()
        for p in self.workers + self.coords:
            if p.poll() is None:
                p.kill()
        self.fakes.close()
        self.mdb.close()


def run(messages=300, seed=14, db_restarts=2, workdir=None, quiet_timeout=300,
        chaos_timeout=None):
    import tempfile
    workdir = workdir or tempfile.mkdtemp(prefix="iris-chaos-")
    r = Run(workdir, messages, seed, db_restarts)
    try:
        r.setup()
        times = r.run(quiet_timeout, chaos_timeout or 600 + messages // 3)
        report = r.account()
        report.update(times)
        report["logs"] = workdir
        return report
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--db-restarts", type=int, default=2)
    ap.add_argument("--quiet-timeout", type=int, default=900)
    args = ap.parse_args()
    report = run(args.messages, args.seed, args.db_restarts, quiet_timeout=args.quiet_timeout)
    print(json.dumps(report, indent=2, default=str))
    ok = report["lost"] == 0 and report["duplicates"]["unexplained"] == 0 and \
        report["tracking_pages_twice"]["unexplained"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
