#!/usr/bin/env python3
"""scripts/verify.py start|stop DIR — the local target of docs/verification.md.

start: a fresh Iris database (Iris's schema, the sender's migrations, the demo data), the
       vendors' stand-ins (an SMTP sink, HTTP fakes of Twilio/Slack/HipChat, a fake of the
       Oncall API with the storage team), one SQS queue per lane plus the sender's
       dead-letter queue on the local stack's moto server, and DIR/config.json wiring the
       real bootstraps to all of it; DIR/env is what scripts/verify-env.sh reads.
stop:  stops the stand-ins and drops the database.

Run it inside the local stack (scripts/with-stack.sh STACKDIR ...), which provides MariaDB and
moto: IRIS_TEST_AWS_ENDPOINT and IRIS_TEST_MYSQL_* come from there. The database is
$IRIS_VERIFY_DB (default iris_verify); it is dropped and created again by start.
"""
import json
import os
import signal
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("IRIS_BUILD_DIR", os.path.join(ROOT, "build", "release"))
FAKES = os.path.join(ROOT, "tests", "fakes")
sys.path.insert(0, FAKES)
LANES = ["email", "sms", "call", "im", "slack", "hipchat", "notifications"]
ONCALL_KEY = "verify-oncall-key"
TEAMS = {"storage-oncall": {"rosters": {"primary": ["ada", "linus", "wei"]},
                            "oncall": {"primary": ["grace"], "secondary": ["linus"],
                                       "manager": ["grace"]}}}


def die(msg):
    print(f"verify.py: {msg}", file=sys.stderr)
    sys.exit(1)


def spawn(d, name, args):
    """A stand-in in the background; its port is read from DIR/<name>.port."""
    port_file = os.path.join(d, f"{name}.port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(os.path.join(d, f"{name}.log"), "w")
    p = subprocess.Popen([sys.executable, os.path.join(FAKES, f"{name}.py"), "--port-file", port_file,
                          *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(d, f"{name}.pid"), "w") as f:
        f.write(str(p.pid))
    for _ in range(100):
        if os.path.exists(port_file):
            return int(open(port_file).read())
        if p.poll() is not None:
            die(f"{name} exited; see {d}/{name}.log")
        time.sleep(0.1)
    die(f"{name} did not start; see {d}/{name}.log")


def start(d):
    from vendor_fakes import HIPCHAT_TOKEN, SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN
    import boto3
    endpoint = os.environ.get("IRIS_TEST_AWS_ENDPOINT") or die("run inside the local stack (scripts/with-stack.sh)")
    db = os.environ.get("IRIS_VERIFY_DB", "iris_verify")
    os.makedirs(d, exist_ok=True)
    stop(d, quiet=True)
    for cmd in ("drop", "load-iris", "migrate", "demo"):
        r = subprocess.run([os.path.join(ROOT, "scripts", "db.sh"), cmd, db], capture_output=True, text=True)
        if r.returncode:
            die(f"db.sh {cmd} {db}: {r.stderr.strip()}")
    for name in ("smtp.jsonl", "vendors.jsonl", "coordinator.log", "sender.log", "notify.log"):
        if os.path.exists(os.path.join(d, name)):  # what the stand-ins received is this run's
            os.unlink(os.path.join(d, name))
    with open(os.path.join(d, "teams.json"), "w") as f:
        json.dump(TEAMS, f)
    smtp = spawn(d, "smtp_sink", ["--record-file", os.path.join(d, "smtp.jsonl")])
    vendors = spawn(d, "vendor_fakes", ["--record-file", os.path.join(d, "vendors.jsonl")])
    oncall = spawn(d, "oncall_fake", ["--app", "iris", "--key", ONCALL_KEY,
                                      "--teams", os.path.join(d, "teams.json")])
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    run = uuid.uuid4().hex[:6]
    queues = {}
    for lane in LANES:
        # As deployed: each lane redrives to its own dead-letter queue after 5 receives.
        dlq = sqs.create_queue(QueueName=f"verify-{run}-{lane}-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[lane] = sqs.create_queue(QueueName=f"verify-{run}-{lane}", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})})["QueueUrl"]
    queues["dead_letter"] = sqs.create_queue(QueueName=f"verify-{run}-sender-dlq")["QueueUrl"]
    fakes = f"http://127.0.0.1:{vendors}"
    mail = {"from": "iris@example.com", "server": f"127.0.0.1:{smtp}", "tls": "none"}
    twilio = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": "+15550009999",
              "relay_base_url": "https://relay.example.com", "api_base": fakes + "/twilio"}
    cfg = {
        "log": {"level": "warn"},
        "db": {"host": os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"),
               "port": int(os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")), "user": "root",
               "database": db},
        "aws": {"region": "us-east-1", "endpoint": endpoint},
        "queues": queues,
        "plugins": {"dir": os.path.join(BUILD, "plugins", "out")},
        "oncall": {"api": f"http://127.0.0.1:{oncall}", "app": "iris", "key": ONCALL_KEY},
        "coordinator": {"tick_seconds": 1, "margin_ms": 300},
        "sender": {"backoff_base_seconds": 1, "backoff_max_seconds": 2},
        "quota": {"sender_app": "iris"},
        "vendors": {
            "email": [{"plugin": "smtp", "name": "smtp", "config": mail}],
            "im": [{"plugin": "smtp", "name": "smtp-im", "config": mail}],
            "sms": [{"plugin": "twilio", "name": "twilio-sms", "config": twilio}],
            "call": [{"plugin": "twilio", "name": "twilio-call", "config": twilio}],
            "slack": [{"plugin": "slack", "name": "slack", "config": {
                "auth_token": SLACK_TOKEN, "base_url": fakes + "/slack/api",
                "iris_incident_url": "https://iris.example.com/incidents"}}],
            "hipchat": [{"plugin": "hipchat", "name": "hipchat", "config": {
                "auth_token": HIPCHAT_TOKEN, "base_url": fakes + "/hipchat", "room_id": "42"}}],
        },
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(d, "env"), "w") as f:
        f.write(f"IRIS_VERIFY_BUILD={BUILD}\nIRIS_VERIFY_SOURCE={ROOT}\nIRIS_DB_NAME={db}\n"
                f"IRIS_DEAD_LETTER_URL={queues['dead_letter']}\nIRIS_SQS_ENDPOINT={endpoint}\n")
        for lane in LANES:
            f.write(f"IRIS_QUEUE_URL_{lane.upper()}={queues[lane]}\n")
    print(f"database {db}; SMTP sink :{smtp}; vendor fakes :{vendors}; Oncall fake :{oncall}; "
          f"{len(LANES)} lanes on {endpoint}; configuration {d}/config.json")


def stop(d, quiet=False):
    for name in ("smtp_sink", "vendor_fakes", "oncall_fake"):
        pid_file = os.path.join(d, f"{name}.pid")
        if os.path.exists(pid_file):
            try:
                os.kill(int(open(pid_file).read()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            os.unlink(pid_file)
    env = os.path.join(d, "env")
    if os.path.exists(env):
        db = dict(line.strip().split("=", 1) for line in open(env) if "=" in line).get("IRIS_DB_NAME")
        if db and not quiet:
            subprocess.run([os.path.join(ROOT, "scripts", "db.sh"), "drop", db], capture_output=True)
        os.unlink(env)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        die("usage: verify.py start|stop DIR")
    (start if sys.argv[1] == "start" else stop)(os.path.abspath(sys.argv[2]))
