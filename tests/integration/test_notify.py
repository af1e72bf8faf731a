"""The notify function (lambda/notify) as a real process driven by the fake Lambda Runtime API
with API Gateway events (REST proxy v1 and HTTP API v2), against MariaDB (Iris's schema, the
migrations, the demo data) and SQS (moto): Iris's application HMAC (compared with a Python
port of Iris's own check on generated requests), Iris's validation texts and status codes,
single and multi-recipient notifications, quotas, idempotent retries, status lookups across
a notification's life (the real sender bootstrap delivers what notify enqueued), and Twilio's
status callbacks (signatures compared with Twilio's own helper library, the retry-once rule).
"""
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
import uuid

import irisstack as stack
import pytest
from fake_runtime import FakeRuntime
from twilio.request_validator import RequestValidator

SRC, BUILD, ENDPOINT = stack.SRC, stack.BUILD, stack.AWS_ENDPOINT
NOTIFY = stack.bootstrap("notify")
CLI = os.path.join(BUILD, "lambda", "tools", "iris-notify-cli")
SENDER = stack.bootstrap("sender")
AWS_ENV = stack.AWS_TEST_ENV
APP, KEY = "Autoalerts", "a1f3c5e7b9d2f4a6c8e0b2d4f6a8c0e2"
APP2, KEY2A, KEY2B = "batchjobs", "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", "f0e1d2c3b4a5968778695a4b3c2d1e0f"
SMS_TOKEN, CALL_TOKEN = "sms-token-0123456789abcdef", "call-token-fedcba9876543210"
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
sql = stack.sql


# ---- Iris's HMAC, as Iris's api.py AuthMiddleware computes and checks it -------------------

def iris_digest(key, window, method, path, body, username=None):
    text = f"{window} {method} {path} {body}"
    if username:
        text += f" {username}"
    return base64.urlsafe_b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha512).digest()).decode()


def iris_accepts(keys, method, path, body, client_digest, now):
    """Iris's check: either key, four windows (5 s and 30 s, current and previous)."""
    for key in keys:
        if not key:
            continue
        for window in (now // 5, now // 5 - 1, now // 30, now // 30 - 1):
            if hmac.compare_digest(client_digest.encode(), iris_digest(key, window, method, path, body).encode()):
                return True
    return False


def auth(app, key, method, path, body, window=None):
    window = int(time.time()) // 5 if window is None else window
    return f"hmac {app}:{iris_digest(key, window, method, path, body)}"


# ---- API Gateway events ----------------------------------------------------------------------

def apigw(method, path, body="", headers=None, version=1, b64=False, stage="prod"):
    headers = dict(headers or {})
    raw = body.encode() if isinstance(body, str) else body
    text = base64.b64encode(raw).decode() if b64 else raw.decode()
    if version == 2:
        return {"version": "2.0", "routeKey": f"{method} {path}", "rawPath": f"/{stage}{path}",
                "rawQueryString": "", "headers": {k.lower(): v for k, v in headers.items()} | {"host": DOMAIN},
                "requestContext": {"domainName": DOMAIN, "stage": stage,
                                   "http": {"method": method, "path": f"/{stage}{path}"}},
                "body": text, "isBase64Encoded": b64}
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers | {"Host": DOMAIN},
            "multiValueHeaders": {}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None,
            "requestContext": {"domainName": DOMAIN, "stage": stage, "path": f"/{stage}{path}"},
            "body": text, "isBase64Encoded": b64}


def post(doc, app=APP, key=KEY, version=1, idem=None, window=None, raw=None, extra=None):
    body = raw if raw is not None else json.dumps(doc)
    h = {"Authorization": auth(app, key, "POST", "/v0/notifications", body, window),
         "Content-Type": "application/json"}
    if idem:
        h["Idempotency-Key"] = idem
    h.update(extra or {})
    return apigw("POST", "/v0/notifications", body, h, version)


