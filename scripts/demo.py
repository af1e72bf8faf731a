#!/usr/bin/env python3
"""The local demo (run by scripts/demo.sh inside the local stack).

Stage 1 — plumbing smoke flow: loads Iris's schema, the sender's migrations and the demo data
into a fresh database, puts a secret into Secrets Manager (moto) and creates a queue in SQS
(moto), then drives the real `iris-smoke` bootstrap through the fake Lambda Runtime API: the
bootstrap resolves its configuration (secret included), reads the database, round-trips a
message through the queue and emits EMF metrics. Every step prints what it did.

Stage 2 — the real flow, coordinator included. Two demo-only plans are added with SQL next to
the demo data's (waits in seconds instead of minutes), then incidents are opened as Iris's API
opens them (INSERT INTO incident … current_step 0, active 1):

  600, 601  plan demo-disk-fast: step 1 pages linus by SMS three times 6 s apart, step 2 the
            team's manager by call and the storage-announce list by email (each member as
            their own preferences say);
  602       plan disk-escalation (plan 2 of the demo data): the storage team's on-call (from
            an HTTP fake of the Oncall API) and its roster; new incidents are copied to a
            tracking address by email;
  610-616   plan demo-job-storm, a burst of seven job failures: more than 3 messages to one
            user within 60 s start aggregation, the rest go out as one batch page 15 s later.

The real `iris-coordinator` bootstrap runs through the fake Runtime API as EventBridge
Scheduler would run it, one invocation after another, each a compressed 15 s "minute" ticking
every second; it escalates, aggregates and enqueues to the per-lane SQS queues. Concurrently
an event-source-mapping stand-in per lane long-polls its queue and invokes the real
`iris-sender` bootstrap (one warm container per lane) with SQS events, deleting what the
sender acknowledged; the sender resolves who is paged and how, renders Iris's templates and
delivers through the real plugins — smtp to an SMTP sink, twilio and slack to HTTP fakes of
those APIs. Midway linus claims incident 601 after its second SMS, and one held member of the
job storm is claimed before its batch is flushed, as Iris's API claims (UPDATE incident …
UPDATE message SET active = 0 …).

The demo prints a line per coordinator invocation and per delivered page while it runs, then
a timeline read from MySQL (message, message_changelog, sender_enqueue, sender_claim,
sender_tracking) and what the fakes received, and checks the result: every expected page
exactly once, nothing for the claimed incident after its claim, the tracking copy and the
batch delivered, MySQL and the vendors agreeing page for page, nothing more during a quiet
final "minute". It exits 1 naming what went wrong otherwise.
"""
import datetime
import json
import os
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
import irisstack as stack  # noqa: E402
from fake_runtime import FakeRuntime  # noqa: E402

BUILD = stack.BUILD

DB = os.environ.get("IRIS_DEMO_DB", "iris_demo")
ENDPOINT = os.environ["IRIS_TEST_AWS_ENDPOINT"]
BOLD, DIM, GREEN, RED, YELLOW, RESET = ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[33m",
                                        "\033[0m")

MINUTE_MS = 15000          # one compressed coordinator "minute" (the invocation's timeout)
MAX_INVOCATIONS = 5        # the flow must be complete by then (it is after 2)
LANES = ["email", "sms", "call", "im", "slack", "hipchat", "notifications"]

# Incidents of stage 2.
FULL, CLAIMED, TRACKED = 600, 601, 602
STORM = list(range(610, 617))
LINUS, GRACE = 3, 2        # target ids of the demo data

# Demo-only plans, next to the demo data's (db/iris/demo_data.sql): the same templates,
# targets and roles, waits in seconds so a whole escalation fits in well under a minute.
DEMO_PLANS_SQL = """
INSERT INTO plan (id, name, created, user_id, team_id, description, step_count,
                  threshold_window, threshold_count, aggregation_window, aggregation_reset,
                  tracking_key, tracking_type, tracking_template) VALUES
  (90, 'demo-disk-fast', UTC_TIMESTAMP(), 1, 10,
   'Demo only: disk-escalation with waits in seconds.', 2, 900, 10, 300, 300, NULL, NULL, NULL),
  (91, 'demo-job-storm', UTC_TIMESTAMP(), 3, NULL,
   'Demo only: job-storm with a 15 s batch window.', 1, 60, 3, 15, 30, NULL, NULL, NULL);
INSERT INTO plan_active (name, plan_id) VALUES ('demo-disk-fast', 90), ('demo-job-storm', 91);
INSERT INTO plan_notification (id, plan_id, step, template, target_id, optional, role_id,
                               priority_id, `repeat`, wait, dynamic_index) VALUES
  (90, 90, 1, 'disk-alert', 3, 0, 1, 2, 2, 6, NULL),    -- linus (user), high = sms, 3 sends 6 s apart
  (91, 90, 2, 'disk-alert', 10, 0, 2, 1, 0, 0, NULL),   -- storage-oncall's manager, urgent = call
  (92, 90, 2, 'disk-alert', 20, 0, 6, 3, 0, 0, NULL),   -- storage-announce members, medium = email
  (93, 91, 1, 'job-failure', 3, 0, 1, 3, 0, 0, NULL);   -- linus (user), medium
"""
STEP1_ROUNDS, STEP1_WAIT = 3, 6


def step(text):
    print(f"{BOLD}▶ {text}{RESET}", flush=True)


def ok(text):
    print(f"  {GREEN}✓{RESET} {text}", flush=True)


def fail(text):
    print(f"  {RED}✗ {text}{RESET}", flush=True)
    sys.exit(1)


def aws(service):
    return stack.aws_client(service, ENDPOINT)


def sql(text):
    try:
        return stack.sql(DB, text, nulls_as_none=True, timeout=None)
    except stack.StackError as e:
        fail(str(e))


def ts(text):
    """A DATETIME(3) from MySQL (UTC) as a naive datetime."""
    return datetime.datetime.fromisoformat(text) if text else None


TS = "DATE_FORMAT({}, '%Y-%m-%d %H:%i:%s.%f')"


# ---- stage 1 ---------------------------------------------------------------------------------

