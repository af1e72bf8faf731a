"""The messagebird plugin as a third party builds and runs it: the plugin SDK installed into a
temporary prefix, plugins/messagebird built there with its Makefile and nothing but
`pkg-config --cflags iris-plugin`, run by the INSTALLED iris-plugin-harness against the
MessageBird fake (tests/fakes/messagebird_fake.py), which checks MessageBird's documented
request contract: SMS and voice messages, and every failure class (access key refused,
invalid parameters, no balance, 5xx, 429 with Retry-After, timeout, malformed answer)."""
import json
import os
import shutil
import subprocess

import pytest

from irisstack import BUILD, SRC
from messagebird_fake import MESSAGEBIRD_KEY, MessageBirdFake

MSG = {"message_id": "555", "incident_id": 9, "destination": "+1 (555) 010-0000",
       "subject": "Disk full", "body": "Disk full on db-1 ✓ \"quoted\"\n", "application": "nagios"}


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    """(installed harness, plugin .so) built exactly as docs/plugin-guide.md tells it."""
    tmp = tmp_path_factory.mktemp("mb")
    prefix = tmp / "sdk"
    subprocess.run(["cmake", "--install", BUILD, "--component", "sdk", "--prefix", str(prefix)],
                   check=True, capture_output=True)
    work = tmp / "messagebird"
    shutil.copytree(os.path.join(SRC, "plugins", "messagebird"), work)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    r = subprocess.run(["make", "-C", str(work)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    so = work / "iris-messagebird.so"
    # only libc: nothing of the host, no JSON library
    ldd = subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
    assert "jansson" not in ldd and "iris" not in ldd, ldd
    return str(prefix / "bin" / "iris-plugin-harness"), str(so)


@pytest.fixture(scope="module")
def fake():
    with MessageBirdFake() as f:
        yield f


def cfg(fake, **over):
    c = {"access_key": "secretsmanager:iris/messagebird", "api_base": fake.url + "/messagebird",
         "originator": "IrisPager", "timeout_ms": "1500"}
    c.update(over)
    return c


def run(sdk, mode, config, messages, extra=()):
    harness, so = sdk
    args = [harness, "--load", so, "--plugin", "messagebird", "--mode", mode,
            "--secret", f"iris/messagebird={MESSAGEBIRD_KEY}"]
    for k, v in config.items():
        args += ["--set", f"{k}={v}"]
    args += list(extra) + ["--messages", "-"]
    r = subprocess.run(args, input=json.dumps(messages), capture_output=True, text=True,
                       timeout=60)
    assert MESSAGEBIRD_KEY not in r.stdout + r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")], r.returncode, \
        r.stderr


def test_sms(sdk, fake):
    fake.reset()
    res, rc, err = run(sdk, "sms", cfg(fake), [MSG])
    assert rc == 0, err
    [req] = fake.requests("messagebird.sms")
    assert res[0]["status"] == "sent" and len(res[0]["vendor_message_id"]) == 32
    assert req["body"] == {"originator": "IrisPager", "recipients": ["15550100000"],
                           "body": MSG["body"], "reference": "555"}
    assert req["headers"]["accept"] == "application/json"
    assert fake.violations() == []


def test_voice_message(sdk, fake):
    fake.reset()
    res, rc, err = run(sdk, "call", cfg(fake, language="nl-nl", voice="male", repeat="3",
                                        if_machine="hangup"), [MSG])
    assert rc == 0, err
    [req] = fake.requests("messagebird.call")
    assert req["body"] == {"originator": "IrisPager", "recipients": ["15550100000"],
                           "body": MSG["body"], "reference": "555", "language": "nl-nl",
                           "voice": "male", "repeat": 3, "ifMachine": "hangup"}
    assert res[0]["status"] == "sent" and fake.violations() == []


def test_subject_when_the_body_is_empty_and_defaults(sdk, fake):
    fake.reset()
    res, rc, err = run(sdk, "sms", {"access_key": "secretsmanager:iris/messagebird",
                                    "api_base": fake.url + "/messagebird"},
                       [dict(MSG, body="")])
    assert rc == 0, err
    [req] = fake.requests("messagebird.sms")
    assert req["body"]["originator"] == "Iris" and req["body"]["body"] == "Disk full"


def test_failures_are_classified(sdk, fake):
    fake.reset()
    fake.behave("messagebird.sms", [
        {"status": 500, "body": {"errors": [{"code": 99, "description": "Internal error"}]}},
        {"status": 429, "headers": {"Retry-After": "7"}, "body": ""},
        {"status": 429, "headers": {"Retry-After": "999999999999"}, "body": ""},
        {"malformed": True, "status": 502},
        {"stall_ms": 3000}])
    res, rc, _ = run(sdk, "sms", cfg(fake), [MSG] * 5)
    assert [r["status"] for r in res] == ["retryable", "rate_limited", "rate_limited",
                                          "retryable", "retryable"]
    assert "error 99: Internal error" in res[0]["error"]
    assert res[1]["retry_after_ms"] == 7000 and res[2]["retry_after_ms"] == 1000
    assert "no MessageBird error document" in res[3]["error"]
    assert "no answer within 1500 ms" in res[4]["error"] and rc == 1
    # the contract's own refusals
    res, _, _ = run(sdk, "sms", cfg(fake), [dict(MSG, destination="+999 123 4567")])
    assert res[0]["status"] == "permanent" and "error 25: Not enough balance" in res[0]["error"]
    res, _, _ = run(sdk, "sms", cfg(fake), [dict(MSG, destination="call me")])
    assert res[0]["status"] == "permanent" and "not a phone number" in res[0]["error"]
    fake.reset()
    res, _, err = run(sdk, "sms", cfg(fake, access_key="wrong-key"), [MSG])
    assert res[0]["status"] == "permanent", err
    assert "HTTP 401: error 2: Request not allowed (incorrect access_key) (parameter " \
           "access_key)" in res[0]["error"]


def test_bad_configuration_is_refused(sdk, fake):
    for over, text in [({"originator": "TooLongOriginator"}, "option 'originator'"),
                       ({"repeat": "11"}, "option 'repeat' must be a whole number from 1 to 10"),
                       ({"timeout_ms": "10s"}, "option 'timeout_ms' must be a whole number"),
                       ({"voice": "robot"}, "option 'voice'"),
                       ({"colour": "red"}, "unknown option 'colour'"),
                       ({"access_key": ""}, "option 'access_key' is required")]:
        _, rc, err = run(sdk, "sms", cfg(fake, **over), [MSG])
        assert rc == 2 and text in err, (over, err)


def test_health(sdk, fake):
    fake.reset()
    harness, so = sdk
    r = subprocess.run([harness, "--load", so, "--plugin", "messagebird", "--mode", "sms",
                        "--secret", f"iris/messagebird={MESSAGEBIRD_KEY}", "--health"]
                       + sum((["--set", f"{k}={v}"] for k, v in cfg(fake).items()), []),
                       capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout) == {"health": "ok"}, r.stderr
    assert [q["route"] for q in fake.requests()] == ["messagebird.balance"]