def get(nid, app=APP, key=KEY, version=1):
    path = f"/v0/notifications/{nid}"
    return apigw("GET", path, "", {"Authorization": auth(app, key, "GET", path, "")}, version)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notify")
    with stack.iris_db("iris_notify") as db:
        sqs = stack.aws_client("sqs")
        suffix = uuid.uuid4().hex[:6]
        queues = stack.create_queues(sqs, lambda lane: f"iris-{lane}-{suffix}")
        record = tmp / "sent.jsonl"
        dummy = lambda tag: [{"plugin": "dummy", "name": f"dummy-{tag}", "config": {"record_file": str(record)}}]
        notify_cfg = stack.config(db, queues, notify={"max_targets": 5, "max_body_bytes": 20000}, vendors={
            "sms": [{"plugin": "twilio", "name": "twilio-sms", "config": {"account_sid": "AC1", "auth_token": SMS_TOKEN}}],
            "call": [{"plugin": "twilio", "name": "twilio-call",
                      "config": {"account_sid": "AC1", "auth_token": CALL_TOKEN}}]})
        sender_cfg = stack.config(db, queues, plugins=True,
                                  sender={"backoff_base_seconds": 7, "max_attempts": 2, "lease_seconds": 60},
                                  vendors={m: dummy(m) for m in stack.MODE_LANES})
        yield {"db": db, "sqs": sqs, "queues": queues, "record": record, "notify": notify_cfg,
               "sender": sender_cfg, "suffix": suffix}


def invoke(env, *events):
    """Run the notify bootstrap over the events; the proxy responses, with bodies parsed."""
    with FakeRuntime() as rt:
        ids = [rt.add_event(e) for e in events]
        proc = rt.run_bootstrap(NOTIFY, env=stack.function_env(env["notify"]))
        assert rt.init_error is None, (rt.init_error, proc.err)
        assert proc.returncode == 0, proc.err
        out = []
        for i in ids:
            r = rt.results[i]
            assert r["kind"] == "response", (r, proc.err)
            resp = r["json"]
            resp["doc"] = json.loads(resp["body"]) if resp["body"] else None
            out.append(resp)
        env["log"] = proc.err
        return out


def drain(env):
    """Every envelope waiting on the notifications lane (removed from the queue)."""
    return stack.drain(env["sqs"], env["queues"]["notifications"])


def deliver(env, envelopes):
    """Hand envelopes to the real sender bootstrap as one SQS event of the notifications lane."""
    arn = stack.queue_arn(f"iris-notifications-{env['suffix']}")
    ev = {"Records": [stack.sqs_record(b, arn, receipt_handle=f"rh-{i}") for i, b in enumerate(envelopes)]}
    with FakeRuntime() as rt:
        rid = rt.add_event(ev)
        proc = rt.run_bootstrap(SENDER, env=stack.function_env(env["sender"]))
        assert proc.returncode == 0, proc.err
        return rt.results[rid]["json"]


def sent(env):
    if not env["record"].exists():
        return []
    return [json.loads(line) for line in env["record"].read_text().splitlines()]


# ---- accepted requests --------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_single_target_enqueued_and_delivered_with_status(env, version):
    drain(env)
    doc = {"role": "user", "target": "ada", "subject": "wake up", "body": f"fire v{version}",
           "priority": "high", "mode": "email", "unknown_field": "ignored as Iris ignores it"}
    [r] = invoke(env, post(doc, version=version))
    assert r["statusCode"] == 200 and r["body"] == "[]", r
    nid = r["headers"]["X-Iris-Notification-Id"]
    assert r["headers"]["Location"] == f"/v0/notifications/{nid}"
    [envl] = drain(env)
    # whitelisted fields only; priority overrides mode, as in Iris
    assert envl == {"v": 1, "kind": "notification", "notification_id": nid, "application": APP,
                    "role": "user", "target": "ada", "priority": "high", "subject": "wake up",
                    "body": f"fire v{version}"}
    [st] = invoke(env, get(nid, version=version))
    assert st["statusCode"] == 200 and st["doc"]["targets"] == [
        {"role": "user", "target": "ada", "state": "queued", "recipients": []}]
    assert deliver(env, [envl]) == {"batchItemFailures": []}
    assert any(s.get("body", "").startswith(f"fire v{version}") or f"fire v{version}" in json.dumps(s)
               for s in sent(env))
    [st] = invoke(env, get(nid, version=version))
    [t] = st["doc"]["targets"]
    assert t["state"] == "sent", t
    [rec] = t["recipients"]
    assert rec["state"] == "sent" and rec["mode"] and rec["vendor"].startswith("dummy-") and rec["time"] > 0