def smoke():
    step(f"database '{DB}': Iris schema, sender migrations, demo data")
    stack.drop_db(DB)
    try:
        stack.load_iris(DB)
    except stack.StackError as e:
        fail(str(e))
    ok("loaded")

    step("Secrets Manager (moto): the database login as a JSON secret")
    sm = aws("secretsmanager")
    try:
        sm.delete_secret(SecretId="iris-demo/db", ForceDeleteWithoutRecovery=True)
    except Exception:
        pass
    sm.create_secret(Name="iris-demo/db", SecretString=json.dumps({"user": "root"}))
    ok("secret iris-demo/db created")

    step("SQS (moto): the smoke queue")
    queue = aws("sqs").create_queue(QueueName=f"{DB}-smoke")["QueueUrl"]
    ok(queue)

    cfg = stack.config(DB, {"smoke": queue}, plugins=True, endpoint=ENDPOINT,
                       metrics={"namespace": "Iris/Demo"}, log={"level": "info"})
    cfg["db"]["user"] = "secretsmanager:iris-demo/db#user"
    cfg_path = stack.write_config(os.path.join(BUILD, "demo", DB, "config.json"), cfg)

    step("iris-smoke bootstrap through the fake Lambda Runtime API")
    run = stack.run_lambda(stack.bootstrap("smoke"), [{"demo": "smoke", "n": i} for i in range(2)],
                           env={"IRIS_CONFIG": cfg_path}, timeout_ms=15000)
    if run.init_error:
        fail(f"init error: {run.init_error['json']}")
    for entry in run.logs:
        print(f"  {DIM}log  {entry.get('level')}  {entry.get('module')}: {entry.get('msg')}{RESET}")
    for rid, r in zip(run.ids, run.results):
        if not r or r["kind"] != "response":
            fail(f"invocation {rid}: {r and r['json']}")
        d = r["json"]["database"]
        ok(f"invocation {rid[:8]}: {d['applications']} applications, {d['users']} users, "
           f"{d['plans']} plans, {d['template_contents']} templates; queue round trip "
           f"{r['json']['queue']['message_id'][:8]}…; {r['json']['remaining_ms']} ms left")
    plugins = run.results[0]["json"]["plugins"]
    ok("plugins loaded: " + ", ".join(f"{p['name']} {p['version']} ({'/'.join(p['modes'])}, "
                                      f"{p['load_us']} µs)" for p in plugins["loaded"]))
    for r in plugins["rejected"]:
        fail(f"plugin rejected: {r}")
    for m in stack.json_lines(run.proc.out):
        names = [x["Name"] for x in m["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        ok(f"EMF metrics line: {', '.join(f'{n}={m[n]}' for n in names)}")
    if run.proc.returncode != 0:
        fail(f"bootstrap exited {run.proc.returncode}")
    return cfg


# ---- stage 2: the pieces that run concurrently -----------------------------------------------

class Clock:
    def __init__(self):
        self.t0 = time.monotonic()

    def __call__(self):
        return time.monotonic() - self.t0

    def stamp(self):
        return f"{DIM}[+{self():5.1f}s]{RESET}"


class EventSourceMapping(threading.Thread):
    """Stands in for one lane's SQS event source mapping: long-polls the queue, invokes the
    sender function (one warm `iris-sender` container, driven through the fake Runtime API)
    with the records as an SQS event, deletes what the answer did not list in
    batchItemFailures; those come back after their visibility timeout, as with
    ReportBatchItemFailures."""

    def __init__(self, lane, url, bootstrap, env, log_path):
        super().__init__(name=f"esm-{lane}", daemon=True)
        self.lane, self.url, self.bootstrap, self.env = lane, url, bootstrap, env
        self.log_path = log_path
        self.stop = threading.Event()
        self.sqs = aws("sqs")
        self.arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.invocations = self.records = self.retried = 0
        self.problems = []

    def start_container(self):
        rt = FakeRuntime()
        log = open(self.log_path, "a")
        proc = rt.start_bootstrap(self.bootstrap, env=self.env, stdout=log, stderr=log)
        return rt, proc, log

    def run(self):
        rt, proc, log = self.start_container()
        try:
            while not self.stop.is_set():
                got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1,
                                               AttributeNames=["All"]).get("Messages", [])
                if not got:
                    continue
                event = {"Records": [{"messageId": g["MessageId"], "receiptHandle": g["ReceiptHandle"],
                                      "body": g["Body"], "attributes": g.get("Attributes", {}),
                                      "messageAttributes": {}, "md5OfBody": g.get("MD5OfBody", ""),
                                      "eventSource": "aws:sqs", "eventSourceARN": self.arn,
                                      "awsRegion": "us-east-1"} for g in got]}
                rid = rt.add_event(event, timeout_ms=60000)
                self.invocations += 1
                self.records += len(got)
                res = None
                end = time.monotonic() + 70
                while res is None and time.monotonic() < end:
                    if rt.init_error:
                        break
                    if proc.poll() is not None:
                        break
                    try:
                        res = rt.wait_results([rid], timeout=0.5)[0]
                    except TimeoutError:
                        pass
                if res is None:
                    why = (f"init error {rt.init_error['json']}" if rt.init_error else
                           f"exited with status {proc.returncode}" if proc.poll() is not None else
                           "no answer within 70 s")
                    self.problems.append(f"sender container on lane {self.lane}: {why} "
                                         f"(log {self.log_path}); a new container is started")
                    rt.close()
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait()
                    log.close()
                    rt, proc, log = self.start_container()
                    continue
                if res["kind"] != "response":
                    self.problems.append(f"sender on lane {self.lane} answered an error: {res['json']}")
                    continue  # the whole batch comes back after its visibility timeout
                failed = {f["itemIdentifier"] for f in (res["json"] or {}).get("batchItemFailures", [])}
                self.retried += len(failed)
                for g in got:
                    if g["MessageId"] not in failed:
                        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=g["ReceiptHandle"])
        finally:
            if not rt.stop_bootstrap(proc):
                self.problems.append(f"sender container on lane {self.lane} did not exit")
            rt.close()
            log.close()


