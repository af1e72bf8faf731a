#!/usr/bin/env python3
"""The local demo (run by scripts/demo.sh inside the local stack).

Stage 1 — plumbing smoke flow: loads Iris's schema, the sender's migrations and the demo data
into a fresh database, puts a secret into Secrets Manager (moto) and creates a queue in SQS
(moto), then drives the real `iris-smoke` bootstrap through the fake Lambda Runtime API: the
bootstrap resolves its configuration (secret included), reads the database, round-trips a
message through the queue and emits EMF metrics. Every step prints what it did.

Stage 2 — pages delivered: two incidents open on the "disk-escalation" plan and their first
messages are written as the coordinator writes them (the coordinator function itself comes
in a later stage, so this script stands in for it: message rows + enqueue markers + one SQS
envelope per message on the lane of its mode). One incident is claimed midway. An event-source-
mapping stand-in polls each lane and invokes the real `iris-sender` bootstrap through the fake
Runtime API; the sender resolves who is paged and how, renders Iris's templates and delivers
through the real plugins — smtp to an SMTP sink, twilio and slack to HTTP fakes of those
APIs. The demo prints a timeline of who was paged, how and when.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("IRIS_BUILD_DIR", os.path.join(ROOT, "build", "release"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
from fake_runtime import FakeRuntime  # noqa: E402

DB = os.environ.get("IRIS_DEMO_DB", "iris_demo")
ENDPOINT = os.environ["IRIS_TEST_AWS_ENDPOINT"]
BOLD, DIM, GREEN, RED, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m"


def step(text):
    print(f"{BOLD}▶ {text}{RESET}", flush=True)


def ok(text):
    print(f"  {GREEN}✓{RESET} {text}", flush=True)


def fail(text):
    print(f"  {RED}✗ {text}{RESET}", flush=True)
    sys.exit(1)


def db_sh(cmd):
    r = subprocess.run([os.path.join(ROOT, "scripts", "db.sh"), cmd, DB], capture_output=True,
                       text=True)
    if r.returncode:
        fail(f"db.sh {cmd} {DB}: {r.stderr.strip()}")


def aws(service):
    import boto3
    return boto3.client(service, endpoint_url=ENDPOINT, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def sql(text):
    r = subprocess.run(["mariadb", "--protocol=TCP", "-h", os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"),
                        "-P", os.environ.get("IRIS_TEST_MYSQL_PORT", "3306"), "-u", "root",
                        "--batch", "--skip-column-names", DB], input=text, capture_output=True,
                       text=True)
    if r.returncode:
        fail(f"SQL failed: {r.stderr.strip()}")
    return [line.split("\t") for line in r.stdout.splitlines()]


def deliver_pages(cfg):
    from smtp_sink import SmtpSink
    from vendor_fakes import SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN, VendorFakes

    step("vendors: SMTP sink (aiosmtpd) and HTTP fakes of Twilio and Slack")
    sqs = aws("sqs")
    lanes = ["email", "sms", "call", "slack"]
    with SmtpSink() as smtp, VendorFakes() as fakes:
        ok(f"SMTP on 127.0.0.1:{smtp.port}, vendor APIs on {fakes.url}")
        queues = {lane: sqs.create_queue(QueueName=f"iris-demo-{lane}")["QueueUrl"] for lane in lanes}
        for q in queues.values():
            sqs.purge_queue(QueueUrl=q)
        twilio = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
                  "from_number": "+15550009999", "relay_base_url": "https://relay.example.com",
                  "api_base": fakes.url + "/twilio"}
        cfg = dict(cfg)
        cfg["queues"] = dict(queues)
        cfg["vendors"] = {
            "email": [{"plugin": "smtp", "name": "smtp-demo",
                       "config": {"from": "iris@example.com", "server": f"127.0.0.1:{smtp.port}",
                                  "tls": "none"}}],
            "sms": [{"plugin": "twilio", "name": "twilio-sms", "config": twilio}],
            "call": [{"plugin": "twilio", "name": "twilio-call", "config": twilio}],
            "slack": [{"plugin": "slack", "name": "slack-demo",
                       "config": {"auth_token": SLACK_TOKEN, "base_url": fakes.url + "/slack/api",
                                  "iris_incident_url": "https://iris.example.com/incidents"}}],
        }
        cfg["oneclick"] = {"enabled": True, "endpoint": "https://relay.example.com/oneclick",
                           "key": "demo-oneclick-key"}

        step("incidents 500 and 501 open on plan disk-escalation (step 1: on-call by SMS)")
        ctx = json.dumps({"host": "db-1.prod", "check": "disk_usage", "value": 97.5,
                          "threshold": 90, "severity": "critical", "tags": ["db", "prod"],
                          "runbook_url": "https://wiki.example.com/runbooks/disk"})
        sql(f"""DELETE FROM message WHERE incident_id IN (500, 501);
                DELETE FROM incident WHERE id IN (500, 501);
                INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)
                  VALUES (500, 2, UTC_TIMESTAMP(), '{ctx}', 1, 1, 1),
                         (501, 2, UTC_TIMESTAMP(), '{ctx.replace("db-1", "db-2")}', 1, 1, 1);""")
        # What the coordinator writes for step 1: one message per recipient and notification.
        pages = [(9101, 500, 1, 2), (9102, 500, 2, 2), (9103, 500, 3, 3), (9104, 500, 1, 3),
                 (9105, 501, 1, 2), (9106, 501, 3, 2)]
        sql("".join(f"INSERT INTO message (id, created, application_id, target_id, priority_id, plan_id,"
                    f" plan_notification_id, incident_id, active, body) VALUES ({m}, UTC_TIMESTAMP(),"
                    f" 1, {t}, {p}, 2, 2, {i}, 1, '');"
                    f"INSERT INTO sender_enqueue (message_id, state, application_id, priority_id,"
                    f" target_id, plan_id) VALUES ({m}, 'enqueued', 1, {p}, {t}, 2);" for m, i, t, p in pages))
        names = {1: "ada", 2: "grace", 3: "linus"}
        prios = {2: "high", 3: "medium"}
        for m, i, t, p in pages:
            print(f"  {DIM}message {m}: incident {i} → {names[t]} at priority {prios[p]}{RESET}")
        # Lanes: the coordinator resolves the lane from the message's likely mode; any lane works,
        # the sender resolves the mode itself.
        lane_of = {9101: "sms", 9102: "call", 9103: "slack", 9104: "email", 9105: "sms", 9106: "slack"}
        for m, *_ in pages:
            sqs.send_message(QueueUrl=queues[lane_of[m]],
                             MessageBody=json.dumps({"v": 1, "kind": "message", "message_id": m}))
        ok(f"{len(pages)} envelopes on the sms, call, slack and email lanes")

        step("incident 501 is claimed by linus before its pages go out")
        sql("UPDATE incident SET active = 0, owner_id = 3 WHERE id = 501;"
            "UPDATE message SET active = 0 WHERE incident_id = 501;")
        ok("incident 501 claimed")

        step("event source mappings → iris-sender bootstrap (fake Runtime API), one batch per lane")
        bootstrap = os.path.join(BUILD, "lambda", "sender", "iris-sender")
        env = {"IRIS_CONFIG_JSON": json.dumps(cfg), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "IRIS_LOG_LEVEL": "warn"}
        with FakeRuntime() as rt:
            batches = []
            for lane in lanes:
                got = sqs.receive_message(QueueUrl=queues[lane], MaxNumberOfMessages=10,
                                          WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
                if not got:
                    continue
                arn = sqs.get_queue_attributes(QueueUrl=queues[lane], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                event = {"Records": [{"messageId": g["MessageId"], "receiptHandle": g["ReceiptHandle"],
                                      "body": g["Body"], "attributes": g.get("Attributes", {}),
                                      "messageAttributes": {}, "eventSource": "aws:sqs",
                                      "eventSourceARN": arn, "awsRegion": "us-east-1"} for g in got]}
                batches.append((lane, got, rt.add_event(event, timeout_ms=60000)))
            proc = rt.run_bootstrap(bootstrap, env=env)
            if rt.init_error:
                fail(f"sender init error: {rt.init_error['json']}")
            for lane, got, rid in batches:
                res = rt.results[rid]["json"]
                failed = {f["itemIdentifier"] for f in res.get("batchItemFailures", [])}
                for g in got:
                    if g["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=queues[lane], ReceiptHandle=g["ReceiptHandle"])
                ok(f"lane {lane}: {len(got)} record(s), {len(failed)} to retry")
            for line in proc.err.splitlines():
                if line.startswith("{"):
                    entry = json.loads(line)
                    print(f"  {DIM}log {entry['level']} {entry['module']}: {entry['msg']}{RESET}")

        step("timeline: who was paged, how and when")
        rows = sql("SELECT m.id, m.incident_id, t.name, IFNULL(mo.name, '-'), IFNULL(m.destination, '-'),"
                   " IFNULL(DATE_FORMAT(m.sent, '%H:%i:%s'), '-'), IFNULL(c.state, '-'), IFNULL(c.vendor, '-'),"
                   " IFNULL(c.vendor_message_id, '-'), IFNULL(c.last_error, '') FROM message m"
                   " JOIN target t ON t.id = m.target_id LEFT JOIN mode mo ON mo.id = m.mode_id"
                   " LEFT JOIN sender_claim c ON c.claim_key = CONCAT('m:', m.id)"
                   " WHERE m.incident_id IN (500, 501) ORDER BY m.id")
        print(f"  {'msg':>5} {'inc':>4} {'who':6} {'mode':6} {'destination':22} {'sent':8} {'outcome':10} vendor / id")
        for mid, inc, who, mode, dest, at, state, vendor, vid, why in rows:
            colour = GREEN if state == "sent" else RED
            detail = f"{vendor} {vid[:40]}" if state == "sent" else why
            print(f"  {mid:>5} {inc:>4} {who:6} {mode:6} {dest:22} {at:8} {colour}{state:10}{RESET} {detail}")
        sent_count = sum(1 for r in rows if r[6] == "sent")
        if sent_count != 4 or any(r[6] != "suppressed" for r in rows if r[1] == "501"):
            fail("unexpected delivery outcomes")

        step("what the vendors received")
        for mail in smtp.messages:
            m = mail["message"]
            print(f"  email  to {', '.join(mail['rcpt_tos'])}: {m['Subject']}")
        for req in fakes.requests():
            body = req["body"] or {}
            if req["route"] == "twilio.sms":
                print(f"  sms    to {body.get('To')}: {body.get('Body')}")
            elif req["route"] == "twilio.call":
                print(f"  call   to {body.get('To')}: TwiML {body.get('Url', '')[:70]}…")
            elif req["route"] == "slack":
                print(f"  slack  to {body.get('channel')}: {body.get('text')} (+ claim buttons)")
        if fakes.violations():
            fail(f"vendor contract violations: {fakes.violations()}")
        ok("every request matched the vendors' documented contracts")


def main():
    t0 = time.monotonic()
    step(f"database '{DB}': Iris schema, sender migrations, demo data")
    db_sh("drop")
    for cmd in ("load-iris", "migrate", "demo"):
        db_sh(cmd)
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
    queue = aws("sqs").create_queue(QueueName="iris-demo-smoke")["QueueUrl"]
    ok(queue)

    cfg_dir = os.path.join(BUILD, "demo")
    os.makedirs(cfg_dir, exist_ok=True)
    cfg_path = os.path.join(cfg_dir, "config.json")
    cfg = {"db": {"host": os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"),
                  "port": int(os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")),
                  "user": "secretsmanager:iris-demo/db#user", "database": DB},
           "aws": {"region": "us-east-1", "endpoint": ENDPOINT},
           "queues": {"smoke": queue},
           "metrics": {"namespace": "Iris/Demo"},
           "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
           "log": {"level": "info"}}
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)

    step("iris-smoke bootstrap through the fake Lambda Runtime API")
    with FakeRuntime() as rt:
        ids = [rt.add_event({"demo": "smoke", "n": i}, timeout_ms=15000) for i in range(2)]
        proc = rt.run_bootstrap(os.path.join(BUILD, "lambda", "smoke", "iris-smoke"),
                                env={"IRIS_CONFIG": cfg_path})
        if rt.init_error:
            fail(f"init error: {rt.init_error['json']}")
        logs = [json.loads(l) for l in proc.err.splitlines() if l.startswith("{")]
        for l in logs:
            print(f"  {DIM}log  {l.get('level')}  {l.get('module')}: {l.get('msg')}{RESET}")
        metrics = [json.loads(l) for l in proc.out.splitlines() if l.startswith("{")]
        for rid in ids:
            r = rt.results.get(rid)
            if not r or r["kind"] != "response":
                fail(f"invocation {rid}: {r and r['json']}")
            d = r["json"]["database"]
            ok(f"invocation {rid[:8]}: {d['applications']} applications, {d['users']} users, "
               f"{d['plans']} plans, {d['template_contents']} templates; queue round trip "
               f"{r['json']['queue']['message_id'][:8]}…; {r['json']['remaining_ms']} ms left")
        plugins = rt.results[ids[0]]["json"]["plugins"]
        ok("plugins loaded: " + ", ".join(f"{p['name']} {p['version']} ({'/'.join(p['modes'])}, "
                                          f"{p['load_us']} µs)" for p in plugins["loaded"]))
        for r in plugins["rejected"]:
            fail(f"plugin rejected: {r}")
        for m in metrics:
            names = [x["Name"] for x in m["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            ok(f"EMF metrics line: {', '.join(f'{n}={m[n]}' for n in names)}")
        if proc.returncode != 0:
            fail(f"bootstrap exited {proc.returncode}")
    deliver_pages(cfg)
    print(f"{BOLD}{GREEN}demo finished in {time.monotonic() - t0:.1f} s{RESET}")


if __name__ == "__main__":
    main()