def test_multi_recipient_one_envelope_per_target(env):
    drain(env)
    doc = {"target_list": [{"role": "literal_target", "target": "list@example.com"},
                           {"role": "user", "target": "grace", "bcc": True},
                           {"role": "user", "target": "nobody-such"}],
           "subject": "s", "body": "b", "mode": "email"}
    [r] = invoke(env, post(doc))
    assert r["statusCode"] == 200, r
    nid = r["headers"]["X-Iris-Notification-Id"]
    envs = sorted(drain(env), key=lambda e: e["notification_id"])
    assert [(e["notification_id"], e["role"], e["target"], e["mode"]) for e in envs] == [
        (f"{nid}.0", "literal_target", "list@example.com", "email"), (f"{nid}.1", "user", "grace", "email")]
    assert deliver(env, envs) == {"batchItemFailures": []}
    [st] = invoke(env, get(nid))
    states = [(t["target"], t["state"]) for t in st["doc"]["targets"]]
    assert states == [("list@example.com", "sent"), ("grace", "sent"), ("nobody-such", "dropped")]
    assert "INVALID role:target" in st["doc"]["targets"][2]["reason"]


def test_status_shows_refusal_and_failure(env):
    """The real sender refuses a target gone between the POST and the delivery, and fails
    for good on a vendor's permanent error: the status lookup says so, with the reasons."""
    drain(env)
    sql(env["db"], "UPDATE target SET active = 1 WHERE name = 'wei'")
    [r] = invoke(env, post({"role": "user", "target": "wei", "subject": "s", "body": "refused", "mode": "email"}))
    refused = r["headers"]["X-Iris-Notification-Id"]
    [e1] = drain(env)
    sql(env["db"], "UPDATE target SET active = 0 WHERE name = 'wei'")
    try:
        deliver(env, [e1])
    finally:
        sql(env["db"], "UPDATE target SET active = 1 WHERE name = 'wei'")
    [r] = invoke(env, post({"role": "literal_target", "target": "#ops", "subject": "s", "body": "fails",
                            "mode": "slack"}))
    failed = r["headers"]["X-Iris-Notification-Id"]
    [e2] = drain(env)
    saved = env["sender"]
    env["sender"] = dict(saved, vendors=dict(saved["vendors"], slack=[
        {"plugin": "dummy", "name": "dummy-slack-down", "config": {"fail": "permanent"}}]))
    try:
        deliver(env, [e2])
    finally:
        env["sender"] = saved
    [r] = invoke(env, post({"role": "literal_target", "target": "#later", "subject": "s", "body": "retried",
                            "mode": "slack"}))
    retried = r["headers"]["X-Iris-Notification-Id"]
    [e3] = drain(env)
    env["sender"] = dict(saved, vendors=dict(saved["vendors"], slack=[
        {"plugin": "dummy", "name": "dummy-slack-busy", "config": {"fail": "retryable"}}]))
    try:
        res = deliver(env, [e3])
    finally:
        env["sender"] = saved
    assert res["batchItemFailures"], res  # SQS will bring it back
    a, b, c = invoke(env, get(refused), get(failed), get(retried))
    [t] = c["doc"]["targets"]
    assert t["state"] == "sending" and t["recipients"][0]["state"] == "sending", t
    [t] = a["doc"]["targets"]
    assert t["state"] == "refused" and "INVALID role:target" in t["reason"], t
    [t] = b["doc"]["targets"]
    assert t["state"] == "failed", t
    [rec] = t["recipients"]
    assert rec["state"] == "failed" and rec["reason"], rec


def test_status_only_for_the_owning_application(env):
    [r] = invoke(env, post({"role": "user", "target": "ada", "subject": "s", "body": "mine", "mode": "email"}))
    nid = r["headers"]["X-Iris-Notification-Id"]
    drain(env)
    other, missing = invoke(env, get(nid, app=APP2, key=KEY2A), get(str(uuid.uuid4())))
    assert other["statusCode"] == 404 and missing["statusCode"] == 404