class Watcher:
    """Reads MySQL a few times a second: prints each settled delivery and each change of an
    incident as it happens, and plays Iris's API (the claims) at the right moments."""

    def __init__(self, clock, opened):
        self.clock, self.opened = clock, opened
        self.seen = set()
        self.incidents = {}
        self.claims = {}         # incident → (Python epoch, MySQL UTC time) of the claim
        self.aggregating = False
        self.storm_claimed = None
        self.events = []         # (MySQL UTC time, incident, text) for the timeline

    def poll(self):
        ids = ",".join(str(i) for i in self.opened)
        rows = sql(
            "SELECT 'c', c.claim_key, c.state, IFNULL(c.mode, '-'), IFNULL(c.vendor, '-'),"
            " IFNULL(m.incident_id, IFNULL(tr.incident_id, 0)), IFNULL(pn.step, 0), IFNULL(t.name, '-'),"
            " IFNULL(m.destination, IFNULL(tr.destination, '-')),"
            " (SELECT COUNT(*) FROM message b WHERE b.batch = c.batch_id),"
            " REPLACE(IFNULL(c.last_error, ''), '\\t', ' ')"
            " FROM sender_claim c LEFT JOIN message m ON m.id = c.message_id"
            " LEFT JOIN target t ON t.id = m.target_id"
            " LEFT JOIN plan_notification pn ON pn.id = m.plan_notification_id"
            " LEFT JOIN sender_tracking tr ON c.kind = 'tracking'"
            "  AND tr.incident_id = CAST(SUBSTRING(c.claim_key, 3) AS UNSIGNED)"
            " WHERE c.finished_at IS NOT NULL ORDER BY c.finished_at;"
            f"SELECT 'i', id, active, current_step, IFNULL(owner_id, 0) FROM incident WHERE id IN ({ids});"
            "SELECT 'h', m.incident_id FROM sender_enqueue e JOIN message m ON m.id = e.message_id"
            " WHERE e.state = 'held' ORDER BY e.message_id;"
            f"SELECT 'b', COUNT(*) FROM message WHERE incident_id = {CLAIMED}"
            " AND plan_notification_id = 90 AND sent IS NOT NULL;") if ids else []
        held, claimed_sent = [], 0
        for r in rows:
            if r[0] == "c" and r[1] not in self.seen:
                self.seen.add(r[1])
                self.print_delivery(*r[1:])
            elif r[0] == "i":
                self.incident_changed(int(r[1]), r[2] == "1", int(r[3]), int(r[4]))
            elif r[0] == "h":
                held.append(int(r[1]))
            elif r[0] == "b":
                claimed_sent = int(r[1])
        self.play_api(held, claimed_sent)

    def print_delivery(self, key, state, mode, vendor, incident, stp, who, dest, members, why):
        kind = {"m": "page", "b": "batch", "t": "tracking", "n": "notification"}[key[0]]
        what = {"sent": f"{GREEN}sent{RESET}", "suppressed": f"{YELLOW}suppressed{RESET}"}.get(
            state, f"{RED}{state}{RESET}")
        extra = f", {members} messages in one page" if kind == "batch" else ""
        who = "(plan)" if kind == "tracking" else who
        extra += f" ({why})" if state != "sent" and why else ""
        where = f"step {stp}" if stp != "0" else "copy" if kind == "tracking" else ""
        print(f"  {self.clock.stamp()} {kind:8} {mode:5} → {who:6} {dest:32} incident {incident} "
              f"{where:6} via {vendor:11} {what}{extra}", flush=True)

    def incident_changed(self, inc, active, cur, owner):
        before = self.incidents.get(inc)
        self.incidents[inc] = (active, cur, owner)
        if before is None or before == (active, cur, owner):
            return
        if cur != before[1] and cur > 1:
            print(f"  {self.clock.stamp()} {BOLD}incident {inc} escalated to step {cur}{RESET}", flush=True)
        if before[0] and not active and not owner:
            print(f"  {self.clock.stamp()} incident {inc}: plan finished, the coordinator closed it", flush=True)

    def claim(self, inc, owner, why):
        now = sql("UPDATE incident SET active = 0, owner_id = %d WHERE id = %d;"
                  "UPDATE message SET active = 0 WHERE incident_id = %d;"
                  "SELECT %s;" % (owner, inc, inc, TS.format("UTC_TIMESTAMP(3)")))[0][0]
        self.claims[inc] = (time.time(), ts(now))
        who = {LINUS: "linus", GRACE: "grace"}[owner]
        self.events.append((ts(now), inc, f"{who} claims the incident ({why})"))
        print(f"  {self.clock.stamp()} {BOLD}{who} claims incident {inc}{RESET} {why} — as Iris's "
              f"API does: UPDATE incident SET active = 0, owner_id = {owner}; UPDATE message SET "
              f"active = 0 WHERE incident_id = {inc}", flush=True)

    def play_api(self, held, claimed_sent):
        if CLAIMED not in self.claims and claimed_sent >= 2:
            self.claim(CLAIMED, LINUS, "after his second SMS")
        if held and not self.aggregating:
            self.aggregating = True
            print(f"  {self.clock.stamp()} aggregation: {len(held)} job-storm message(s) held for "
                  f"one batch (incidents {', '.join(map(str, sorted(held)))})", flush=True)
        if held and self.storm_claimed is None:
            self.storm_claimed = held[len(held) // 2]
            self.claim(self.storm_claimed, LINUS, "while its page is held for the batch")


# ---- stage 2 ---------------------------------------------------------------------------------

def open_incidents(ids, plan, app, contexts):
    values = ", ".join(f"({i}, {plan}, UTC_TIMESTAMP(), '{json.dumps(c)}', {app}, 0, 1)"
                       for i, c in zip(ids, contexts))
    now = sql(f"INSERT INTO incident (id, plan_id, created, context, application_id, current_step,"
              f" active) VALUES {values}; SELECT {TS.format('UTC_TIMESTAMP(3)')};")[0][0]
    return {i: ts(now) for i in ids}


def disk_context(host, value):
    return {"host": host, "check": "disk_usage", "value": value, "threshold": 90,
            "severity": "critical", "tags": ["db", "prod"],
            "runbook_url": "https://wiki.example.com/runbooks/disk"}


def vendor_config(smtp, fakes):
    from vendor_fakes import SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN
    twilio = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
              "from_number": "+15550009999", "relay_base_url": "https://relay.example.com",
              "api_base": fakes.url + "/twilio"}
    mail = {"from": "iris@example.com", "server": f"127.0.0.1:{smtp.port}", "tls": "none"}
    return {
        "email": [{"plugin": "smtp", "name": "smtp-demo", "config": mail}],
        "im": [{"plugin": "smtp", "name": "smtp-im", "config": mail}],
        "sms": [{"plugin": "twilio", "name": "twilio-sms", "config": twilio}],
        "call": [{"plugin": "twilio", "name": "twilio-call", "config": twilio}],
        "slack": [{"plugin": "slack", "name": "slack-demo",
                   "config": {"auth_token": SLACK_TOKEN, "base_url": fakes.url + "/slack/api",
                              "iris_incident_url": "https://iris.example.com/incidents"}}],
    }


