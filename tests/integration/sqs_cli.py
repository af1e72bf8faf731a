"""Shared helpers for the SQS tests: run tests/tools/iris-sqs-cli (our C client) and boto3."""
import json
import os
import subprocess
import uuid

import irisstack as stack

CLI = os.path.join(stack.BUILD, "tests", "tools", "iris-sqs-cli")
ENDPOINT = stack.AWS_ENDPOINT


def cli(*args, stdin=None, env=None, check=True):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, env=e,
                       timeout=120)
    if check:
        assert r.returncode == 0, f"iris-sqs-cli {args[0]} failed: {r.stderr}"
        return json.loads(r.stdout) if r.stdout.strip() else None
    return r


def boto_sqs():
    return stack.aws_client("sqs")


def new_queue(prefix="q", **attrs):
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return cli("create", name, *[f"{k}={v}" for k, v in attrs.items()])["QueueUrl"]