def test_idempotent_retry_enqueued_once(env):
    drain(env)
    doc = {"role": "user", "target": "ada", "subject": "s", "body": "once", "mode": "email"}
    key = f"k-{uuid.uuid4().hex}"
    first, again = invoke(env, post(doc, idem=key), post(doc, idem=key, version=2))
    assert first["statusCode"] == again["statusCode"] == 200
    assert first["headers"]["X-Iris-Notification-Id"] == again["headers"]["X-Iris-Notification-Id"]
    assert len(drain(env)) == 1
    [reuse] = invoke(env, post(dict(doc, body="other"), idem=key))
    assert reuse["statusCode"] == 409 and reuse["doc"]["title"] == "Idempotency-Key reused"
    assert drain(env) == []


def test_enqueue_failure_then_retry_with_key(env):
    """SQS refuses: 500 and nothing on the queue; the retry with the same key enqueues it."""
    drain(env)
    doc = {"role": "user", "target": "ada", "subject": "s", "body": "later", "mode": "email"}
    key = f"k-{uuid.uuid4().hex}"
    broken = dict(env["notify"], queues=dict(env["queues"], notifications=env["queues"]["notifications"] + "-gone"))
    saved, env["notify"] = env["notify"], broken
    try:
        [r] = invoke(env, post(doc, idem=key))
    finally:
        env["notify"] = saved
    assert r["statusCode"] == 500 and r["doc"] == {"title": "Failed reaching any senders"}
    [r2] = invoke(env, post(doc, idem=key))
    assert r2["statusCode"] == 200
    assert [e["body"] for e in drain(env)] == ["later"]


# ---- rejections: Iris's texts and codes ----------------------------------------------------------

BASE = {"role": "user", "target": "ada", "subject": "s", "body": "b", "mode": "email"}
REJECTIONS = [
    ({"target": "ada", "body": "b", "mode": "email"}, 400, "Missing required atrributes", "role, subject"),
    ({"target_list": [{"role": "user", "target": "ada"}], "body": "b", "mode": "email"}, 400,
     "Missing required atrributes: subject", None),
    ({"target_list": [{"role": "user"}], "subject": "s", "body": "b", "mode": "email"}, 400, "Malformed target list", None),
    ({"target_list": [{"role": "user", "target": "ada"}], "subject": "s", "body": "b"}, 400,
     "Contact mode required for target list", None),
    ({"target_list": [{"role": "user", "target": "ada"}], "subject": "s", "body": "b", "mode": "sms"}, 400,
     "Invalid mode", "sms"),
    ({"target_list": [{"role": "user", "target": "ada"}] * 6, "subject": "s", "body": "b", "mode": "email"}, 400,
     "Too many targets", "a target_list holds at most 5 targets"),
    (dict(BASE, mode=None) | {"priority": "bogus"}, 400, "Invalid priority", "bogus"),
    (dict(BASE, mode="carrier-pigeon"), 400, "Invalid mode", "carrier-pigeon"),
    ({k: v for k, v in BASE.items() if k != "mode"} | {"category": "nope"}, 400,
     "No category named nope exists for this app", None),
    ({k: v for k, v in BASE.items() if k != "mode"}, 400,
     "Priority, mode, and category are missing, at least one is required", None),
    ({"role": "literal_target", "target": "x@y", "subject": "s", "body": "b", "priority": "high"}, 400,
     "INVALID mode not set for literal_target role", None),
    ({"role": "literal_target", "target": "x@y", "subject": "s", "body": "b", "priority": "high", "mode": "email"},
     400, "INVALID role literal_target does not support priority or category", None),
    (dict(BASE, body=None, template=5), 400, "template needs to be a string", None),
    (dict(BASE, body=5), 400, "body needs to be a string", None),
    ({k: v for k, v in BASE.items() if k != "body"} | {"email_html": 5}, 400, "email_html needs to be a string", None),
    ({k: v for k, v in BASE.items() if k != "body"}, 400,
     "body, template, and email_html are missing, so we cannot construct message.", None),
    (dict(BASE, target="nobody-such"), 400, "Request rejected by sender", "INVALID role:target"),
    (dict(BASE, role="team", target="ada"), 400, "Request rejected by sender", "INVALID role:target"),
    (dict(BASE, body=None, template="t"), 400, "Request rejected by sender", "INVALID context"),
    (dict(BASE, subject="x" * 300), 400, "Invalid request", "envelope: field 'subject' is longer than 255 characters"),
]


