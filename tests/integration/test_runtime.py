"""The Lambda Runtime API loop (core/clients/runtime.c) as a real process (tests/bootstraps/
iris-test-bootstrap) driven by the fake Runtime API: several invocations in one process, the
request context handed to the handler, handler errors with errorType and the function-error
header, init errors, deadlines near expiry, responses and events too large for Lambda, request
ids that try to leave their URL segment, exit on 500, and log lines stamped with the request
and trace ids."""
import json
import os
import time

import pytest

import irisstack as stack
from fake_runtime import FakeRuntime

BOOTSTRAP = os.path.join(stack.BUILD, "tests", "bootstraps", "iris-test-bootstrap")
TRACE = "Root=1-67891233-abcdef012345678912345678;Parent=0123456789abcdef;Sampled=1"


def test_several_invocations_in_one_process():
    with FakeRuntime() as rt:
        ids = [rt.add_event({"op": "echo", "n": i}) for i in range(5)]
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0, proc.err
        for i, rid in enumerate(ids):
            assert rt.results[rid]["kind"] == "response"
            assert rt.results[rid]["json"] == {"op": "echo", "n": i}
        # One process served all five: exactly six GET next (the last one got 500).
        assert sum(1 for r in rt.requests if r[0] == "GET") == 6


def test_context_reaches_the_handler():
    with FakeRuntime() as rt:
        rid = rt.add_event({"op": "context"}, timeout_ms=9000, trace_id=TRACE,
                           arn="arn:aws:lambda:eu-west-1:1:function:f")
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0
        doc = rt.results[rid]["json"]
        assert doc["request_id"] == rid
        assert doc["trace_id"] == TRACE and doc["env_trace"] == TRACE
        assert doc["arn"] == "arn:aws:lambda:eu-west-1:1:function:f"
        assert 7000 < doc["remaining_ms"] <= 9000


def test_handler_error_is_reported_and_the_loop_goes_on():
    with FakeRuntime() as rt:
        bad = rt.add_event({"op": "fail", "message": "envelope: field 'mode' missing"})
        junk = rt.add_event("this is not json")
        good = rt.add_event({"op": "echo"})
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0
        err = rt.results[bad]
        assert err["kind"] == "error"
        assert err["json"] == {"errorMessage": "envelope: field 'mode' missing",
                               "errorType": "Iris.EINVAL", "stackTrace": []}
        assert err["headers"]["Lambda-Runtime-Function-Error-Type"] == "Iris.EINVAL"
        assert rt.results[junk]["json"]["errorType"] == "Iris.EPARSE"
        assert rt.results[good]["kind"] == "response"


def test_init_error():
    with FakeRuntime() as rt:
        rt.add_event({"op": "echo"})
        proc = rt.run_bootstrap(BOOTSTRAP, env={"IRIS_TEST_INIT_FAIL": "config: key 'db.host' is required"})
        assert proc.returncode == 2
        assert rt.init_error["json"]["errorType"] == "Iris.ECONFIG"
        assert rt.init_error["json"]["errorMessage"] == "config: key 'db.host' is required"
        assert rt.init_error["headers"]["Lambda-Runtime-Function-Error-Type"] == "Iris.ECONFIG"
        assert rt.results == {}


def test_deadline_near_expiry():
    with FakeRuntime() as rt:
        rid = rt.add_event({"op": "until_deadline", "margin_ms": 300}, timeout_ms=1500)
        t = time.monotonic()
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0
        left = rt.results[rid]["json"]["stopped_with_ms"]
        assert 0 < left <= 300
        assert 1.0 < time.monotonic() - t < 5


def test_response_too_large_becomes_an_error():
    with FakeRuntime(response_limit=100_000) as rt:
        big = rt.add_event({"op": "big", "bytes": 200_000})
        ok = rt.add_event({"op": "big", "bytes": 90_000})
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0
        assert rt.results[big]["kind"] == "error"
        assert rt.results[big]["json"]["errorType"] == "Iris.ETOOBIG"
        assert rt.results[ok]["kind"] == "response" and len(rt.results[ok]["body"]) >= 90_000


def test_exit_on_500_from_next_and_no_runtime_api():
    with FakeRuntime() as rt:
        proc = rt.run_bootstrap(BOOTSTRAP)  # no events: next answers 500 at once
        assert proc.returncode == 0 and "HTTP 500" in proc.err
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    r = subprocess.run([BOOTSTRAP], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "AWS_LAMBDA_RUNTIME_API is not set" in r.stderr


def test_log_lines_carry_request_and_trace_ids():
    with FakeRuntime() as rt:
        rid = rt.add_event({"op": "log", "text": "hello from the handler"}, trace_id=TRACE)
        proc = rt.run_bootstrap(BOOTSTRAP)
        lines = [json.loads(l) for l in proc.err.splitlines() if l.startswith("{")]
        [line] = [l for l in lines if l.get("msg") == "hello from the handler"]
        assert line["requestId"] == rid and line["traceId"] == TRACE
        assert line["level"] == "info" and line["module"] == "test-bootstrap"
        # Context is cleared after the invocation.
        tail = [l for l in lines if "runtime loop ended" in l.get("msg", "")]
        assert tail and "requestId" not in tail[0]


def test_event_over_the_limit_is_an_invocation_error():
    # #14.11: an event past the runtime's 7 MiB buffer used to end the process; it is that
    # invocation's error, and the next event is served by the same process.
    with FakeRuntime() as rt:
        big = rt.add_event(b'{"op":"echo","pad":"' + b"x" * (7 * 1024 * 1024 + 10) + b'"}')
        ok = rt.add_event({"op": "echo", "n": 1})
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0, proc.err
        assert rt.results[big]["kind"] == "error"
        assert rt.results[big]["json"]["errorType"] == "Iris.ETOOBIG"
        assert "exceeds the 7340032-byte limit" in rt.results[big]["json"]["errorMessage"]
        assert rt.results[ok]["json"] == {"op": "echo", "n": 1}
        assert sum(1 for r in rt.requests if r[0] == "GET") == 3


@pytest.mark.parametrize("rid", ["../init/error?x=", "..", "a/../../next", "id with spaces%2F"])
def test_request_id_stays_in_its_url_segment(rid):
    # #14.11: the id comes from a header and went into the URL as it was; "../" reached
    # another endpoint. It is percent-encoded as one segment (the Runtime API decodes it).
    with FakeRuntime() as rt:
        odd = rt.add_event({"op": "echo", "n": 1}, request_id=rid)
        bad = rt.add_event({"op": "fail", "message": "m"}, request_id=rid + "2")
        proc = rt.run_bootstrap(BOOTSTRAP)
        assert proc.returncode == 0, proc.err
        posts = [r[1] for r in rt.requests if r[0] == "POST"]
        assert all(p.startswith("/2018-06-01/runtime/invocation/") for p in posts), posts
        assert all(p.count("/") == 5 for p in posts), posts
        assert rt.results[odd]["kind"] == "response"
        assert rt.results[bad]["kind"] == "error"