def flow_complete(opened):
    """The end state: the fast plan ran to its end, the claimed ones stopped, the storm's batch
    went out, the tracking copy was delivered and nothing is left to send."""
    ids = ",".join(map(str, opened))
    r = sql(f"SELECT (SELECT COUNT(*) FROM incident WHERE id IN ({FULL}, {CLAIMED},"
            f" {','.join(map(str, STORM))}) AND active = 1),"
            f" (SELECT COUNT(*) FROM sender_tracking WHERE incident_id = {TRACKED} AND state = 'done'),"
            f" (SELECT COUNT(*) FROM sender_enqueue e JOIN message m ON m.id = e.message_id"
            f"  WHERE m.incident_id IN ({ids}) AND e.state <> 'done'),"
            " (SELECT COUNT(*) FROM sender_claim WHERE state IN ('claimed', 'sending')"
            "  OR (state = 'failed' AND final = 0))")[0]
    return r == ["0", "1", "0", "0"]


API_NOTE_TO = "api-demo@example.com"


def notify_call(env, method, path, body=""):
    """One API Gateway (REST proxy) request through the real iris-notify bootstrap, signed with
    the Autoalerts application's key as Iris's API clients sign; the proxy response."""
    import base64
    import hashlib
    import hmac
    key = sql("SELECT `key` FROM application WHERE name = 'Autoalerts'")[0][0]
    text = f"{int(time.time()) // 5} {method} {path} {body}"
    digest = base64.urlsafe_b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha512).digest()).decode()
    event = {"resource": path, "path": path, "httpMethod": method, "body": body, "isBase64Encoded": False,
             "headers": {"Authorization": f"hmac Autoalerts:{digest}", "Content-Type": "application/json"},
             "requestContext": {"stage": "prod", "path": "/prod" + path}}
    with FakeRuntime() as rt:
        rid = rt.add_event(event)
        proc = rt.run_bootstrap(os.path.join(BUILD, "lambda", "notify", "iris-notify"), env=env)
        res = rt.results.get(rid)
    if proc.returncode or not res or res["kind"] != "response":
        fail(f"iris-notify {method} {path}: {res and res['json']} {proc.err[-500:]}")
    return res["json"]


def api_notification(env, clock):
    """POST /v0/notifications through notify: it lands on the notifications lane, where the
    sender's event source mapping delivers it like any other record."""
    body = json.dumps({"role": "literal_target", "target": API_NOTE_TO, "mode": "email",
                       "subject": "Storage maintenance tonight", "body": "db-1.prod is read-only 22:00-23:00."})
    r = notify_call(env, "POST", "/v0/notifications", body)
    nid = r["headers"].get("X-Iris-Notification-Id")
    print(f"  {clock.stamp()} {BOLD}POST /v0/notifications{RESET} (Autoalerts) → iris-notify: "
          f"{r['statusCode']} {r['body']}, notification {nid}", flush=True)
    return {"id": nid, "status": r["statusCode"], "posted": clock()}


def api_notification_status(env, note, clock):
    if note.get("id"):
        r = notify_call(env, "GET", f"/v0/notifications/{note['id']}")
        note["lookup"] = json.loads(r["body"]) if r["statusCode"] == 200 else {"error": r["body"]}
        note["looked_up"] = clock()
    return note


def api_notification_timeline(note):
    step("timeline: the API notification (POST /v0/notifications → notify → notifications lane → sender)")
    print(f"  {note['posted']:+6.1f}s  POST answered {note['status']}, notification {note.get('id')}")
    for t in note.get("lookup", {}).get("targets", []):
        recips = "; ".join(f"{r['state']} by {r.get('mode', '-')} via {r.get('vendor', '-')}"
                           for r in t.get("recipients", []))
        print(f"  {note.get('looked_up', 0):+6.1f}s  GET /v0/notifications/{note.get('id')}: "
              f"{t['role']}:{t['target']} {GREEN if t['state'] == 'sent' else RED}{t['state']}{RESET}"
              f"{' — ' + recips if recips else ''}{' (' + t['reason'] + ')' if t.get('reason') else ''}")
    if "error" in note.get("lookup", {}):
        print(f"  {RED}status lookup failed: {note['lookup']['error']}{RESET}")


