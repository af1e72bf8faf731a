"""Our C SQS client (core/clients/sqs.c through tests/tools/iris-sqs-cli) against a moto server:
round trips with attributes, batch limits and per-entry failures, long polls, visibility
timeouts, redrive to a dead-letter queue, AWS error texts, retries against a server that
answers 500/429, and connection failures."""
import json
import os
import time

import pytest

from fakebase import FakeHandler, FakeServer, free_port
from sqs_cli import cli, new_queue


def test_round_trip_with_attributes():
    url = new_queue()
    sent = cli("send", url, "héllo ✓ {\"json\": true}", "kind:String:message",
               "n:Number:42", "blob:Binary:aGVsbG8=")
    got = cli("receive", url, "10", "1", "30")
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == "héllo ✓ {\"json\": true}"
    assert m["ReceiveCount"] == 1 and m["SentTimestamp"] > 0
    assert m["Attributes"] == {"kind": {"DataType": "String", "Value": "message"},
                               "n": {"DataType": "Number", "Value": "42"},
                               "blob": {"DataType": "Binary", "Value": "aGVsbG8="}}
    cli("delete", url, m["ReceiptHandle"])
    assert cli("receive", url, "10", "0", "30") == []


def test_batch_of_ten_and_eleven():
    url = new_queue()
    ten = [{"id": f"e{i}", "body": f"body {i}"} for i in range(10)]
    res = cli("send-batch", url, stdin=json.dumps(ten))
    assert sorted(e["Id"] for e in res["ok"]) == sorted(e["id"] for e in ten)
    assert res["failed"] == []
    r = cli("send-batch", url, stdin=json.dumps(ten + [{"id": "e10", "body": "x"}]), check=False)
    assert r.returncode == 1 and "IRIS_EINVAL" in r.stderr and "1-10 entries, got 11" in r.stderr
    bodies = set()
    for _ in range(10):
        for m in cli("receive", url, "10", "0", "30"):
            bodies.add(m["Body"])
        if len(bodies) == 10:
            break
    assert bodies == {f"body {i}" for i in range(10)}


def test_batch_validation_before_any_call():
    url = new_queue()
    for entries, text in [
        ([{"id": "a", "body": "x"}, {"id": "a", "body": "y"}], "used twice"),
        ([{"id": "bad id!", "body": "x"}], "[A-Za-z0-9_-]"),
        ([{"id": "a", "body": ""}], "body is empty"),
        ([{"id": "a", "body": "bell \u0007"}], "U+0007"),
    ]:
        r = cli("send-batch", url, stdin=json.dumps(entries), check=False)
        assert r.returncode == 1 and text in r.stderr, r.stderr
    assert cli("receive", url, "10", "0", "30") == []


def test_per_entry_failures_are_surfaced():
    url = new_queue()
    got = []
    cli("send", url, "a")
    cli("send", url, "b")
    for _ in range(5):
        got += cli("receive", url, "10", "0", "30")
        if len(got) == 2:
            break
    res = cli("delete-batch", url, got[0]["ReceiptHandle"], "not-a-receipt-handle")
    assert [e["Id"] for e in res["ok"]] == ["0"]
    assert [e["Id"] for e in res["failed"]] == ["1"]
    assert res["failed"][0]["Code"] and res["failed"][0]["SenderFault"] is True


def test_long_poll_returns_empty_after_wait():
    url = new_queue()
    t = time.monotonic()
    assert cli("receive", url, "1", "2", "30") == []
    assert time.monotonic() - t >= 1.5


def test_visibility_timeout_expiry_and_change():
    url = new_queue()
    cli("send", url, "v")
    first = cli("receive", url, "1", "0", "1")
    assert len(first) == 1
    assert cli("receive", url, "1", "0", "1") == []
    time.sleep(1.6)
    again = cli("receive", url, "1", "1", "30")
    assert len(again) == 1 and again[0]["ReceiveCount"] == 2
    # Hide it for longer, then make it visible at once.
    cli("visibility", url, again[0]["ReceiptHandle"], "0")
    third = cli("receive", url, "1", "1", "30")
    assert len(third) == 1 and third[0]["ReceiveCount"] == 3
    r = cli("visibility", url, third[0]["ReceiptHandle"], "50000", check=False)
    assert r.returncode == 1 and "0-43200" in r.stderr


