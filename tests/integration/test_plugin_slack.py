"""The slack plugin against the Slack fake: chat.postMessage as Iris posts it (channel
prefixing, application prefix, JSON bodies, claim buttons on incident messages) and every
failure class: invalid_auth, channel_not_found / not_in_channel (permanent: Iris counted them
as sent), 5xx, 429 with Retry-After, timeout, malformed answers."""
import pytest

from harness_util import run
from vendor_fakes import SLACK_TOKEN, VendorFakes


@pytest.fixture(scope="module")
def fakes():
    with VendorFakes() as f:
        yield f


def cfg(fakes, **over):
    c = {"auth_token": SLACK_TOKEN, "base_url": fakes.url + "/slack/api",
         "iris_incident_url": "https://iris.example.com/incidents", "timeout_ms": "1500",
         "attachment_pretext": "New page"}
    c.update(over)
    return c


MSG = {"message_id": "55", "incident_id": 9, "destination": "jdoe", "body": "Disk full on db-1",
       "application": "nagios"}


def test_incident_message_with_claim_buttons(fakes):
    fakes.reset()
    res, rc, err = run("slack", "slack", cfg(fakes), [MSG])
    assert rc == 0, err
    assert res[0]["status"] == "sent" and res[0]["vendor_message_id"].startswith("C0123456789/")
    [req] = fakes.requests("slack")
    body = req["body"]
    assert req["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert body["channel"] == "@jdoe" and body["text"] == "[nagios] Disk full on db-1"
    assert body["incident_id"] == 9 and body["message_id"] == "55"
    [att] = body["attachments"]
    assert att["title"] == "Iris incident 9"
    assert att["title_link"] == "https://iris.example.com/incidents/9"
    assert att["callback_id"] == "55" and att["pretext"] == "New page"
    assert [a["name"] for a in att["actions"]] == ["claim", "claim all"]
    assert att["actions"][1]["confirm"]["title"] == "Are you sure?"
    assert fakes.violations() == []


def test_channels_and_json_bodies(fakes):
    fakes.reset()
    custom = '{"text": "custom", "unfurl_links": false, "blocks": [{"type": "divider"}], "evil": 1}'
    res, rc, _ = run("slack", "slack", cfg(fakes), [
        {"message_id": "1", "destination": "#ops", "body": custom},
        {"message_id": "2", "destination": "@amy", "body": "hi"}])
    assert rc == 0
    first, second = [r["body"] for r in fakes.requests("slack")]
    assert first["channel"] == "#ops" and first["text"] == "[Iris incident] custom"
    assert first["unfurl_links"] is False and first["blocks"] == [{"type": "divider"}]
    assert "evil" not in first and "attachments" not in first  # not an incident message
    assert second["channel"] == "@amy"
    res, _, _ = run("slack", "slack", cfg(fakes), [{"destination": "#ops", "body": "{broken"}])
    assert res[0]["status"] == "permanent" and "not a JSON object" in res[0]["error"]


def test_failures_are_classified(fakes):
    fakes.reset()
    res, _, _ = run("slack", "slack", cfg(fakes, auth_token="xoxb-wrong"), [MSG])
    assert res[0]["status"] == "permanent" and "invalid_auth" in res[0]["error"]
    res, _, _ = run("slack", "slack", cfg(fakes), [dict(MSG, destination="#missing"),
                                                   dict(MSG, destination="#private")])
    assert [r["status"] for r in res] == ["permanent", "permanent"]
    assert "channel_not_found" in res[0]["error"] and "not_in_channel" in res[1]["error"]
    fakes.behave("slack", [{"status": 500, "body": "oops"},
                           {"status": 429, "headers": {"Retry-After": "30"}},
                           {"status": 200, "body": '{"ok": false, "error": "ratelimited"}',
                            "headers": {"Retry-After": "2"}},
                           {"status": 200, "body": '{"ok": false, "error": "internal_error"}'},
                           {"malformed": True},
                           {"stall_ms": 2500}])
    res, rc, _ = run("slack", "slack", cfg(fakes), [MSG] * 6)
    assert [r["status"] for r in res] == ["retryable", "rate_limited", "rate_limited",
                                          "retryable", "retryable", "retryable"]
    assert res[1]["retry_after_ms"] == 30000 and res[2]["retry_after_ms"] == 2000
    assert rc == 1


def test_configuration_errors():
    _, rc, err = run("slack", "slack", {"base_url": "http://x"}, [MSG])
    assert rc == 2 and "auth_token" in err
    _, rc, err = run("slack", "slack", {"auth_token": "x"}, [MSG])
    assert rc == 2 and "iris_incident_url" in err