@pytest.mark.parametrize("doc,status,title,desc", REJECTIONS)
def test_rejection_texts(env, doc, status, title, desc):
    doc = {k: v for k, v in doc.items() if v is not None}
    drain(env)
    [r] = invoke(env, post(doc))
    assert r["statusCode"] == status, r
    assert r["doc"]["title"] == title
    if desc is not None:
        assert r["doc"]["description"] == desc
    assert drain(env) == []


# The requests Iris's own end-to-end tests post (Iris's test/e2etest.py,
# test_post_invalid_notification / test_post_notification), with what Iris expects of each.
E2E = [
    ({}, 400, "title", "Missing required atrributes"),
    ({"role": "user", "target": "ada", "subject": "test", "body": "foo"}, 400, "title",
     "Priority, mode, and category are missing, at least one is required"),
    ({"role": "user", "target": "ada", "subject": "test", "priority": "fakepriority", "body": "foo"}, 400,
     "title", "Invalid priority"),
    ({"role": "user", "target": "ada", "subject": "test", "mode": "fakemode", "body": "foo"}, 400, "title",
     "Invalid mode"),
    ({"role": "user", "target": "ada", "subject": "test", "priority": "low"}, 400, "title",
     "body, template, and email_html are missing, so we cannot construct message."),
    ({"role": "fakerole", "target": "ada", "subject": "test", "priority": "low", "body": "foo"}, 400,
     "description", "INVALID role:target"),
    ({"role": "user", "target": "fakeuser", "subject": "test", "priority": "low", "body": "foo"}, 400,
     "description", "INVALID role:target"),
    ({"role": "literal_target", "target": "sample_mailinglist@email.com", "subject": "test", "priority": "low",
      "body": "foo"}, 400, "title", "INVALID mode not set for literal_target role"),
    ({"role": "literal_target", "target": "sample_mailinglist@email.com", "subject": "test", "mode": "email",
      "priority": "low", "email_html": "foobar", "body": ""}, 400, "title",
     "INVALID role literal_target does not support priority or category"),
    ({"mode": "email", "role": "user", "target": "ada", "subject": "test", "email_html": ["foo"]}, 400, "title",
     "email_html needs to be a string"),
    ({"role": "user", "target": "ada", "subject": "test", "priority": "low", "body": "foo"}, 200, None, None),
    ({"role": "user", "target": "ada", "subject": "test", "priority": "low", "mode": "email",
      "email_html": "foobar"}, 200, None, None),
    ({"role": "user", "target": "ada", "subject": "test", "priority": "low", "mode": "email",
      "email_html": "foobar", "body": ""}, 200, None, None),
    ({"role": "literal_target", "target": "sample_mailinglist@email.com", "subject": "test", "mode": "email",
      "email_html": "foobar", "body": ""}, 200, None, None),
    ({"target_list": [{"role": "user", "target": "ada"}, {"role": "team", "target": "storage-oncall"},
                      {"role": "literal_target", "target": "foobar@example.com", "bcc": True}],
      "subject": "test", "mode": "email", "body": "foo"}, 200, None, None),
]


def test_iris_end_to_end_requests(env):
    drain(env)
    got = invoke(env, *[post(doc) for doc, *_ in E2E])
    for (doc, status, field, text), r in zip(E2E, got):
        assert r["statusCode"] == status, (doc, r)
        if status == 200:
            assert r["body"] == "[]"
        else:
            assert r["doc"][field] == text, (doc, r["doc"])
    # every accepted envelope passes the sender's own parser: priority won over mode
    envs = drain(env)
    assert len(envs) == 4 + 3
    assert all("mode" not in e for e in envs if "priority" in e)


