"""Helpers for driving the local stack (MariaDB, SQS and Secrets Manager in moto, the built
bootstraps) from Python: the integration tests, the benches and scripts/demo.py share them.

Import path: pytest finds this folder and tests/fakes through `pythonpath` in pytest.ini at
the top of the tree; a script outside pytest puts this folder first on sys.path:

    sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
    import irisstack as stack

Importing the module puts tests/fakes on sys.path too, so `from fake_runtime import
FakeRuntime` works after it.

Where things are comes from the environment scripts/with-stack.sh exports: IRIS_SOURCE_DIR,
IRIS_BUILD_DIR, IRIS_TEST_MYSQL_HOST/PORT, IRIS_TEST_AWS_ENDPOINT. Outside it the source tree
is the one this file is in and the build is its build/release.

Errors: a failing SQL statement or db.sh step raises StackError naming what failed (with the
client's message); pytest reports it as the test's failure, a script may catch it.
"""
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.environ.get("IRIS_SOURCE_DIR") or ROOT
BUILD = os.environ.get("IRIS_BUILD_DIR") or os.path.join(ROOT, "build", "release")
FAKES_DIR = os.path.join(SRC, "tests", "fakes")
if FAKES_DIR not in sys.path:
    sys.path.insert(0, FAKES_DIR)
from fakebase import free_port  # noqa: E402,F401  (re-exported: a free loopback port)

