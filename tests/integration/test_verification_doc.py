"""docs/verification.md and docs/existing-iris.md run as written: every ```sh block of a page,
in order, in one bash session, and each block's output must equal the ```text block that
follows it. The ```console blocks (preparing a machine, the AWS variant) are not run.

verification.md runs against the local target `scripts/verify.py start` prepares (its own
database and fakes). existing-iris.md runs in a directory laid out like this repository
(build/release, scripts, db and tests point at the real ones, so build/try is its own) against
a MariaDB server of its own, where the database can be called `iris` as on the page; its
$IRIS_SRC stands in for a clone of linkedin/iris: Iris's schema as db/iris/schema.sql copies
it, behind Iris's CREATE SCHEMA, and the rows of Iris's dummy data the page reads.

scripts/verify-notify.py's HTTP mode (what verification.md's step 12 sends on AWS) is checked
against a stand-in for the API that checks signatures as Iris's API does (ported below)."""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid

import irisstack as stack
from fakebase import FakeHandler, FakeServer
from private_mariadb import PrivateMariaDB

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
DOC = os.path.join(SRC, "docs", "verification.md")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```\n", re.M | re.S)


def steps(doc=DOC):
    """[(heading, line, commands, expected or None)] in the order of the page."""
    text = open(doc, encoding="utf-8").read()
    out, heading = [], "Prepare"
    blocks = [(m.start(), m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.M)]
    for i, (pos, lang, body) in enumerate(blocks):
        if lang != "sh":
            continue
        heading = [h for p, h in heads if p < pos][-1]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = nxt[2] if nxt and nxt[1] == "text" else None
        out.append((heading, text.count("\n", 0, pos) + 1, body, expected))
    return out


def run_steps(found, env, cwd, timeout, prologue=()):
    """Run the steps in one bash session; the problems found (empty when the page holds)."""
    # each block runs in the session itself (functions and variables carry over); a failing
    # command is reported through the block's status, which the trap records
    script = ["set -o pipefail", "_rc=0", "trap '_rc=1' ERR", *prologue]
    for i, (_, _, body, _) in enumerate(found):
        script += [f"echo '@@begin {i}'", "_rc=0", body, f"echo \"@@end {i} $_rc\""]
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, capture_output=True, text=True,
                       env=env, timeout=timeout)
    outputs = {int(m.group(1)): (m.group(2), int(m.group(3))) for m in
               re.finditer(r"^@@begin (\d+)\n(.*?)^@@end \1 (\d+)$", p.stdout, re.M | re.S)}
    problems = []
    for i, (heading, line, body, expected) in enumerate(found):
        if i not in outputs:
            problems.append(f"{heading} (line {line}): did not run to its end\n{p.stderr[-3000:]}")
            break
        got, rc = outputs[i]
        if rc:
            problems.append(f"{heading} (line {line}): a command failed\n{got}")
        if expected is not None and got.rstrip() != expected.rstrip():
            problems.append(f"{heading} (line {line}): expected\n{expected}got\n{got}")
    if problems:
        problems.append("stderr:\n" + p.stderr[-4000:])
    return problems


def test_every_step_runs_and_shows_what_the_page_says(tmp_path):
    found = steps()
    assert len(found) >= 16, "docs/verification.md lost its steps"
    d = tmp_path / "verify"
    db = f"iris_verify_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "IRIS_VERIFY_DB": db, "IRIS_BUILD_DIR": BUILD}
    r = subprocess.run(["python3", os.path.join(SRC, "scripts", "verify.py"), "start", str(d)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        problems = run_steps(found, {**env, "IRIS_VERIFY_DIR": str(d), "IRIS_TARGET": "local"}, SRC, 1500)
        assert not problems, "\n\n".join(problems)
    finally:
        subprocess.run(["python3", os.path.join(SRC, "scripts", "verify.py"), "stop", str(d)],
                       env=env, capture_output=True)


# The rows of linkedin/iris db/dummy_data.sql that docs/existing-iris.md's run reads, with Iris's
# ids and values (written out for this test: Iris's file is not part of this repository).
IRIS_DUMMY_ROWS = """
INSERT INTO mode (id, name) VALUES (26, 'call'), (35, 'email'), (17, 'slack'), (8, 'sms'), (36, 'drop');
INSERT INTO priority (id, name, mode_id) VALUES (8, 'urgent', 26), (17, 'high', 8), (26, 'medium', 35),
  (35, 'low', 35);
INSERT INTO target_type (id, name) VALUES (3, 'mailing-list'), (2, 'team'), (1, 'user');
INSERT INTO target_role (id, name, type_id) VALUES (8, 'user', 1), (17, 'manager', 2), (35, 'team', 2),
  (44, 'oncall-primary', 2), (45, 'oncall-secondary', 2);
INSERT INTO application (id, name, `key`, auth_only, allow_other_app_incidents, allow_authenticating_users)
  VALUES (8, 'Autoalerts', 'not-a-real-key', 0, 0, 0);
INSERT INTO application_mode (application_id, mode_id) VALUES (8, 8), (8, 17), (8, 26), (8, 35);
INSERT INTO target (id, name, type_id, active) VALUES (1, 'demo', 1, 1), (4, 'demo_team', 2, 1);
INSERT INTO user (target_id, admin) VALUES (1, 1);
INSERT INTO target_contact (target_id, mode_id, destination) VALUES (1, 8, '+1 223-456-7890'),
  (1, 17, 'demo1'), (1, 26, '+1 223-456-7890'), (1, 35, 'demo1@foo.bar');
INSERT INTO target_mode (target_id, priority_id, mode_id) VALUES (1, 26, 26);
INSERT INTO target_application_mode (target_id, application_id, priority_id, mode_id) VALUES (1, 8, 26, 26);
INSERT INTO template (id, name, created, user_id) VALUES (13, 'test_template', '2017-01-25 15:30:35', 1);
INSERT INTO template_active (name, template_id) VALUES ('test_template', 13);
INSERT INTO template_content (template_id, application_id, mode_id, subject, body) VALUES
  (13, 8, 8, '', 'test_sms'), (13, 8, 17, '', 'test_slack'), (13, 8, 26, '', 'test_call'),
  (13, 8, 35, 'email_subject', 'email_body');
INSERT INTO plan (id, name, created, user_id, team_id, description, step_count, threshold_window,
  threshold_count, aggregation_window, aggregation_reset)
  VALUES (31, 'demo-test-foo', '2017-01-25 23:30:34', 1, NULL, 'Test plan for e2e test', 2, 900, 10, 300, 300);
INSERT INTO plan_active (name, plan_id) VALUES ('demo-test-foo', 31);
INSERT INTO plan_notification (id, plan_id, step, template, target_id, optional, role_id, priority_id,
  `repeat`, wait, dynamic_index) VALUES (25, 31, 1, 'test_template', 4, 0, 44, 17, 1, 300, NULL),
  (26, 31, 1, 'test_template', 4, 0, 35, 35, 0, 600, NULL), (27, 31, 2, 'test_template', 4, 0, 35, 26, 0, 600, NULL),
  (28, 31, 2, 'test_template', 4, 0, 44, 8, 1, 300, NULL);
ALTER TABLE incident AUTO_INCREMENT = 4; -- Iris's file has incidents 1 to 3
"""


def test_existing_iris_page_runs_as_written(tmp_path):
    found = steps(os.path.join(SRC, "docs", "existing-iris.md"))
    assert len(found) >= 8, "docs/existing-iris.md lost its steps"
    joined = "\n".join(body for _, _, body, _ in found)
    for command in ("iris-coordinator --loop", "--clock-scale 60", "iris-sender --worker"):
        assert command in joined, f"docs/existing-iris.md no longer runs {command}"
    # a checkout-like directory whose build/try is this test's own
    work = tmp_path / "work"
    (work / "build").mkdir(parents=True)
    os.symlink(os.path.abspath(BUILD), work / "build" / "release")
    for name in ("scripts", "db", "tests"):
        os.symlink(os.path.abspath(os.path.join(SRC, name)), work / name)
    iris_src = tmp_path / "iris" / "db"
    iris_src.mkdir(parents=True)
    schema = open(os.path.join(SRC, "db", "iris", "schema.sql"), encoding="utf-8").read()
    (iris_src / "schema_0.sql").write_text(
        "CREATE SCHEMA IF NOT EXISTS `iris` DEFAULT CHARACTER SET utf8;\nUSE `iris`;\n" + schema)
    (iris_src / "dummy_data.sql").write_text(IRIS_DUMMY_ROWS)
    sqs = stack.aws_client("sqs")

    def drop_queues():
        for lane in stack.LANES:
            try:
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f"iris-try-{lane}")["QueueUrl"])
            except sqs.exceptions.QueueDoesNotExist:
                pass
    drop_queues()  # the page's queue names are fixed: nothing left from an earlier run
    with PrivateMariaDB() as db:
        env = {**os.environ, "IRIS_SRC": str(tmp_path / "iris"),
               # the page's `mysql -u root`, scripts/db.sh and the functions' db.port, at this server
               "MYSQL_HOST": db.host, "MYSQL_TCP_PORT": str(db.port), "IRIS_DB_PORT": str(db.port),
               "IRIS__DB__PORT": str(db.port)}
        try:
            # background processes the page starts are stopped whatever happens
            problems = run_steps(found, env, str(work), 300,
                                 prologue=["trap 'kill $(jobs -p) 2>/dev/null' EXIT"])
        finally:
            drop_queues()
        logs = "".join(f"\n--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted((work / "build" / "try").glob("*.log")))
        assert not problems, "\n\n".join(problems) + logs


# ---- scripts/verify-notify.py over HTTP --------------------------------------------------------

def iris_api_accepts(keys, method, path, body, auth, now):
    """Iris's API check (src/iris/api.py, AuthMiddleware): 'hmac app:digest', the digest of
    "<window> <METHOD> <path> <body>" under either key for the current or previous 5- or
    30-second window."""
    if not auth.startswith("hmac ") or ":" not in auth:
        return False
    digest = auth[5:].split(":", 1)[1].encode()
    for key in keys:
        for window in (now // 5, now // 5 - 1, now // 30, now // 30 - 1):
            text = f"{window} {method} {path} ".encode() + body
            want = base64.urlsafe_b64encode(hmac.new(key.encode(), text, hashlib.sha512).digest())
            if hmac.compare_digest(digest, want):
                return True
    return False


def test_verify_notify_signs_http_requests_as_iris_client_does():
    key, seen = "a1f3c5e7b9d2f4a6c8e0b2d4f6a8c0e2", []

    class Api(FakeHandler):
        def do_POST(self):
            body = self.body()
            auth = self.headers.get("Authorization", "")
            seen.append({"path": self.path, "auth": auth, "body": body,
                         "ctype": self.headers.get("Content-Type"),
                         "idem": self.headers.get("Idempotency-Key")})
            if not auth.startswith("hmac "):
                return self.send(401, {"title": "Authentication failure",
                                       "description": "Malformed/missing HMAC authorization header"})
            if not iris_api_accepts([key], "POST", self.path, body, auth, int(time.time())):
                return self.send(401, {"title": "Authentication failure",
                                       "description": "HMAC failed validation. Check API key/clock skew"})
            self.send(200, [])

    doc = json.dumps({"role": "user", "target": "linus", "mode": "email", "subject": "s",
                      "body": "é ☃ \"quoted\" \\ line\nbreak"}, ensure_ascii=False)

    def call(*args):
        return subprocess.run(["python3", os.path.join(SRC, "scripts", "verify-notify.py"), "--url", api.url,
                               "--app", "Autoalerts", *args, "POST", "/v0/notifications", doc],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "IRIS_APP_KEY": key})
    with FakeServer(Api) as api:
        ok = call("--idempotency-key", "k-1")
        unsigned, wrong = call("--sign", "none"), call("--sign", "wrong-key")
    assert [r.returncode for r in (ok, unsigned, wrong)] == [0, 0, 0], ok.stderr + unsigned.stderr + wrong.stderr
    assert ok.stdout == "200 []\n"
    assert unsigned.stdout.startswith("401 ") and "Malformed/missing" in unsigned.stdout
    assert wrong.stdout.startswith("401 ") and "HMAC failed validation" in wrong.stdout
    assert seen[0]["auth"].startswith("hmac Autoalerts:") and seen[0]["idem"] == "k-1"
    assert [r["body"] for r in seen] == [doc.encode()] * 3  # the bytes that were signed, unchanged
    assert {r["path"] for r in seen} == {"/v0/notifications"} and seen[0]["ctype"] == "application/json"
    # no key in the environment: refused before anything is sent
    r = subprocess.run(["python3", os.path.join(SRC, "scripts", "verify-notify.py"), "--url", "http://127.0.0.1:9",
                        "--app", "Autoalerts", "POST", "/v0/notifications", "{}"], capture_output=True, text=True,
                       timeout=60, env={k: v for k, v in os.environ.items() if k != "IRIS_APP_KEY"})
    assert r.returncode == 2 and "IRIS_APP_KEY" in r.stderr
