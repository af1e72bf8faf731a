"""The slack plugin against the Slack fake: chat.postMessage as Iris posts it (application
prefix, JSON bodies, claim buttons on incident messages), recipients resolved the way Slack
routes today (IDs as they are; emails through users.lookupByEmail; Iris's "@name" contacts
through users.list, cursor by cursor, or users.lookupByEmail with email_domain; a bounded cache
with a TTL), and every failure class: invalid_auth, missing scopes, unknown or ambiguous users,
channel_not_found / not_in_channel (permanent: Iris counted them as sent), 5xx, 429 with
Retry-After on the post and on the lookups, timeouts, malformed answers. The fake's own
contract (auth, pagination) is checked against it directly."""
import base64
import json
import urllib.parse
import urllib.request

import pytest

from harness_util import run
from vendor_fakes import SLACK_TOKEN, SLACK_TOKEN_CHAT_ONLY, SLACK_USERS, VendorFakes, slack_user


@pytest.fixture(scope="module")
def fakes():
    with VendorFakes() as f:
        yield f


@pytest.fixture
def fake(fakes):
    fakes.reset()
    yield fakes
    assert fakes.violations() == []


def cfg(fakes, **over):
    c = {"auth_token": SLACK_TOKEN, "base_url": fakes.url + "/slack/api",
         "iris_incident_url": "https://iris.example.com/incidents", "timeout_ms": "1500",
         "attachment_pretext": "New page"}
    c.update(over)
    return c


MSG = {"message_id": "55", "incident_id": 9, "destination": "jdoe", "body": "Disk full on db-1",
       "application": "nagios"}
ID = {u["name"]: u["id"] for u in SLACK_USERS}


def to(dest, **over):
    return dict(MSG, destination=dest, **over)


def posts(fakes):
    return [r["body"]["channel"] for r in fakes.requests("slack")]


def cursor_after(index):
    """The cursor the fake answers for the page that starts at SLACK_USERS[index]."""
    return base64.b64encode(f"user:{SLACK_USERS[index]['id']}".encode()).decode()