def test_redrive_to_dead_letter_queue():
    dlq = new_queue("dlq")
    arn = cli("attr", dlq, "QueueArn")["Value"]
    url = new_queue("main", VisibilityTimeout="1",
                    RedrivePolicy=json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"}))
    cli("send", url, "poison")
    for _ in range(2):
        got = cli("receive", url, "1", "1", "0")
        assert len(got) == 1
    time.sleep(0.2)
    # Third receive: the message has exceeded maxReceiveCount and moved to the DLQ.
    assert cli("receive", url, "1", "1", "30") == []
    dead = cli("receive", dlq, "1", "1", "30")
    assert [m["Body"] for m in dead] == ["poison"]


def test_aws_error_text_names_code_and_action():
    r = cli("url", "no-such-queue-xyz", check=False)
    assert r.returncode == 1
    assert "IRIS_EAWS" in r.stderr and "QueueDoesNotExist" in r.stderr
    assert "GetQueueUrl" in r.stderr and "attempt 1 of" in r.stderr  # not retried


class Flaky(FakeHandler):
    """Answers with the queued (status, body, headers) in `plan`, then a valid SendMessage
    answer."""
    protocol_version = "HTTP/1.0"  # one request a connection
    plan = []
    seen = 0

    def do_POST(self):
        self.body()
        Flaky.seen += 1
        if Flaky.plan:
            status, body, headers = Flaky.plan.pop(0)
        else:
            status, body, headers = 200, json.dumps({"MessageId": "m-1",
                                                     "MD5OfMessageBody": "x"}), {}
        self.send(status, body, headers)


@pytest.fixture
def flaky():
    Flaky.plan, Flaky.seen = [], 0
    with FakeServer(Flaky) as srv:
        yield srv.url


def test_5xx_and_throttling_are_retried(flaky):
    Flaky.plan = [(500, "oops", {}),
                  (400, json.dumps({"__type": "com.amazonaws.sqs#RequestThrottled",
                                    "message": "slow down"}), {}),
                  (503, json.dumps({"__type": "ServiceUnavailable", "message": "busy"}), {})]
    out = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky})
    assert out == {"MessageId": "m-1"} and Flaky.seen == 4


def test_throttling_that_lasts_is_reported(flaky):
    Flaky.plan = [(429, "", {})] * 10
    r = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky,
                                                "IRIS_SQS_ATTEMPTS": "3"}, check=False)
    assert r.returncode == 1 and "IRIS_ETHROTTLED" in r.stderr and "attempt 3 of 3" in r.stderr
    assert Flaky.seen == 3


def test_garbage_answer_is_a_clear_error(flaky):
    Flaky.plan = [(200, "<html>not json</html>", {})]
    r = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky}, check=False)
    assert r.returncode == 1 and "IRIS_EPARSE" in r.stderr and "not a JSON object" in r.stderr


def test_query_error_header_and_auth_errors(flaky):
    Flaky.plan = [(403, json.dumps({"__type": "com.amazon.coral.service#InvalidClientTokenId",
                                    "message": "The security token is invalid."}), {})]
    r = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky}, check=False)
    assert "IRIS_EAUTH" in r.stderr and "InvalidClientTokenId" in r.stderr
    Flaky.plan = [(400, "", {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"})]
    r = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky}, check=False)
    assert "AWS.SimpleQueueService.NonExistentQueue" in r.stderr


def test_connection_refused_is_econn():
    port = free_port()  # nothing listens there
    r = cli("send", f"http://127.0.0.1:{port}/1/q", "x",
            env={"IRIS_SQS_ENDPOINT": f"http://127.0.0.1:{port}", "IRIS_SQS_ATTEMPTS": "2"},
            check=False)
    assert r.returncode == 1 and "IRIS_ECONN" in r.stderr and "attempt 2 of 2" in r.stderr


def test_credentials_never_logged(flaky):
    secret, token = "SuperSecretKey-do-not-log-1234", "tok-SECRET-5678"
    Flaky.plan = [(500, json.dumps({"__type": "InternalError", "message": "retry me"}), {})]
    r = cli("send", flaky + "/1/q", "x", env={"IRIS_SQS_ENDPOINT": flaky,
                                                "AWS_SECRET_ACCESS_KEY": secret,
                                                "AWS_SESSION_TOKEN": token,
                                                "IRIS_LOG_LEVEL": "debug"}, check=False)
    assert r.returncode == 0
    assert "retrying" in r.stderr  # the retry was logged ...
    assert secret not in r.stderr + r.stdout and token not in r.stderr + r.stdout  # ... safely