def test_bad_bodies(env):
    big = json.dumps(dict(BASE, body="x" * 30000))
    r1, r2, r3, r4 = invoke(env, post(None, raw="{not json"), post(None, raw="[1]"), post(None, raw=big),
                            apigw("POST", "/v0/notifications", "x" * 40000, {}, b64=True))
    assert r1["statusCode"] == 400 and r1["doc"]["title"] == "Invalid JSON"
    assert r2["statusCode"] == 400 and r2["doc"]["description"] == "the body must be a JSON object"
    assert r3["statusCode"] == 413 and r4["statusCode"] == 413
    assert r3["doc"]["title"] == "Request body too large"


# ---- authentication ----------------------------------------------------------------------------

def test_auth_failures(env):
    body = json.dumps(dict(BASE, body="auth"))
    now = int(time.time())
    stale = now // 30 - 3
    h_missing = apigw("POST", "/v0/notifications", body, {})
    h_unknown = post(None, app="no-such-app", raw=body)
    h_stale = post(None, raw=body, window=stale)
    h_wrongkey = post(None, key="0" * 32, raw=body)
    h_user = post(None, raw=body, extra={"X-IRIS-USERNAME": "ada"})
    replay = post(None, raw=json.dumps(dict(BASE, body="replayed")))
    rs = invoke(env, h_missing, h_unknown, h_stale, h_wrongkey, h_user, replay, replay)
    assert [r["statusCode"] for r in rs] == [401, 401, 401, 401, 401, 200, 401]
    assert rs[0]["doc"] == {"title": "Authentication failure",
                            "description": "Malformed/missing HMAC authorization header"}
    assert rs[2]["doc"]["description"] == "HMAC failed validation. Check API key/clock skew"
    assert rs[4]["doc"]["title"] == "This application does not have the power to authenticate usernames"
    assert rs[6]["doc"]["description"] == "replayed signature"
    drain(env)