MYSQL_HOST = os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("IRIS_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("IRIS_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("IRIS_TEST_MYSQL_PASSWORD", "")
AWS_ENDPOINT = os.environ.get("IRIS_TEST_AWS_ENDPOINT")
REGION = "us-east-1"
# What moto accepts; a bootstrap started by run_lambda gets the same in its environment.
AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DB_SH = os.path.join(SRC, "scripts", "db.sh")
PLUGINS_DIR = os.path.join(BUILD, "plugins", "out")
# The delivery lanes, one SQS queue each (docs/architecture.md); "notifications" is Iris's
# API's lane.
MODE_LANES = ("email", "sms", "call", "im", "slack", "hipchat")
LANES = MODE_LANES + ("notifications",)


class StackError(RuntimeError):
    """A step against the local stack failed; the message says which and why."""


def bootstrap(name):
    """The built bootstrap of lambda/<name> (coordinator, sender, smoke)."""
    return os.path.join(BUILD, "lambda", name, f"iris-{name}")


# ---- MariaDB ---------------------------------------------------------------------------------

def mysql_env(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD):
    """This environment with scripts/db.sh's connection variables (IRIS_DB_*) and the mariadb
    client's password variable (MYSQL_PWD: never on a command line) set to that server."""
    return dict(os.environ, IRIS_DB_HOST=host, IRIS_DB_PORT=str(port), IRIS_DB_USER=user,
                IRIS_DB_PASSWORD=password, MYSQL_PWD=password)


def mariadb(db, text, host=MYSQL_HOST, port=MYSQL_PORT, socket_path=None, timeout=60,
            extra_args=(), user=MYSQL_USER, password=MYSQL_PASSWORD):
    """Run SQL text through the mariadb client (by default as the local stack's user: root
    without a password, as PrivateMariaDB too sets it up); db may be None. Returns the
    CompletedProcess (text mode)."""
    conn = ([f"--socket={socket_path}"] if socket_path
            else ["--protocol=TCP", "-h", host, "-P", str(port)])
    return subprocess.run(["mariadb", *conn, "-u", user, "--batch", "--skip-column-names",
                           *extra_args, *([db] if db else [])],
                          input=text, capture_output=True, text=True, timeout=timeout,
                          env=mysql_env(host, port, user, password))


def rows_of(stdout, nulls_as_none=False):
    """The mariadb client's --batch output as rows of strings (NULL as None if asked)."""
    rows = [line.split("\t") for line in stdout.splitlines()]
    if nulls_as_none:
        rows = [[None if v == "NULL" else v for v in row] for row in rows]
    return rows


def sql(db, text, nulls_as_none=False, timeout=60, **conn):
    """Run SQL text in db; the rows of every result set, as lists of strings. Raises
    StackError with the client's message when the server refuses it."""
    r = mariadb(db, text, timeout=timeout, **conn)
    if r.returncode != 0:
        raise StackError(f"SQL failed in {db}: {r.stderr.strip()}")
    return rows_of(r.stdout, nulls_as_none)


def run_db_sh(*args, env=None, timeout=300):
    """scripts/db.sh with these arguments (load-iris DB, migrate DB, demo DB, drop DB, ...)
    against the local stack's MariaDB, or the server env names (mysql_env()); the
    CompletedProcess, whatever its status."""
    return subprocess.run([DB_SH, *args], env=env or mysql_env(), capture_output=True,
                          text=True, timeout=timeout)


def db_sh(*args, env=None, timeout=300):
    """run_db_sh, raising StackError with db.sh's message when it fails."""
    r = run_db_sh(*args, env=env, timeout=timeout)
    if r.returncode != 0:
        raise StackError(f"db.sh {' '.join(args)} failed: {(r.stdout + r.stderr)[-2000:]}")
    return r


def load_iris(db, demo=True, env=None):
    """Iris's schema, the sender's migrations and (by default) the demo data into db."""
    db_sh("load-iris", db, env=env)
    db_sh("migrate", db, env=env)
    if demo:
        db_sh("demo", db, env=env)


def drop_db(db, env=None):
    """Drop db (made by this run); a failure is ignored, as in a test's teardown."""
    run_db_sh("drop", db, env=env)


def unique_name(prefix):
    """prefix_<8 hex digits>: a database or queue name no concurrent run uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@contextmanager
def iris_db(prefix, demo=True):
    """A fresh database named prefix_<random> with Iris's schema, the migrations and (by
    default) the demo data; dropped afterwards."""
    db = unique_name(prefix)
    try:
        load_iris(db, demo=demo)
        yield db
    finally:
        drop_db(db)


# ---- AWS (moto) ------------------------------------------------------------------------------

def aws_client(service, endpoint=None):
    """A boto3 client of the local moto server (or endpoint), with moto's test credentials."""
    import boto3
    return boto3.client(service, endpoint_url=endpoint or AWS_ENDPOINT, region_name=REGION,
                        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"])


def create_queues(sqs, name_of, lanes=LANES, **attributes):
    """One queue per lane named name_of(lane); {lane: queue URL}. attributes are SQS queue
    attributes given as keyword arguments (VisibilityTimeout="2")."""
    kw = {"Attributes": {k: str(v) for k, v in attributes.items()}} if attributes else {}
    return {lane: sqs.create_queue(QueueName=name_of(lane), **kw)["QueueUrl"] for lane in lanes}


def drain(sqs, url):
    """Every message waiting on the queue at url, received and deleted; the bodies as JSON."""
    got = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return got
        for m in batch:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def sqs_record(body, arn, message_id=None, receipt_handle="rh", receive_count=1, **extra):
    """One record of an SQS event as the event source mapping hands it to the function; body
    is sent as it is when a string, as JSON otherwise."""
    rec = {"messageId": message_id or str(uuid.uuid4()), "receiptHandle": receipt_handle,
           "body": body if isinstance(body, str) else json.dumps(body),
           "attributes": {"ApproximateReceiveCount": str(receive_count)},
           "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": arn,
           "awsRegion": REGION}
    rec.update(extra)
    return rec


def queue_arn(name):
    """The ARN of queue name in the test account (what moto and the fakes use)."""
    return f"arn:aws:sqs:{REGION}:123456789012:{name}"


# ---- configuration and bootstraps --------------------------------------------------------

def config(db, queues=None, plugins=False, host=MYSQL_HOST, port=MYSQL_PORT, endpoint=None,
           **sections):
    """A function's configuration (docs/config.md) against the local stack: db, aws, queues
    (when given), plugins (True: the built plugins' folder; a dict: that section) and any
    further sections given as keywords."""
    cfg = {"db": {"host": host, "port": int(port), "user": MYSQL_USER, "database": db},
           "aws": {"region": REGION, "endpoint": endpoint or AWS_ENDPOINT}}
    if MYSQL_PASSWORD:
        cfg["db"]["password"] = MYSQL_PASSWORD
    if queues is not None:
        cfg["queues"] = dict(queues)
    if plugins is True:
        cfg["plugins"] = {"dir": PLUGINS_DIR}
    elif plugins:
        cfg["plugins"] = plugins
    cfg.update(sections)
    return cfg


def write_config(path, cfg):
    """Write cfg as an IRIS_CONFIG file (JSON); returns path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


def function_env(cfg=None, **extra):
    """The environment a bootstrap gets: IRIS_CONFIG_JSON from cfg (when given), moto's
    credentials, and extra."""
    env = dict(AWS_TEST_ENV)
    if cfg is not None:
        env["IRIS_CONFIG_JSON"] = json.dumps(cfg)
    env.update(extra)
    return env


class Invocation:
    """What run_lambda saw: the request ids and results (one per event, in order: {"kind",
    "json", ...} or None when unanswered), init_error, the finished process (proc.out, proc.err) and its JSON log
    lines."""

    def __init__(self, rt, ids, proc):
        self.ids = ids
        self.results = [rt.results.get(i) for i in ids]
        self.init_error = rt.init_error
        self.proc = proc
        self.logs = json_lines(proc.err or "")

    def answers(self):
        """The JSON answers, asserting the bootstrap started, exited 0 and answered every
        event with a response (not an error)."""
        assert self.init_error is None, self.init_error
        assert self.proc.returncode == 0, self.proc.err
        for r in self.results:
            assert r is not None and r["kind"] == "response", (r, self.proc.err)
        return [r["json"] for r in self.results]


def run_lambda(path, events, env=None, timeout_ms=30000, timeout=120):
    """Run bootstrap path through the fake Runtime API: each event is one invocation, then the
    bootstrap is told to exit. env is added to this process's environment (function_env()
    builds the usual one)."""
    from fake_runtime import FakeRuntime
    with FakeRuntime() as rt:
        ids = [rt.add_event(e, timeout_ms=timeout_ms) for e in events]
        proc = rt.run_bootstrap(path, env=env, timeout=timeout)
        return Invocation(rt, ids, proc)


# ---- small things ----------------------------------------------------------------------------

def json_lines(text):
    """The lines of text that are JSON objects (log and EMF lines), parsed."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def read_jsonl(path):
    """The JSON lines of a file (the dummy plugin's record_file); [] while it does not exist."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f.read().splitlines()]
    except FileNotFoundError:
        return []


def wait_for(pred, timeout=30, interval=0.1):
    """Poll pred until it is true (True) or timeout seconds have passed (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return False
