"""moto does not check signatures, so prove ours here: a local recorder captures the exact
request our C client sends (libcurl's CURLOPT_AWS_SIGV4), and botocore's SigV4Auth signs the
same request (same X-Amz-Date, credentials, region, service, headers and body). The
Authorization headers must be byte-identical, without and with a session token."""
import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fakebase import FakeHandler, FakeServer
from sqs_cli import cli

captured = []


class Recorder(FakeHandler):
    protocol_version = "HTTP/1.0"  # one request a connection

    def do_POST(self):
        body = self.body()
        captured.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        self.send(200, {"MessageId": "rec-1"})


@pytest.fixture
def recorder():
    captured.clear()
    with FakeServer(Recorder) as srv:
        yield srv.url


def resign(endpoint, req, key, secret, token):
    h = {k.lower(): v for k, v in req["headers"].items()}
    creds = Credentials(key, secret, token)
    signed = {"Content-Type": h["content-type"], "X-Amz-Target": h["x-amz-target"]}
    aws_req = AWSRequest(method="POST", url=endpoint + req["path"], data=req["body"],
                         headers=signed)
    if token:
        aws_req.headers["X-Amz-Security-Token"] = token
    # add_auth stamps the request with "now": freeze botocore's clock at the instant curl
    # signed, or a second boundary between the two would make the test flaky.
    signed_at = datetime.datetime.strptime(h["x-amz-date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        SigV4Auth(creds, "sqs", "us-east-1").add_auth(aws_req)
    assert aws_req.headers["X-Amz-Date"] == h["x-amz-date"]
    return aws_req.headers["Authorization"], h["authorization"]


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEXAMPLE//session+token="])
def test_signature_is_byte_identical_with_botocore(recorder, token):
    env = {"IRIS_SQS_ENDPOINT": recorder, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
           "AWS_REGION": "us-east-1"}
    if token:
        env["AWS_SESSION_TOKEN"] = token
    cli("send", recorder + "/123456789012/q", 'body with "quotes", ünïcode and 🚨',
        "kind:String:message", env=env)
    assert len(captured) == 1
    req = captured[0]
    ours = req["headers"].get("Authorization")
    assert ours and ours.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    expected, got = resign(recorder, req, env["AWS_ACCESS_KEY_ID"],
                           env["AWS_SECRET_ACCESS_KEY"], token)
    assert got == expected
    signed = got.split("SignedHeaders=")[1].split(",")[0]
    assert ("x-amz-security-token" in signed) == bool(token)
    assert "x-amz-target" in signed and "content-type" in signed