def test_incident_message_with_claim_buttons(fake):
    res, rc, err = run("slack", "slack", cfg(fake), [MSG])
    assert rc == 0, err
    # the post went to jdoe's user ID; Slack answers with the app's DM channel with them
    assert res[0]["status"] == "sent" and res[0]["vendor_message_id"].startswith("D0JDOE0001/")
    [req] = fake.requests("slack")
    body = req["body"]
    assert req["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert body["channel"] == ID["jdoe"] and body["text"] == "[nagios] Disk full on db-1"
    assert body["incident_id"] == 9 and body["message_id"] == "55"
    [att] = body["attachments"]
    assert att["title"] == "Iris incident 9"
    assert att["title_link"] == "https://iris.example.com/incidents/9"
    assert att["callback_id"] == "55" and att["pretext"] == "New page"
    assert att["fallback"] == "New Iris incident"
    assert [a["name"] for a in att["actions"]] == ["claim", "claim all"]
    assert att["actions"][1]["confirm"]["title"] == "Are you sure?"


def test_channels_and_json_bodies(fake):
    custom = '{"text": "custom", "unfurl_links": false, "blocks": [{"type": "divider"}], "evil": 1}'
    res, rc, _ = run("slack", "slack", cfg(fake), [
        {"message_id": "1", "destination": "#ops", "body": custom},
        {"message_id": "2", "destination": "@amy", "body": "hi"}])
    assert rc == 0
    first, second = [r["body"] for r in fake.requests("slack")]
    assert first["channel"] == "#ops" and first["text"] == "[Iris incident] custom"
    assert first["unfurl_links"] is False and first["blocks"] == [{"type": "divider"}]
    assert "evil" not in first and "attachments" not in first  # not an incident message
    assert second["channel"] == "W0AMY00001"  # an Enterprise Grid user ID
    res, _, _ = run("slack", "slack", cfg(fake), [{"destination": "#ops", "body": "{broken"}])
    assert res[0]["status"] == "permanent" and "not a JSON object" in res[0]["error"]


def test_ids_are_posted_as_they_are(fake):
    ids = ["U0JDOE0001", "@U0JDOE0001", "W0AMY00001", "C0123ABCD9", "G0PRIVATE1", "D0JDOE0001"]
    res, rc, err = run("slack", "slack", cfg(fake), [to(d) for d in ids])
    assert rc == 0, (res, err)
    assert posts(fake) == [d.lstrip("@") for d in ids]
    assert fake.requests("slack.users") == [] and fake.requests("slack.lookup") == []


def test_emails_are_looked_up_and_remembered(fake):
    res, rc, err = run("slack", "slack", cfg(fake), [
        to("grace@example.com"), to("Grace@Example.com"), to("nobody@example.com"),
        to("nobody@example.com"), to("olddev@example.com")])
    assert [r["status"] for r in res] == ["sent", "sent", "permanent", "permanent", "permanent"]
    assert posts(fake) == [ID["grace"], ID["grace"]]
    lookups = fake.requests("slack.lookup")
    # one request per address: the second spelling of grace's and the second unknown are cached
    assert [r["body"]["email"] for r in lookups] == ["grace@example.com", "nobody@example.com",
                                                     "olddev@example.com"]
    assert all(r["method"] == "GET" and r["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
               for r in lookups)
    assert "no user with the email nobody@example.com" in res[2]["error"]
    assert "users_not_found" in res[2]["error"] and "remembered" in res[3]["error"]
    assert "deactivated" in res[4]["error"]
    assert fake.requests("slack.users") == []


def test_names_through_email_domain(fake):
    res, rc, err = run("slack", "slack", cfg(fake, email_domain="example.com"),
                       [to("@jdoe"), to("jdoe"), to("@nobody")])
    assert [r["status"] for r in res] == ["sent", "sent", "permanent"], err
    assert posts(fake) == [ID["jdoe"], ID["jdoe"]]
    assert [r["body"]["email"] for r in fake.requests("slack.lookup")] == [
        "jdoe@example.com", "nobody@example.com"]
    assert fake.requests("slack.users") == []


def test_legacy_names_through_users_list_pages(fake):
    """Iris's "@name" contacts: users.list two users a page, following next_cursor; every
    user read is cached, so later names need no request."""
    c = cfg(fake, users_list_page_size="2")
    res, rc, err = run("slack", "slack", c, [to("@wei"), to("@wei"), to("ada"), to("@WEI")])
    assert rc == 0, (res, err)
    assert posts(fake) == [ID["wei"], ID["wei"], ID["ada"], ID["wei"]]
    pages = fake.requests("slack.users")
    # wei is the fourth user: page 2 ends the walk (names are unique), the rest are cache hits
    assert [p["body"] for p in pages] == [{"limit": "2"}, {"limit": "2", "cursor": cursor_after(2)}]
    assert all(p["method"] == "GET" and p["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
               for p in pages)


def test_display_names_unknown_and_ambiguous_users(fake):
    c = cfg(fake, users_list_page_size="3")
    res, _, err = run("slack", "slack", c, [
        to("@nobody"), to("@nobody"), to("Night Owl ✓"), to("@carol"), to("carol.t"),
        to("olddev")])
    assert [r["status"] for r in res] == ["permanent", "permanent", "sent", "permanent", "sent",
                                          "permanent"], (res, err)
    assert posts(fake) == ["U0NIGHT001", "U0CAROL002"]
    # one walk of the whole list (4 pages of 3); after it, every answer comes from the cache
    assert len(fake.requests("slack.users")) == 4
    assert "no Slack user is named 'nobody'" in res[0]["error"]
    assert "9 active users read" in res[0]["error"]  # the deactivated one is not a candidate
    assert "no Slack user is named 'nobody'" in res[1]["error"]
    assert "ambiguous" in res[3]["error"] and "carol" in res[3]["error"]
    assert "no Slack user is named 'olddev'" in res[5]["error"]


def test_cache_bounds_and_expiry(fake):
    # no cache: every message walks again
    res, rc, _ = run("slack", "slack", cfg(fake, user_cache_size="0"), [to("@jdoe"), to("@jdoe")])
    assert rc == 0 and len(fake.requests("slack.users")) == 2
    # a cache too small for the list: a fully read list that lost entries is no answer, so an
    # unknown name walks again (and the walk still works while entries are replaced)
    fake.reset()
    res, _, _ = run("slack", "slack", cfg(fake, user_cache_size="4", users_list_page_size="3"),
                    [to("@nobody"), to("@nobody"), to("Night Owl ✓")])
    assert [r["status"] for r in res] == ["permanent", "permanent", "sent"]
    assert len(fake.requests("slack.users")) == 12 and posts(fake) == ["U0NIGHT001"]
    # a one-second TTL: the second message comes after the first post stalled 1.2 s
    fake.reset()
    fake.behave("slack", [{"stall_ms": 1200}])
    res, rc, _ = run("slack", "slack", cfg(fake, user_cache_ttl_s="1"), [to("@jdoe"), to("@jdoe")])
    assert rc == 0 and len(fake.requests("slack.users")) == 2
    # a walk is bounded in pages
    fake.reset()
    res, rc, _ = run("slack", "slack", cfg(fake, users_list_page_size="2",
                                           users_list_max_pages="2"), [to("Night Owl ✓")])
    assert res[0]["status"] == "permanent" and "first 2 pages" in res[0]["error"]
    assert len(fake.requests("slack.users")) == 2


def test_lookup_failures_are_classified(fake):
    fake.behave("slack.users", [{"status": 429, "headers": {"Retry-After": "7"}},
                                {"status": 200, "body": '{"ok": false, "error": "ratelimited"}',
                                 "headers": {"Retry-After": "3"}},
                                {"status": 503, "body": "down"},
                                {"malformed": True},
                                {"stall_ms": 2000},
                                {"status": 200, "body": '{"ok": false, "error": "invalid_cursor"}'},
                                {"status": 200, "body": '{"ok": true, "members": [], '
                                 '"response_metadata": {"next_cursor": "bad\\u0001cursor"}}'}])
    fake.behave("slack.lookup", [{"status": 429, "headers": {"Retry-After": "11"}},
                                 {"status": 500}])
    res, rc, _ = run("slack", "slack", cfg(fake), [to("@jdoe")] * 7 + [to("a@example.com")] * 2)
    assert [r["status"] for r in res] == ["rate_limited", "rate_limited", "retryable",
                                          "retryable", "retryable", "retryable", "retryable",
                                          "rate_limited", "retryable"], res
    assert res[0]["retry_after_ms"] == 7000 and res[1]["retry_after_ms"] == 3000
    assert res[7]["retry_after_ms"] == 11000
    assert "users.list" in res[0]["error"] and "users.lookupByEmail" in res[7]["error"]
    assert "cursor" in res[6]["error"]
    assert fake.requests("slack") == [] and rc == 1  # nothing was posted


def test_missing_scopes_and_bad_destinations(fake):
    res, _, _ = run("slack", "slack", cfg(fake, auth_token=SLACK_TOKEN_CHAT_ONLY),
                    [to("@jdoe"), to("jdoe@example.com")])
    assert [r["status"] for r in res] == ["permanent", "permanent"]
    assert "missing_scope" in res[0]["error"] and "users:read" in res[0]["error"]
    assert "users:read.email" in res[1]["error"]
    fake.reset()
    res, _, _ = run("slack", "slack", cfg(fake), [to("a b@c d"), to("x@"), to("bad\tname"),
                                                  to(""), to("@")])
    assert [r["status"] for r in res] == ["permanent"] * 5
    assert all("Slack" in r["error"] for r in res)
    assert fake.requests() == []


def test_failures_are_classified(fake):
    res, _, _ = run("slack", "slack", cfg(fake, auth_token="xoxb-wrong"), [MSG, to("U0JDOE0001")])
    assert [r["status"] for r in res] == ["permanent", "permanent"]
    assert "invalid_auth" in res[0]["error"] and "users.list" in res[0]["error"]
    assert "invalid_auth" in res[1]["error"]
    res, _, _ = run("slack", "slack", cfg(fake), [to("#missing"), to("#private"),
                                                  to("C0MISSING0")])
    assert [r["status"] for r in res] == ["permanent"] * 3
    assert "channel_not_found" in res[0]["error"] and "not_in_channel" in res[1]["error"]
    fake.behave("slack", [{"status": 500, "body": "oops"},
                          {"status": 429, "headers": {"Retry-After": "30"}},
                          {"status": 200, "body": '{"ok": false, "error": "ratelimited"}',
                           "headers": {"Retry-After": "2"}},
                          {"status": 200, "body": '{"ok": false, "error": "internal_error"}'},
                          {"malformed": True},
                          {"stall_ms": 2500}])
    res, rc, _ = run("slack", "slack", cfg(fake), [MSG] * 6)
    assert [r["status"] for r in res] == ["retryable", "rate_limited", "rate_limited",
                                          "retryable", "retryable", "retryable"]
    assert res[1]["retry_after_ms"] == 30000 and res[2]["retry_after_ms"] == 2000
    assert rc == 1


def test_iris_configuration_keys(fake):
    """Iris's base_url (chat.postMessage's own URL) and message_attachments keep working."""
    c = cfg(fake, base_url=fake.url + "/slack/api/chat.postMessage",
            message_attachments=json.dumps({"fallback": "Iris page", "pretext": "Page!"}))
    del c["attachment_pretext"]
    res, rc, err = run("slack", "slack", c, [MSG])
    assert rc == 0, err
    [att] = fake.requests("slack")[0]["body"]["attachments"]
    assert att["fallback"] == "Iris page" and att["pretext"] == "Page!"
    assert fake.requests("slack.users")[0]["path"].startswith("/slack/api/users.list?")
    # the newer keys win over Iris's
    res, rc, _ = run("slack", "slack", dict(c, attachment_pretext="Mine"), [MSG])
    assert rc == 0 and fake.requests("slack")[1]["body"]["attachments"][0]["pretext"] == "Mine"


def test_configuration_errors():
    _, rc, err = run("slack", "slack", {"base_url": "http://x"}, [MSG])
    assert rc == 2 and "auth_token" in err
    _, rc, err = run("slack", "slack", {"auth_token": "x"}, [MSG])
    assert rc == 2 and "iris_incident_url" in err
    base = {"auth_token": "x", "iris_incident_url": "https://iris.example.com/incidents"}
    for key, value, says in (("message_attachments", "[1]", "message_attachments"),
                             ("message_attachments", '{"pretext": 3}', "pretext"),
                             ("email_domain", "a b", "email_domain"),
                             ("base_url", "ftp://slack", "base_url"),
                             ("user_cache_ttl_s", "0", "user_cache_ttl_s"),
                             ("users_list_page_size", "1001", "users_list_page_size")):
        _, rc, err = run("slack", "slack", dict(base, **{key: value}), [MSG])
        assert rc == 2 and says in err, (key, value, err)


# ---- the fake itself speaks Slack's documented contract -------------------------------------

def call(fakes, method, args=None, token=SLACK_TOKEN, post=False):
    url = f"{fakes.url}/slack/api/{method}"
    data = None
    if post:
        data = urllib.parse.urlencode(dict(args or {}, **({"token": token} if token else {}))).encode()
    elif args:
        url += "?" + urllib.parse.urlencode(args)
    req = urllib.request.Request(url, data=data)
    if token and not post:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200  # Slack answers refusals with HTTP 200 and ok: false
        return json.loads(r.read())


def test_fake_users_list_pages_and_auth(fake):
    assert call(fake, "users.list", token=None) == {"ok": False, "error": "not_authed"}
    assert call(fake, "users.list", token="xoxb-nope")["error"] == "invalid_auth"
    denied = call(fake, "users.list", token=SLACK_TOKEN_CHAT_ONLY)
    assert denied["error"] == "missing_scope" and denied["needed"] == "users:read"
    seen, cursor, pages = [], "", 0
    while True:
        args = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = call(fake, "users.list", args, post=pages % 2 == 1)  # GET and form POST alike
        assert page["ok"] is True and len(page["members"]) <= 4
        seen += [u["id"] for u in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        pages += 1
        if not cursor:
            break
    assert seen == [u["id"] for u in SLACK_USERS] and pages == 3
    assert call(fake, "users.list")["members"] == SLACK_USERS  # no limit: everyone
    assert call(fake, "users.list", {"cursor": "bm9wZQ=="})["error"] == "invalid_cursor"


def test_fake_lookup_by_email_and_posts(fake):
    found = call(fake, "users.lookupByEmail", {"email": "ADA@example.com"})
    assert found["ok"] is True and found["user"]["id"] == ID["ada"]
    assert found["user"]["profile"]["email"] == "ada@example.com"
    assert call(fake, "users.lookupByEmail", {"email": "x@example.com"})["error"] == "users_not_found"
    denied = call(fake, "users.lookupByEmail", {"email": "ada@example.com"},
                  token=SLACK_TOKEN_CHAT_ONLY)
    assert denied["error"] == "missing_scope" and denied["needed"] == "users:read.email"
    fake.set_slack_users([slack_user("U0ONLY0001", "only", email="only@example.com")])
    assert [u["name"] for u in call(fake, "users.list")["members"]] == ["only"]
    fake.set_slack_users(None)
    assert fake.violations() == []
    # "@name" is what Slack no longer routes: refused, and flagged as a contract violation
    res, _, _ = run("slack", "slack", {"auth_token": SLACK_TOKEN,
                                       "base_url": fake.url + "/slack/api",
                                       "iris_incident_url": "https://iris.example.com/i"},
                    [to("C0123ABCD9")])
    assert res[0]["status"] == "sent"
    req = urllib.request.Request(f"{fake.url}/slack/api/chat.postMessage",
                                 data=json.dumps({"channel": "@jdoe", "text": "x"}).encode(),
                                 headers={"Authorization": f"Bearer {SLACK_TOKEN}",
                                          "Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req) as r:
        assert json.loads(r.read())["error"] == "channel_not_found"
    assert [v["problem"] for v in fake.violations()] == [
        "channel '@jdoe': Slack no longer routes @names (post to the user's ID)"]
    fake.reset()
