#!/usr/bin/env python3
"""The local demo (run by scripts/demo.sh inside the local stack).

Stage 1 — plumbing smoke flow: loads Iris's schema, the sender's migrations and the demo data
into a fresh database, puts a secret into Secrets Manager (moto) and creates a queue in SQS
(moto), then drives the real `iris-smoke` bootstrap through the fake Lambda Runtime API: the
bootstrap resolves its configuration (secret included), reads the database, round-trips a
message through the queue and emits EMF metrics. Every step prints what it did.
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
    print(f"{BOLD}{GREEN}demo finished in {time.monotonic() - t0:.1f} s{RESET}")


if __name__ == "__main__":
    main()