def run_flow(cfg, smtp, fakes, oncall, problems):
    sqs = aws("sqs")
    cfg = dict(cfg)
    # Who is on call for storage-oncall comes from the Oncall API (an HTTP fake checking
    # Oncall's HMAC application auth), as in a deployment with `oncall.api` configured.
    cfg["oncall"] = {"api": oncall.url, "app": "iris", "key": "demo-oncall-key"}
    cfg["queues"] = {}
    dlqs = {}
    run = uuid.uuid4().hex[:6]  # fresh queues every run (deleted at the end)
    for lane in LANES:
        # As deployed (cloudformation/generate.py): a dead-letter queue per lane, reached after
        # 5 receives (maxReceiveCount).
        dlqs[lane] = sqs.create_queue(QueueName=f"{DB}-{run}-{lane}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlqs[lane], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=f"{DB}-{run}-{lane}", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
        cfg["queues"][lane] = url
    cfg["vendors"] = vendor_config(smtp, fakes)
    cfg["oneclick"] = {"enabled": True, "endpoint": "https://relay.example.com/oneclick",
                       "key": "demo-oneclick-key"}
    cfg["coordinator"] = {"tick_seconds": 1, "margin_ms": 500, "lease_seconds": 30}
    ok(f"{len(LANES)} lanes, each with its dead-letter queue: {DB}-{run}-{{{','.join(LANES)}}}")
    env = {"IRIS_CONFIG_JSON": json.dumps(cfg), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "IRIS_LOG_LEVEL": "info"}
    logdir = os.path.join(BUILD, "demo", DB, "logs")
    os.makedirs(logdir, exist_ok=True)
    for f in os.listdir(logdir):
        os.unlink(os.path.join(logdir, f))

    step("plans: two demo-only plans with waits in seconds, next to the demo data's")
    sql(DEMO_PLANS_SQL)
    ok("demo-disk-fast (90): step 1 linus by SMS ×3, 6 s apart; step 2 the manager by call and "
       "storage-announce by email")
    ok("demo-job-storm (91): > 3 messages to linus within 60 s aggregate; a batch every 15 s")

    step("event source mappings: one per lane, each invoking a warm iris-sender container")
    esms = [EventSourceMapping(lane, cfg["queues"][lane], stack.bootstrap("sender"),
                               env, os.path.join(logdir, f"sender-{lane}.log")) for lane in LANES]
    for e in esms:
        e.start()
    ok("polling " + ", ".join(LANES))

    step("EventBridge Scheduler stand-in → iris-coordinator (fake Runtime API), "
         f"{MINUTE_MS // 1000} s invocations ticking every second; incidents open as Iris's API opens them")
    clock = Clock()
    coord_log = open(os.path.join(logdir, "coordinator.log"), "a")
    crt = FakeRuntime()
    cproc = crt.start_bootstrap(stack.bootstrap("coordinator"),
                                env=env, stdout=coord_log, stderr=coord_log)
    opened = {}
    note = {}
    watcher = Watcher(clock, opened)
    summaries = []
    storm_open = False
    complete_at = None   # invocation after which the flow was complete
    quiet_from = None    # MySQL time from which nothing more may be sent
    try:
        opened.update(open_incidents([FULL, CLAIMED], 90, 1, [disk_context("db-1.prod", 97.5),
                                                              disk_context("db-2.prod", 93.1)]))
        opened.update(open_incidents([TRACKED], 2, 1, [disk_context("db-3.prod", 95.0)]))
        print(f"  {clock.stamp()} incidents {FULL}, {CLAIMED} open on demo-disk-fast, {TRACKED} on "
              "disk-escalation (tracked)", flush=True)
        note = api_notification(env, clock)
        for n in range(1, MAX_INVOCATIONS + 1):
            rid = crt.add_event({"version": "0", "source": "aws.scheduler",
                                 "detail-type": "Scheduled Event", "detail": {}}, timeout_ms=MINUTE_MS)
            while rid not in crt.results:
                if crt.init_error:
                    fail(f"coordinator init error: {crt.init_error['json']}")
                if cproc.poll() is not None:
                    fail(f"iris-coordinator exited with status {cproc.returncode} "
                         f"(log {coord_log.name})")
                if not storm_open and clock() >= 3:
                    storm_open = True
                    opened.update(open_incidents(
                        STORM, 91, 3, [{"job": f"etl-shard-{k}", "status": "FAILED",
                                        "log_url": f"https://jobs.example.com/etl/{k}",
                                        "failed_tasks": [{"name": "load", "code": 2}]}
                                       for k in range(1, len(STORM) + 1)]))
                    print(f"  {clock.stamp()} job storm: incidents {STORM[0]}-{STORM[-1]} open on "
                          "demo-job-storm", flush=True)
                watcher.poll()
                time.sleep(0.25)
            res = crt.results[rid]
            if res["kind"] != "response":
                problems.append(f"coordinator invocation {n} failed: {res['json']}")
                print(f"  {clock.stamp()} {RED}coordinator #{n} failed: {res['json']}{RESET}")
                continue
            s = res["json"]
            summaries.append(s)
            if "skipped" in s:
                print(f"  {clock.stamp()} coordinator #{n}: {s['skipped']}", flush=True)
            else:
                print(f"  {clock.stamp()} {BOLD}coordinator #{n}{RESET} (lease token {s['lease_token']}): "
                      f"{s['ticks']} ticks, {s['new_incidents']} new incident(s), {s['repeats']} repeat(s), "
                      f"{s['escalations']} escalation(s), {s['messages_created']} message(s), "
                      f"{s['tracking_created']} tracking, {s['messages_enqueued']} enqueued, "
                      f"{s['messages_held']} held, {s['batches_flushed']} batch(es), "
                      f"{s['deactivated']} closed", flush=True)
                if s["enqueue_failures"] or s["failed_incidents"]:
                    problems.append(f"coordinator invocation {n}: {s['enqueue_failures']} enqueue "
                                    f"failure(s), {s['failed_incidents']} failed incident(s)")
            watcher.poll()
            if complete_at is not None:
                break  # the quiet "minute" after completion is over
            if storm_open and flow_complete(opened):
                complete_at = n
                quiet_from = ts(sql(f"SELECT {TS.format('UTC_TIMESTAMP(3)')}")[0][0])
                print(f"  {clock.stamp()} everything delivered; one more quiet \"minute\" to show "
                      "nothing else pages", flush=True)
        if complete_at is None:
            problems.append(f"the flow was not complete after {MAX_INVOCATIONS} coordinator "
                            "invocations (see the checks below for what is missing)")
        # let the senders finish what the last invocation enqueued
        end = time.monotonic() + 5
        while time.monotonic() < end:
            watcher.poll()
            time.sleep(0.25)
        api_notification_status(env, note, clock)
    finally:
        if not crt.stop_bootstrap(cproc):
            problems.append("iris-coordinator did not exit")
        crt.close()
        coord_log.close()
        for e in esms:
            e.stop.set()
        for e in esms:
            e.join(timeout=60)
            problems.extend(e.problems)
    ok(f"{len(summaries)} coordinator invocations in {clock():.0f} s; sender: "
       + ", ".join(f"{e.lane} {e.invocations} invocation(s)/{e.records} record(s)"
                   for e in esms if e.invocations))
    retried = sum(e.retried for e in esms)
    if retried:
        ok(f"{retried} record(s) reported in batchItemFailures and redelivered")
    for lane, q in dlqs.items():
        while True:
            got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            for g in got:
                problems.append(f"lane {lane}: a record reached the dead-letter queue after 5 "
                                f"receives: {g['Body']}")
                sqs.delete_message(QueueUrl=q, ReceiptHandle=g["ReceiptHandle"])
    for q in list(cfg["queues"].values()) + list(dlqs.values()):
        sqs.delete_queue(QueueUrl=q)
    return {"opened": opened, "watcher": watcher, "quiet_from": quiet_from, "logdir": logdir,
            "summaries": summaries, "note": note}


# ---- stage 2: what happened ------------------------------------------------------------------

def load_pages(opened):
    ids = ",".join(map(str, opened))
    rows = sql(
        "SELECT m.id, m.incident_id, IFNULL(pn.id, 0), IFNULL(pn.step, 0), t.name, IFNULL(mo.name, IFNULL(c.mode, '-')),"
        " IFNULL(m.destination, '-'), IFNULL(c.vendor, IFNULL(bc.vendor, '-')), m.active,"
        f" {TS.format('m.created')}, {TS.format('m.sent')}, IFNULL(m.batch, ''),"
        " IFNULL(c.state, ''), IFNULL(bc.state, ''),"
        f" {TS.format('IFNULL(c.finished_at, bc.finished_at)')},"
        " REPLACE(IFNULL(c.last_error, ''), '\\t', ' '), IFNULL(e.state, '-'),"
        " IFNULL(c.takeovers, 0) + IFNULL(bc.takeovers, 0), IFNULL(c.attempts, 0) + IFNULL(bc.attempts, 0),"
        " (SELECT COUNT(*) FROM message b WHERE b.batch = m.batch),"
        f" {TS.format('e.created_at')}"
        " FROM message m JOIN target t ON t.id = m.target_id"
        " LEFT JOIN plan_notification pn ON pn.id = m.plan_notification_id"
        " LEFT JOIN mode mo ON mo.id = m.mode_id"
        " LEFT JOIN sender_claim c ON c.claim_key = CONCAT('m:', m.id)"
        " LEFT JOIN sender_claim bc ON m.batch IS NOT NULL AND bc.claim_key = CONCAT('b:', m.batch)"
        " LEFT JOIN sender_enqueue e ON e.message_id = m.id"
        f" WHERE m.incident_id IN ({ids}) ORDER BY m.incident_id, m.id")
    keys = ["id", "incident", "pn", "step", "who", "mode", "dest", "vendor", "active", "created",
            "sent", "batch", "claim", "batch_claim", "finished", "why", "marker", "takeovers",
            "attempts", "batch_size", "marked"]
    pages = []
    for r in rows:
        p = dict(zip(keys, r))
        for k in ("id", "incident", "pn", "step", "takeovers", "attempts", "batch_size"):
            p[k] = int(p[k])
        for k in ("created", "sent", "finished", "marked"):
            p[k] = ts(p[k])
        p["active"] = p["active"] == "1"
        pages.append(p)
    notes = {}
    for mid, kind, old, new, desc in sql(
            "SELECT c.message_id, c.change_type, IFNULL(c.old, ''), IFNULL(c.new, ''),"
            " IFNULL(c.description, '') FROM message_changelog c JOIN message m ON m.id = c.message_id"
            f" WHERE m.incident_id IN ({ids}) ORDER BY c.id"):
        change = f"{kind} {old} → {new}" if old or new else kind
        notes.setdefault(int(mid), []).append(f"{change}: {desc}")
    tracking = sql("SELECT incident_id, mode, destination, state, IFNULL(outcome, ''), IFNULL(vendor, '-'),"
                   f" {TS.format('done_at')}, IFNULL(last_error, '') FROM sender_tracking"
                   f" WHERE incident_id IN ({ids})")
    return pages, notes, tracking


def outcome(p, claims):
    if p["batch"] and p["batch_claim"] == "sent":
        return f"{GREEN}batched{RESET}: one page for {p['batch_size']} messages (batch {p['batch'][:8]}…)"
    if p["claim"] == "sent":
        return f"{GREEN}sent{RESET}"
    if p["claim"] == "suppressed":
        return f"{YELLOW}suppressed{RESET}: {p['why']}"
    if p["claim"]:
        return f"{RED}{p['claim']}{RESET}: {p['why']}"
    if not p["active"] and p["incident"] in claims:
        return f"{YELLOW}not sent{RESET}: incident claimed before delivery (held, left out of the batch)"
    return f"{RED}not delivered{RESET} (marker {p['marker']})"


def timeline(opened, pages, notes, tracking, watcher):
    step("timeline: who was paged, how and when (from MySQL)")
    plans = {FULL: "demo-disk-fast", CLAIMED: "demo-disk-fast", TRACKED: "disk-escalation"}
    final = {int(r[0]): r[1:] for r in sql(
        "SELECT id, active, current_step, IFNULL(owner_id, 0) FROM incident WHERE id IN (%s)"
        % ",".join(map(str, opened)))}
    print(f"  {'after':>7}  {'inc':>3} {'step':4} {'who':6} {'mode':5} {'destination':32} "
          f"{'vendor':11} what happened")
    for inc in sorted(opened):
        rows = []
        for p in pages:
            if p["incident"] != inc:
                continue
            at = p["finished"] or p["sent"] or p["marked"] or p["created"]
            rows.append((at, f"{str(p['step']):4} {p['who']:6} {p['mode']:5} {p['dest']:32} "
                             f"{p['vendor']:11} {outcome(p, watcher.claims)}", notes.get(p["id"], [])))
        for t in tracking:
            if int(t[0]) == inc:
                what = (f"{GREEN}tracking copy{RESET} sent" if t[4] == "sent"
                        else f"{RED}tracking copy {t[3]} {t[4]}{RESET} {t[7]}")
                rows.append((ts(t[6]) or datetime.datetime.max,
                             f"{'-':4} {'(plan)':6} {t[1]:5} {t[2]:32} {t[5]:11} {what}", []))
        for at, i, text in watcher.events:
            if i == inc:
                rows.append((at, f"{BOLD}{text}{RESET}", []))
        active, cur, owner = final[inc]
        state = ("still active" if active == "1" else "claimed" if owner != "0" else "closed")
        plan = plans.get(inc, "demo-job-storm")
        print(f"  {DIM}— incident {inc} ({plan}): step {cur}, {state} —{RESET}")
        for at, text, ns in sorted(rows, key=lambda r: r[0]):
            secs = (at - opened[inc]).total_seconds() if at != datetime.datetime.max else float("nan")
            print(f"  {secs:+6.1f}s  {inc:>3} {text}")
            for n in ns:
                print(f"  {'':8} {'':3} {DIM}↳ {n[:110]}{RESET}")


def vendor_pages(smtp, fakes):
    """(mode-ish, destination, epoch, text) of everything the vendors received."""
    from vendor_fakes import slack_handle
    got = []
    for mail in smtp.messages:
        m = mail["message"]
        for rcpt in mail["rcpt_tos"]:
            got.append(("email", rcpt, mail["at"], str(m["Subject"])))
    for req in fakes.requests():
        body = req["body"] or {}
        if req["route"] == "twilio.sms":
            got.append(("sms", body.get("To"), req["at"], body.get("Body", "")))
        elif req["route"] == "twilio.call":
            got.append(("call", body.get("To"), req["at"], body.get("Url", "")))
        elif req["route"] == "slack":  # posted to the user's ID: back to Iris's "@name"
            got.append(("slack", slack_handle(body.get("channel")), req["at"], json.dumps(body)))
    return got


def show_vendors(got):
    step("what the vendors received")
    for mode, dest, _, text in sorted(got, key=lambda g: g[2]):
        text = " ".join(text.split())
        if mode == "slack":
            text = json.loads(text).get("text", "")
        print(f"  {mode:5} to {dest:32} {text[:80]}")


def check(flow, pages, tracking, got, fakes):
    """Everything that must hold for the main job to be working; returns the problems."""
    bad = []
    claims = flow["watcher"].claims
    by = {}
    for p in pages:
        by.setdefault(p["incident"], []).append(p)

    def delivered(p):
        return p["claim"] == "sent" or (p["batch"] and p["batch_claim"] == "sent")

    # 600: the whole plan, each page once.
    full = by.get(FULL, [])
    s1 = [p for p in full if p["pn"] == 90]
    if len(s1) != STEP1_ROUNDS or not all(delivered(p) for p in s1):
        bad.append(f"incident {FULL}: step 1 should page linus {STEP1_ROUNDS} times, got "
                   f"{len(s1)} message(s), {sum(map(delivered, s1))} delivered (coordinator repeats, "
                   "core/coordinator/escalate.c)")
    gaps = [(b["created"] - a["created"]).total_seconds() for a, b in zip(s1, s1[1:])]
    if any(g < STEP1_WAIT for g in gaps):
        bad.append(f"incident {FULL}: repeats came {gaps} s apart, the plan waits {STEP1_WAIT} s")
    s2 = {(p["pn"], p["who"]) for p in full if p["step"] == 2 and delivered(p)}
    want2 = {(91, "grace"), (92, "ada"), (92, "grace"), (92, "linus")}
    if s2 != want2 or len([p for p in full if p["step"] == 2]) != len(want2):
        bad.append(f"incident {FULL}: step 2 should page the manager (grace) and the list's "
                   f"members (ada, grace, linus) once each; delivered {sorted(s2)} of "
                   f"{len([p for p in full if p['step'] == 2])} message(s) (escalation, core/coordinator/escalate.c)")
    st = sql(f"SELECT active, current_step FROM incident WHERE id = {FULL}")[0]
    if st != ["0", "2"]:
        bad.append(f"incident {FULL}: should end closed at step 2, is active={st[0]} step={st[1]} "
                   "(deactivation, core/coordinator/escalate.c)")

    # 601: claimed after two SMS, nothing after.
    cl = by.get(CLAIMED, [])
    if CLAIMED not in claims:
        bad.append(f"incident {CLAIMED}: never reached its second SMS, so it was never claimed")
    else:
        epoch, at = claims[CLAIMED]
        late = [p["id"] for p in cl if p["created"] > at]
        if late:
            bad.append(f"incident {CLAIMED}: message(s) {late} created after the claim (core/coordinator/escalate.c)")
        if sum(map(delivered, cl)) != 2 or any(p["step"] != 1 for p in cl):
            bad.append(f"incident {CLAIMED}: expected exactly the 2 SMS before the claim, got "
                       f"{[(p['id'], p['step'], p['claim']) for p in cl]}")
        after = [g for g in got if g[2] > epoch + 0.2 and "db-2.prod" in g[3]]
        if after:
            bad.append(f"incident {CLAIMED}: {len(after)} page(s) reached a vendor after the claim: {after}")

    # 602: the tracking copy, and the step-1 pages.
    tr = [t for t in tracking if int(t[0]) == TRACKED]
    if not tr or tr[0][3] != "done" or tr[0][4] != "sent":
        bad.append(f"incident {TRACKED}: tracking copy not delivered: sender_tracking {tr} "
                   "(core/coordinator/escalate.c add_tracking, core/coordinator/enqueue.c, core/sender/sender.c deliver_tracking)")
    elif not [g for g in got if g[1] == "storage-tracking@example.com" and "[tracking]" in g[3]]:
        bad.append(f"incident {TRACKED}: sender_tracking says sent but the SMTP sink got no "
                   "'[tracking]' mail for storage-tracking@example.com")
    if not by.get(TRACKED) or not all(delivered(p) for p in by[TRACKED]):
        bad.append(f"incident {TRACKED}: step 1 not fully delivered: "
                   f"{[(p['id'], p['who'], p['claim']) for p in by.get(TRACKED, [])]}")

    # 610-616: 3 single pages, one batch page, the claimed held member left out.
    storm = [p for i in STORM for p in by.get(i, [])]
    batches = {p["batch"] for p in storm if p["batch"]}
    single = [p for p in storm if not p["batch"] and p["claim"] == "sent"]
    claimed = flow["watcher"].storm_claimed
    if len(single) != 3:
        bad.append(f"job storm: expected 3 single pages before aggregation, got {len(single)} "
                   "(core/coordinator/aggregate.c decide_key)")
    flushed = sql("SELECT e.message_id, e.state, IFNULL(e.batch_id, 'NULL'), e.attempts FROM sender_enqueue e"
                  " JOIN message m ON m.id = e.message_id"
                  f" WHERE m.incident_id IN ({','.join(map(str, STORM))}) AND e.batch_id IS NOT NULL")
    if any(r[2] == "" for r in flushed):
        bad.append("job storm: the coordinator flushed the held messages with an EMPTY batch id "
                   f"(sender_enqueue message_id/state/batch_id/attempts: {flushed}); the sender refuses "
                   "that envelope ('batch_id' must be 32 lower-case hex digits), it goes to the "
                   "dead-letter queue and the batch page is never sent (core/coordinator/aggregate.c flush_key)")
    if len(batches) != 1:
        bad.append(f"job storm: expected one batch page, got {len(batches)} (core/coordinator/aggregate.c "
                   "flush_key, core/coordinator/enqueue.c, core/sender/sender.c)")
    else:
        members = [p for p in storm if p["batch"]]
        if not all(p["batch_claim"] == "sent" for p in members):
            bad.append(f"job storm: batch {batches} not sent: {[(p['id'], p['batch_claim']) for p in members]}")
        if len(members) != len(STORM) - 3 - 1:
            bad.append(f"job storm: the batch has {len(members)} member(s), expected "
                       f"{len(STORM) - 3 - 1} (held minus the claimed one)")
    if claimed is None:
        bad.append("job storm: no message was ever held (aggregation did not start)")
    else:
        cp = by.get(claimed, [])
        if any(delivered(p) or p["batch"] for p in cp):
            bad.append(f"job storm: incident {claimed} was claimed while held but was paged anyway")
    if len(storm) != len(STORM):
        bad.append(f"job storm: {len(storm)} messages for {len(STORM)} incidents")

    # The coordinator's audit entries carry Iris's texts.
    ids = ",".join(map(str, flow["opened"]))
    changes = sql("SELECT c.message_id, c.change_type, IFNULL(c.old, ''), IFNULL(c.new, ''),"
                  " IFNULL(c.description, '') FROM message_changelog c JOIN message m ON m.id = c.message_id"
                  f" WHERE m.incident_id IN ({ids}) AND c.change_type IN ('target-change', 'sent-change')")
    for mid, kind, old, new, desc in changes:
        if kind == "target-change" and "|" not in old:
            bad.append(f"message {mid}: changelog target-change should record the unresolved "
                       f"'role|target' as old value (Iris: 'oncall-primary|storage-oncall'), got "
                       f"old={old!r} new={new!r} (core/coordinator/escalate.c add_message)")
    storm_ids = [p["id"] for p in storm]
    agg = [c for c in changes if c[1] == "sent-change" and int(c[0]) in storm_ids]
    if not agg or not agg[0][4].startswith("Aggregated with key ("):
        bad.append("job storm: the message that started aggregation should carry Iris's changelog "
                   "'Aggregated with key (plan, app, priority, target)', got "
                   f"{[(c[0], c[4]) for c in agg]} (core/coordinator/aggregate.c decide_key)")

    # Everywhere: each page once, MySQL and the vendors agree, nothing unfinished.
    expected = {}
    for p in pages:
        if p["claim"] == "sent":
            expected[(p["mode"], p["dest"])] = expected.get((p["mode"], p["dest"]), 0) + 1
        if p["takeovers"]:
            bad.append(f"message {p['id']}: claim taken over {p['takeovers']} time(s) — a possible "
                       "duplicate (core/sender/claim.c)")
    for b in batches:
        rep = next(p for p in pages if p["batch"] == b)
        expected[(rep["mode"], rep["dest"])] = expected.get((rep["mode"], rep["dest"]), 0) + 1
    for t in tracking:
        if t[4] == "sent":
            expected[(t[1], t[2])] = expected.get((t[1], t[2]), 0) + 1
    note = flow.get("note", {})
    note_states = [t["state"] for t in note.get("lookup", {}).get("targets", [])]
    if note_states != ["sent"]:
        bad.append(f"API notification {note.get('id')}: POST answered {note.get('status')}, "
                   f"status lookup says {note_states or note.get('lookup')} (core/notify)")
    else:
        expected[("email", API_NOTE_TO)] = expected.get(("email", API_NOTE_TO), 0) + 1
    received = {}
    for mode, dest, _, _ in got:
        received[(mode, dest)] = received.get((mode, dest), 0) + 1
    norm = {}
    for (mode, dest), n in expected.items():
        key = ("email" if mode == "im" else mode, dest)
        norm[key] = norm.get(key, 0) + n
    for key in sorted(set(norm) | set(received)):
        if norm.get(key, 0) != received.get(key, 0):
            bad.append(f"{key[0]} to {key[1]}: the vendor received {received.get(key, 0)} page(s), "
                       f"MySQL records {norm.get(key, 0)} — "
                       + ("a page sent twice or unrecorded" if received.get(key, 0) > norm.get(key, 0)
                          else "a recorded page that never arrived"))
    open_markers = [(p["id"], p["marker"]) for p in pages if p["marker"] not in ("done", "-")]
    if open_markers:
        bad.append(f"sender_enqueue markers not settled: {open_markers}")
    if any(p["marker"] == "-" for p in pages):
        bad.append(f"messages without a coordinator marker: {[p['id'] for p in pages if p['marker'] == '-']}")
    unfinished = sql("SELECT claim_key, state, IFNULL(last_error, '') FROM sender_claim"
                     " WHERE state IN ('claimed', 'sending', 'failed')")
    if unfinished:
        bad.append(f"sender claims not finished or failed: {unfinished}")
    if flow["quiet_from"]:
        q = flow["quiet_from"]
        late = [p["id"] for p in pages if p["created"] > q or (p["finished"] and p["finished"] > q)]
        if late:
            bad.append(f"during the quiet final minute message(s) {late} were created or delivered")
    if fakes.violations():
        bad.append(f"vendor contract violations: {fakes.violations()}")
    return bad


def log_problems(logdir):
    """Distinct error lines of the bootstraps' logs, with how often each was logged."""
    found = {}
    for name in sorted(os.listdir(logdir)):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                try:
                    entry = json.loads(line) if line.startswith("{") else {}
                except ValueError:
                    entry = {}
                if entry.get("level") == "error":
                    key = f"{name}: {entry.get('module')}: {entry.get('msg')}"
                    found[key] = found.get(key, 0) + 1
                elif "AddressSanitizer" in line or "runtime error:" in line or "LeakSanitizer" in line:
                    found[f"{name}: {line.strip()}"] = found.get(f"{name}: {line.strip()}", 0) + 1
    return [f"{k} (×{n})" if n > 1 else k for k, n in found.items()]


def deliver_pages(cfg):
    from oncall_fake import OncallFake
    from smtp_sink import SmtpSink
    from vendor_fakes import VendorFakes

    step("vendors: SMTP sink (aiosmtpd), HTTP fakes of Twilio and Slack, and of the Oncall API")
    problems = []
    with SmtpSink() as smtp, VendorFakes() as fakes, OncallFake(app="iris", key="demo-oncall-key") as oncall:
        oncall.set_team("storage-oncall", rosters={"primary": ["ada", "linus", "wei"]},
                        oncall={"primary": ["grace"], "manager": ["grace"]})
        ok(f"SMTP on 127.0.0.1:{smtp.port}, vendor APIs on {fakes.url}, Oncall on {oncall.url}"
           " (grace is on call for storage-oncall)")
        flow = run_flow(cfg, smtp, fakes, oncall, problems)
        problems.extend(f"Oncall API: {v}" for v in oncall.violations())
        pages, notes, tracking = load_pages(flow["opened"])
        timeline(flow["opened"], pages, notes, tracking, flow["watcher"])
        api_notification_timeline(flow["note"])
        got = vendor_pages(smtp, fakes)
        show_vendors(got)
        step("checks")
        problems.extend(check(flow, pages, tracking, got, fakes))
        problems.extend(f"error logged by {line}" for line in log_problems(flow["logdir"]))
        if problems:
            for p in problems:
                print(f"  {RED}✗ {p}{RESET}")
            print(f"  logs of the bootstraps: {flow['logdir']}")
            fail(f"{len(problems)} problem(s): the main job did not work as it should")
        ok(f"incident {FULL}: {STEP1_ROUNDS} SMS {STEP1_WAIT}+ s apart, then the manager's call "
           "and the list's pages, then closed")
        ok(f"incident {CLAIMED}: 2 SMS, claimed, no repeat and no step 2 after the claim")
        ok(f"incident {TRACKED}: tracking copy mailed to storage-tracking@example.com")
        ok(f"job storm: 3 single pages, one batch page, the member claimed while held left out")
        ok(f"MySQL and the vendors agree page for page ({len(got)} page(s)); nothing twice, "
           "nothing left over, nothing during the quiet minute")
        ok("every request matched the vendors' documented contracts")


def main():
    t0 = time.monotonic()
    cfg = smoke()
    deliver_pages(cfg)
    print(f"{BOLD}{GREEN}demo finished in {time.monotonic() - t0:.1f} s — all checks passed{RESET}")


if __name__ == "__main__":
    main()
