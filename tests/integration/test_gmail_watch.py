"""The coordinator keeps Gmail's watch of the paging mailbox alive, as Iris's leader did every
eight hours: through the real bootstrap and the fake Runtime API, against MariaDB and
tests/fakes/google_fake.py. The first tick renews it (Iris's INBOX/UNREAD watch on the
configured topic, with the mailbox's authorised-user credentials); the schedule is a lease row,
so the next invocation — another coordinator — does not renew it again; a refused renewal is
logged and tried again soon, and never fails the invocation."""
import irisstack as stack
from google_fake import GoogleFake

REFRESH = ("cid.apps.googleusercontent.com", "csecret-123", "1//refresh-abc")
CREDS = {"type": "authorized_user", "client_id": REFRESH[0], "client_secret": REFRESH[1],
         "refresh_token": REFRESH[2]}


def run(db, fake, creds=CREDS, invocations=1):
    cfg = stack.config(db, {}, coordinator={"tick_seconds": 1, "margin_ms": 0},
                       gmail={"credentials": __import__("json").dumps(creds),
                              "topic": "projects/iris/topics/gmail", "user": "pager@example.com",
                              "api": fake.url, "token_uri": f"{fake.url}/token"})
    return stack.run_lambda(stack.bootstrap("coordinator"), [{"source": "aws.scheduler"}] * invocations,
                            env=stack.function_env(cfg), timeout_ms=2500)


def watches(fake):
    return [r for r in fake.requests if r["path"].endswith("/watch")]


def test_renewed_once_per_schedule():
    with stack.iris_db("iris_gmail") as db, GoogleFake(refresh=REFRESH) as fake:
        inv = run(db, fake, invocations=2)
        inv.answers()
        assert [w["path"] for w in watches(fake)] == ["/gmail/v1/users/pager@example.com/watch"]
        assert fake.violations == []
        lease = stack.sql(db, "SELECT name, expires_at > UTC_TIMESTAMP() + INTERVAL 7 HOUR"
                              " FROM sender_lease WHERE name = 'gmail-watch'")
        assert lease == [["gmail-watch", "1"]]
        assert any("gmail watch renewed for pager@example.com" in (l.get("msg") or "")
                   for l in inv.logs)
        assert REFRESH[1] not in inv.proc.err and REFRESH[2] not in inv.proc.err


def test_refused_renewal_is_retried_soon_and_never_fails_the_invocation():
    with stack.iris_db("iris_gmail") as db, GoogleFake(refresh=(REFRESH[0], REFRESH[1], "x")) as fake:
        inv = run(db, fake)
        assert inv.answers()[0].get("ticks", 0) >= 1
        assert any("gmail watch not renewed" in (l.get("msg") or "") and "invalid_grant" in l["msg"]
                   for l in inv.logs)
        lease = stack.sql(db, "SELECT expires_at < UTC_TIMESTAMP() + INTERVAL 6 MINUTE"
                              " FROM sender_lease WHERE name = 'gmail-watch'")
        assert lease == [["1"]]


def test_bad_credentials_are_a_start_up_error():
    with stack.iris_db("iris_gmail") as db, GoogleFake() as fake:
        inv = run(db, fake, creds={"type": "service_account"})
        assert inv.init_error and "gmail.credentials" in inv.init_error["json"]["errorMessage"]