def test_hmac_agrees_with_iris_on_generated_requests(env):
    """Generated requests signed with a random key, window and body: the bootstrap lets
    through exactly those Iris's own check (ported above) accepts."""
    rnd = random.Random(1313)
    now = int(time.time())
    if now % 5 == 4:  # keep every request inside the window the expectation was computed for
        time.sleep(1.2)
        now = int(time.time())
    cases, expect = [], []
    for i in range(40):
        app, keys = rnd.choice([(APP, [KEY, None]), (APP2, [KEY2A, KEY2B])])
        key = rnd.choice(keys[:1] + [k for k in keys if k] + ["wrong-key-" + str(i)])
        window = rnd.choice([now // 5, now // 5 - 1, now // 5 - 2, now // 30, now // 30 - 1, now // 30 - 2, now // 5 + 1])
        body = json.dumps(dict(BASE, subject="s%d" % i, body="".join(rnd.choice("aé€😀 \n\"\\") for _ in range(rnd.randint(0, 40)))),
                          ensure_ascii=rnd.random() < 0.5)
        digest = iris_digest(key, window, "POST", "/v0/notifications", body)
        expect.append(iris_accepts(keys, "POST", "/v0/notifications", body, digest, now))
        ev = apigw("POST", "/v0/notifications", body, {"Authorization": f"hmac {app}:{digest}"},
                   version=rnd.choice([1, 2]), b64=rnd.random() < 0.3)
        cases.append(ev)
    got = [r["statusCode"] != 401 for r in invoke(env, *cases)]
    assert got == expect
    assert any(expect) and not all(expect)
    drain(env)


# ---- quotas ------------------------------------------------------------------------------------

def test_hard_quota_drops_before_enqueueing(env):
    drain(env)
    # batchjobs: hard limit 120 per 10 minutes; fill its counter as the sender would have
    sql(env["db"], "INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket, hits)"
                   " VALUES ('application', 3, 0, UTC_TIMESTAMP() - INTERVAL SECOND(UTC_TIMESTAMP()) SECOND, 120)"
                   " ON DUPLICATE KEY UPDATE hits = 120")
    [r] = invoke(env, post(dict(BASE, body="over quota"), app=APP2, key=KEY2B))
    assert r["statusCode"] == 200 and r["body"] == "[]"  # Iris answered OK and its sender dropped it
    nid = r["headers"]["X-Iris-Notification-Id"]
    assert drain(env) == []
    [st] = invoke(env, get(nid, app=APP2, key=KEY2A))
    [t] = st["doc"]["targets"]
    assert t["state"] == "dropped" and "hard limit 120" in t["reason"]


# ---- the command-line tool and the Python example --------------------------------------------

def test_cli_submit_and_status(env, tmp_path):
    drain(env)
    req = tmp_path / "n.json"
    req.write_text(json.dumps(dict(BASE, body="from the cli")))
    run = lambda *a: subprocess.run([CLI, *a], capture_output=True, text=True, timeout=60,
                                    env=dict(os.environ, IRIS_CONFIG_JSON=json.dumps(env["notify"]), **AWS_ENV))
    r = run("submit", "--app", APP, "--idempotency-key", "cli-1", str(req))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == 200 and out["answer"] == []
    r2 = run("submit", "--app", APP, "--idempotency-key", "cli-1", str(req))
    assert json.loads(r2.stdout)["id"] == out["id"]
    assert [e["body"] for e in drain(env)] == ["from the cli"]
    st = json.loads(run("status", "--app", APP, out["id"]).stdout)
    assert st["status"] == 200 and st["answer"]["targets"][0]["state"] == "queued"
    bad = run("submit", "--app", APP, "-")
    assert bad.returncode == 1 and json.loads(bad.stdout)["status"] == 400


def test_python_example_enqueues_and_sender_delivers(env):
    drain(env)
    r = subprocess.run([sys.executable, os.path.join(SRC, "examples", "enqueue_notification.py"),
                        "--queue-url", env["queues"]["notifications"], "--endpoint-url", ENDPOINT,
                        "--application", APP, "--role", "user", "--target", "wei", "--mode", "email",
                        "--subject", "hello", "--body", "from boto3"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, **AWS_ENV))
    assert r.returncode == 0, r.stderr
    nid = r.stdout.strip()
    [e] = drain(env)
    assert e["notification_id"] == nid and e["body"] == "from boto3"
    assert deliver(env, [e]) == {"batchItemFailures": []}
    assert sql(env["db"], f"SELECT state FROM sender_claim WHERE notification_id = '{nid}'") == [["sent"]]


# ---- Twilio status callbacks -----------------------------------------------------------------

def twilio_event(route, params, token, version=1, forge=False, sign=True):
    url = f"https://{DOMAIN}/prod{route}"
    sig = RequestValidator(token).compute_signature(url, params)
    if forge:
        sig = sig[:-2] + ("A=" if sig[-2] != "A" else "B=")
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        h["X-Twilio-Signature"] = sig
    return apigw("POST", route, urllib.parse.urlencode(params), h, version)


def test_twilio_signatures_agree_with_twilio_library(env):
    """Generated callbacks signed by Twilio's RequestValidator pass; the same with one
    parameter changed, a forged or missing signature, or the other account's token fail."""
    rnd = random.Random(77)
    sql(env["db"], "INSERT INTO message (id, created, application_id, target_id, priority_id, body)"
                   " VALUES (7001, UTC_TIMESTAMP(), 1, 1, 2, 'sig');"
                   "INSERT INTO twilio_delivery_status (twilio_sid, message_id) VALUES ('SMsig', 7001)")
    events, expect = [], []
    for i in range(30):
        params = {"MessageSid": "SMsig", "MessageStatus": rnd.choice(["sent", "delivered", "queued"])}
        for j in range(rnd.randint(0, 6)):
            name = rnd.choice(["To", "From", "AccountSid", "ApiVersion", "Body", "ErrorCode", "x_é", "Z z"])
            params[name] = "".join(rnd.choice("ab +&=%é😀/?") for _ in range(rnd.randint(0, 12)))
        route = rnd.choice(["/v0/twilio/messages/status", "/v0/twilio/calls/status"])
        token = rnd.choice([SMS_TOKEN, CALL_TOKEN])
        kind = rnd.choice(["good", "good", "forged", "missing", "wrong-token"])
        if kind == "wrong-token":
            token = "not-our-token"
        events.append(twilio_event(route, params, token, version=rnd.choice([1, 2]),
                                   forge=kind == "forged", sign=kind != "missing"))
        expect.append(204 if kind == "good" else 403)
    got = [r["statusCode"] for r in invoke(env, *events)]
    assert got == expect
    assert sql(env["db"], "SELECT status IS NOT NULL FROM twilio_delivery_status WHERE twilio_sid = 'SMsig'") == [["1"]]


def test_twilio_public_url(env):
    """Behind a custom domain Twilio signs the URL it called: notify.public_url."""
    params = {"MessageSid": "SMsig", "MessageStatus": "delivered"}
    sig = RequestValidator(SMS_TOKEN).compute_signature("https://iris.example.com/v0/twilio/messages/status", params)
    ev = apigw("POST", "/v0/twilio/messages/status", urllib.parse.urlencode(params), {"X-Twilio-Signature": sig})
    saved = env["notify"]
    env["notify"] = dict(saved, notify=dict(saved["notify"], public_url="https://iris.example.com"))
    try:
        good, default_url = invoke(env, ev, twilio_event("/v0/twilio/messages/status", params, SMS_TOKEN))
    finally:
        env["notify"] = saved
    assert good["statusCode"] == 204 and default_url["statusCode"] == 403


def test_twilio_failed_retries_exactly_once(env):
    sql(env["db"], "INSERT INTO message (id, created, application_id, target_id, priority_id, body, incident_id)"
                   " VALUES (7101, UTC_TIMESTAMP(), 1, 1, 2, 'page me', NULL);"
                   "INSERT INTO twilio_delivery_status (twilio_sid, message_id) VALUES ('CAfail', 7101)")
    fail = {"CallSid": "CAfail", "CallStatus": "failed", "AccountSid": "AC1"}
    r = invoke(env, twilio_event("/v0/twilio/calls/status", fail, CALL_TOKEN),
               twilio_event("/v0/twilio/calls/status", fail, CALL_TOKEN, version=2))
    assert [x["statusCode"] for x in r] == [204, 204]
    rows = sql(env["db"], "SELECT r.retry_id, m.body, m.target_id FROM twilio_retry r JOIN message m"
                          " ON m.id = r.retry_id WHERE r.message_id = 7101")
    assert len(rows) == 1 and rows[0][1:] == ["page me", "1"]
    retry = rows[0][0]
    # the retry fails too: it is not retried again
    sql(env["db"], f"INSERT INTO twilio_delivery_status (twilio_sid, message_id) VALUES ('CAretry', {retry})")
    [r] = invoke(env, twilio_event("/v0/twilio/calls/status", {"CallSid": "CAretry", "CallStatus": "failed"}, CALL_TOKEN))
    assert r["statusCode"] == 204
    assert sql(env["db"], "SELECT COUNT(*) FROM twilio_retry") == [["1"]]
    assert sql(env["db"], "SELECT status FROM twilio_delivery_status WHERE twilio_sid = 'CAfail'") == [["failed"]]
    # Iris's answers for bad payloads
    bad, unknown = invoke(env, twilio_event("/v0/twilio/messages/status", {"MessageSid": "SMx"}, SMS_TOKEN),
                          twilio_event("/v0/twilio/messages/status",
                                       {"MessageSid": "SMnone", "MessageStatus": "failed"}, SMS_TOKEN))
    assert bad["statusCode"] == 400 and bad["doc"]["title"] == "Invalid keys in payload"
    assert unknown["statusCode"] == 400 and unknown["doc"]["title"] == "No message id found for SID"


def test_old_requests_pruned(env):
    """Requests older than notify.keep_days go (with their targets) as new POSTs arrive."""
    [r] = invoke(env, post(dict(BASE, body="old one")))
    nid = r["headers"]["X-Iris-Notification-Id"]
    sql(env["db"], f"UPDATE notify_request SET created_at = UTC_TIMESTAMP() - INTERVAL 15 DAY WHERE id = '{nid}'")
    [r2, st] = invoke(env, post(dict(BASE, body="new one")), get(nid))
    assert r2["statusCode"] == 200 and st["statusCode"] == 404
    assert sql(env["db"], f"SELECT COUNT(*) FROM notify_target WHERE request_id = '{nid}'") == [["0"]]
    drain(env)


def test_unknown_route(env):
    [r] = invoke(env, apigw("GET", "/v0/elsewhere", ""))
    assert r["statusCode"] == 404
