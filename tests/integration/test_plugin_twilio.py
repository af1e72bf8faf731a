"""The twilio plugin against the Twilio fake: SMS and calls as Iris sends them (text
composition, length limits with a marker, relay URLs, status callback, per-application
caller id), and every failure class: auth, invalid number, 5xx, 429, timeout, malformed."""
import urllib.parse

import pytest

from harness_util import run
from vendor_fakes import TWILIO_SID, TWILIO_TOKEN, VendorFakes


@pytest.fixture(scope="module")
def fakes():
    with VendorFakes() as f:
        yield f


def cfg(fakes, **over):
    c = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from_number": "+15550000000",
         "relay_base_url": "https://relay.example.com", "api_base": fakes.url + "/twilio",
         "timeout_ms": "1500", "from.urgent-app": "+15559999999"}
    c.update(over)
    return c


MSG = {"message_id": "321", "incident_id": 77, "destination": "+15551230000",
       "subject": "  Disk full  ", "body": " on db-1\n", "application": "nagios"}


def test_sms_success(fakes):
    fakes.reset()
    res, rc, err = run("twilio", "sms", cfg(fakes), [MSG])
    assert rc == 0, err
    assert res[0]["status"] == "sent" and res[0]["vendor_message_id"].startswith("SM")
    [req] = fakes.requests("twilio.sms")
    assert req["body"] == {"To": "+15551230000", "From": "+15550000000", "Body": "Disk full. on db-1",
                           "StatusCallback": "https://relay.example.com/api/v0/twilio/status"}
    assert fakes.violations() == []


def test_sms_long_text_is_cut_with_a_marker(fakes):
    fakes.reset()
    res, rc, _ = run("twilio", "sms", cfg(fakes), [dict(MSG, subject="", body="é" * 2000)])
    assert rc == 0 and res[0]["status"] == "sent"
    body = fakes.requests("twilio.sms")[0]["body"]["Body"]
    assert len(body) == 1600 and body.endswith(" [truncated]")
    assert fakes.violations() == []


def test_call_uses_gather_for_incidents_and_say_otherwise(fakes):
    fakes.reset()
    res, rc, _ = run("twilio", "call", cfg(fakes), [
        dict(MSG, application="urgent-app"), dict(MSG, incident_id=0, message_id=None)])
    assert [r["status"] for r in res] == ["sent", "sent"]
    assert res[0]["vendor_message_id"].startswith("CA")
    first, second = fakes.requests("twilio.call")
    assert first["body"]["From"] == "+15559999999"  # per-application caller id
    url = urllib.parse.urlsplit(first["body"]["Url"])
    assert url.path == "/api/v0/twilio/calls/gather"
    q = urllib.parse.parse_qsl(url.query)
    assert q == [("content", "Disk full. on db-1"), ("loop", "3"), ("source", "urgent-app"),
                 ("message_id", "321"), ("instruction", "Press 2 to claim.")]
    url2 = urllib.parse.urlsplit(second["body"]["Url"])
    assert url2.path == "/api/v0/twilio/calls/say"
    assert [k for k, _ in urllib.parse.parse_qsl(url2.query)] == ["content", "loop", "source"]
    assert fakes.violations() == []


def test_call_text_limit(fakes):
    fakes.reset()
    run("twilio", "call", cfg(fakes), [dict(MSG, subject="", body="x" * 600)])
    url = fakes.requests("twilio.call")[0]["body"]["Url"]
    content = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["content"]
    assert len(content) == 480 and content.endswith(" [truncated]")


def test_failures_are_classified(fakes):
    fakes.reset()
    bad_auth, _, _ = run("twilio", "sms", cfg(fakes, auth_token="wrong-token"), [MSG])
    assert bad_auth[0]["status"] == "permanent" and "20003" in bad_auth[0]["error"]
    invalid, _, _ = run("twilio", "sms", cfg(fakes), [dict(MSG, destination="+15005550001")])
    assert invalid[0]["status"] == "permanent" and "21211" in invalid[0]["error"]
    fakes.behave("twilio.sms", [{"status": 503, "body": "upstream down"},
                                {"status": 429, "headers": {"Retry-After": "7"},
                                 "body": '{"code": 20429, "message": "Too Many Requests"}'},
                                {"malformed": True, "status": 500},
                                {"stall_ms": 2500}])
    res, rc, _ = run("twilio", "sms", cfg(fakes), [MSG] * 4)
    assert [r["status"] for r in res] == ["retryable", "rate_limited", "retryable", "retryable"]
    assert res[1]["retry_after_ms"] == 7000
    assert "unreachable" in res[3]["error"] and "Timeout" in res[3]["error"]
    assert rc == 1


def test_malformed_success_answer_is_still_sent(fakes):
    fakes.reset()
    fakes.behave("twilio.sms", [{"status": 201, "body": "not json"}])
    res, _, _ = run("twilio", "sms", cfg(fakes), [MSG])
    # Twilio accepted it (201): never resend and risk a second page.
    assert res[0]["status"] == "sent" and res[0]["vendor_message_id"] == ""


def test_bad_configuration_is_refused():
    _, rc, err = run("twilio", "sms", {"account_sid": "nope"}, [MSG])
    assert rc == 2 and "required" in err
    _, rc, err = run("twilio", "sms", {"account_sid": TWILIO_SID, "auth_token": "t",
                                        "from_number": "+1", "relay_base_url": "https://r",
                                        "colour": "red"}, [MSG])
    assert rc == 2 and "unknown option 'colour'" in err


def test_token_from_a_secret_reference(fakes):
    """Secrets arrive one way: a "secretsmanager:<id>" setting the host resolves before init."""
    fakes.reset()
    c = cfg(fakes)
    c["auth_token"] = "secretsmanager:twilio/token"
    res, rc, err = run("twilio", "sms", c, [MSG], extra_args=["--secret", f"twilio/token={TWILIO_TOKEN}"])
    assert rc == 0, err
    _, rc, err = run("twilio", "sms", c, [MSG])
    assert rc == 2 and "twilio/token" in err
    # The older per-plugin "<option>_secret" key is refused with the new spelling shown.
    del c["auth_token"]
    c["auth_token_secret"] = "twilio/token"
    _, rc, err = run("twilio", "sms", c, [MSG], extra_args=["--secret", f"twilio/token={TWILIO_TOKEN}"])
    assert rc == 2 and '"auth_token": "secretsmanager:twilio/token"' in err, err
    assert TWILIO_TOKEN not in err


def test_integer_options_are_parsed_strictly(fakes):
    for bad in ["12abc", "", "-5", "0", "99999999999999999999", " 10", "1e3"]:
        _, rc, err = run("twilio", "sms", dict(cfg(fakes), timeout_ms=bad), [MSG])
        assert rc == 2 and "option 'timeout_ms' must be a whole number from 1 to 900000" in err, \
            (bad, err)
