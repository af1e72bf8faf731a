"""The hipchat plugin against the HipChat v2 fake: room notifications with mentions, rooms
with their own tokens, private messages, and every failure class."""
import pytest

from harness_util import run
from vendor_fakes import HIPCHAT_TOKEN, VendorFakes


@pytest.fixture(scope="module")
def fakes():
    with VendorFakes() as f:
        yield f


def cfg(fakes, **over):
    c = {"auth_token": HIPCHAT_TOKEN, "room_id": "42", "base_url": fakes.url + "/hipchat",
         "timeout_ms": "1500"}
    c.update(over)
    return c


def test_destinations(fakes):
    fakes.reset()
    msgs = [{"message_id": "1", "destination": "@jdoe", "body": "Disk full"},
            {"message_id": "2", "destination": f"77;{HIPCHAT_TOKEN};@amy", "body": "CPU"},
            {"message_id": "3", "destination": "user:amy@example.com", "body": "direct"},
            {"message_id": "4", "destination": "nonsense", "body": "default room"}]
    res, rc, err = run("hipchat", "hipchat", cfg(fakes), msgs)
    assert rc == 0, err
    assert [r["vendor_message_id"] for r in res] == ["room:42", "room:77", "user:amy@example.com", "room:42"]
    reqs = fakes.requests()
    assert reqs[0]["path"] == "/hipchat/v2/room/42/notification"
    assert reqs[0]["body"] == {"message": "@jdoe Disk full", "color": "red", "notify": True,
                               "message_format": "text"}
    assert reqs[1]["path"] == "/hipchat/v2/room/77/notification"
    assert reqs[1]["body"]["message"] == "@amy CPU"
    assert reqs[2]["path"] == "/hipchat/v2/user/amy@example.com/message"
    assert reqs[2]["body"] == {"message": "direct", "notify": True, "message_format": "text"}
    assert fakes.violations() == []


def test_failures_are_classified(fakes):
    fakes.reset()
    res, _, _ = run("hipchat", "hipchat", cfg(fakes, auth_token="wrong"), [{"destination": "@x", "body": "b"}])
    assert res[0]["status"] == "permanent" and "401" in res[0]["error"]
    res, _, _ = run("hipchat", "hipchat", cfg(fakes, room_id="0"),
                    [{"destination": f"missing;{HIPCHAT_TOKEN}", "body": "b"}])
    # a non-numeric room id falls back to the default room (as Iris does)
    assert res[0]["status"] == "sent"
    fakes.behave("hipchat.room", [{"status": 404, "body": '{"error": {"message": "Room not found"}}'},
                                  {"status": 502}, {"status": 429, "headers": {"Retry-After": "4"}},
                                  {"stall_ms": 2500}])
    res, rc, _ = run("hipchat", "hipchat", cfg(fakes), [{"destination": "@x", "body": "b"}] * 4)
    assert [r["status"] for r in res] == ["permanent", "retryable", "rate_limited", "retryable"]
    assert "Room not found" in res[0]["error"] and res[2]["retry_after_ms"] == 4000
    assert rc == 1


def test_configuration_errors():
    _, rc, err = run("hipchat", "hipchat", {"auth_token": "t", "room_id": "abc", "base_url": "http://x"},
                     [{"destination": "@x", "body": "b"}])
    assert rc == 2 and "room_id must be a number" in err
