"""The smtp plugin against a real SMTP server (aiosmtpd): a top-level multipart/alternative
(text/plain, then text/html) with UTF-8 quoted-printable parts laid out as Iris's smtp vendor
lays them out with Python's email.mime, RFC 2047 subjects, Iris's X-IRIS headers, Bcc only in the envelope,
header injection refused, STARTTLS and implicit TLS with AUTH, and every failure class:
bad credentials, 4xx and 5xx replies, STARTTLS required but not offered, unreachable server,
a server that stalls."""
import email
import email.charset
import email.policy
import email.utils
import socket
import threading
import time
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from harness_util import run
from smtp_sink import SmtpSink

MSG = {"message_id": "4242", "incident_id": 17, "destination": "oncall@example.com",
       "bcc": ["audit@example.com"], "subject": "Incident 17: Диск заполнен ✓ on db-1",
       "body": "Disk full on db-1.\nLine two with ünïcode.",
       "email_html": "<p>Disk full on <b>db-1</b> ✓</p>", "application": "nagios",
       "priority": "high", "plan": "db-oncall",
       "extra": {"from_address": "nagios-alerts@example.com"}}


def cfg(port, **over):
    c = {"from": "iris@example.com", "server": f"127.0.0.1:{port}", "tls": "none",
         "timeout_ms": "3000"}
    c.update(over)
    return c


def test_message_structure():
    with SmtpSink() as sink:
        res, rc, err = run("smtp", "email", cfg(sink.port), [MSG])
        assert rc == 0, err
        assert res[0]["status"] == "sent" and res[0]["vendor_message_id"].startswith("<iris.4242.")
        [m] = sink.messages
        assert m["mail_from"] == "nagios-alerts@example.com"
        assert sorted(m["rcpt_tos"]) == ["audit@example.com", "oncall@example.com"]
        msg = m["message"]
        assert msg["Subject"] == MSG["subject"]          # decoded from RFC 2047
        assert b"=?UTF-8?B?" in m["raw"]                  # ... and it was encoded
        assert msg["To"] == "oncall@example.com" and msg["From"] == "nagios-alerts@example.com"
        assert "Bcc" not in msg and b"audit@example.com" not in m["raw"]
        assert msg["X-IRIS-APPLICATION"] == "nagios" and msg["X-IRIS-PRIORITY"] == "high"
        assert msg["X-IRIS-PLAN"] == "db-oncall" and msg["X-IRIS-INCIDENT-ID"] == "17"
        assert msg["Message-ID"] == res[0]["vendor_message_id"]
        parts = [p for p in msg.walk() if not p.is_multipart()]
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
        assert all(p.get_content_charset() == "utf-8" for p in parts)
        assert parts[0].get_content().replace("\r\n", "\n").rstrip("\n") == MSG["body"]
        assert parts[1].get_content().strip() == MSG["email_html"]
        assert msg.get_content_type() == "multipart/alternative"


def iris_layout(body, html):
    """The message Python's email.mime builds for this content the way Iris's smtp vendor lays
    it out: the message is a multipart/alternative holding the text part, then the HTML part
    when there is HTML, each UTF-8 and quoted-printable (Iris forces quoted-printable for
    Gmail's one-click). Parsed back, as the sink parses what it receives."""
    qp = email.charset.Charset("utf-8")
    qp.body_encoding = email.charset.QP
    top = MIMEMultipart("alternative")
    for text, subtype in ((body, "plain"), (html, "html")):
        if text:
            top.attach(MIMEText(text, subtype, qp))
    return email.message_from_bytes(top.as_bytes(), policy=email.policy.default)


def layout(part):
    """A message's MIME structure and decoded content: (type, [children]) for a multipart,
    (type, charset, transfer encoding, text) for a leaf (line ends as LF, the final one off)."""
    if part.is_multipart():
        return (part.get_content_type(), [layout(p) for p in part.iter_parts()])
    return (part.get_content_type(), part.get_content_charset(),
            part["Content-Transfer-Encoding"],
            part.get_content().replace("\r\n", "\n").rstrip("\n"))


def test_mime_structure_is_iris():
    """What the SMTP server received, parsed with Python's email package, has the structure
    email.mime gives Iris's layout of the same content — with and without HTML — and the
    headers the plugin sets (per-application From, Reply-To, encoded subject, Date,
    Message-ID) survive."""
    html_msg = dict(MSG, body="Диск заполнен on db-1.\nÜnïcode line two ✓\n" + "long line " * 20,
                    extra={"from_address": "nagios-alerts@example.com",
                           "reply_to": "noc@example.com"})
    plain_msg = dict(html_msg, message_id="4243", email_html=None, subject="Only text ✓")
    with SmtpSink() as sink:
        res, rc, err = run("smtp", "email", cfg(sink.port), [html_msg, plain_msg])
        assert rc == 0, err
        got_html, got_plain = (m["message"] for m in sink.messages)
    assert layout(got_html) == layout(iris_layout(html_msg["body"], html_msg["email_html"]))
    assert layout(got_plain) == layout(iris_layout(plain_msg["body"], None))
    assert layout(got_html)[0] == "multipart/alternative"
    assert [p[0] for p in layout(got_html)[1]] == ["text/plain", "text/html"]
    assert [p[0] for p in layout(got_plain)[1]] == ["text/plain"]
    for got, sent, r in ((got_html, html_msg, res[0]), (got_plain, plain_msg, res[1])):
        assert got["Subject"] == sent["subject"]
        assert got["From"] == "nagios-alerts@example.com" and got["Reply-To"] == "noc@example.com"
        assert got["Message-ID"] == r["vendor_message_id"]
        assert email.utils.parsedate_to_datetime(got["Date"]).tzinfo is not None
        assert got["MIME-Version"] == "1.0" and got.get_content_charset() is None


def test_plain_text_only_and_header_injection():
    with SmtpSink() as sink:
        res, rc, _ = run("smtp", "email", cfg(sink.port), [
            {"message_id": "1", "destination": "a@example.com", "subject": "hi\r\nBcc: evil@x.com",
             "body": "plain"},
            {"message_id": "2", "destination": "a@example.com\r\nRCPT TO:<evil@x.com>", "body": "x"},
            {"message_id": "3", "destination": "not-an-address", "body": "x"}])
        assert [r["status"] for r in res] == ["sent", "permanent", "permanent"]
        [m] = sink.messages
        assert m["rcpt_tos"] == ["a@example.com"]
        assert m["message"]["Bcc"] is None and m["message"]["Subject"] == "hi  Bcc: evil@x.com"
        # no HTML: the alternative holds the text part alone, as Iris's does
        assert m["message"].get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in m["message"].iter_parts()] == ["text/plain"]


def test_starttls_with_auth():
    with SmtpSink(tls="starttls", auth=("alerts", "s3cret-pass")) as sink:
        c = cfg(sink.port, tls="starttls", tls_verify="false", username="alerts",
                password="s3cret-pass")
        res, rc, err = run("smtp", "email", c, [MSG])
        assert rc == 0, err
        assert sink.messages[0]["tls"] is True and sink.messages[0]["auth"] is True
        # CA verification against the sink's own certificate works too.
        res, rc, err = run("smtp", "email", dict(c, tls_verify="true", ca_file=sink.cert_file,
                                                 server=f"localhost:{sink.port}"), [MSG])
        assert rc == 0, err
        # An unverifiable certificate is a permanent (configuration) failure.
        res, _, _ = run("smtp", "email", dict(c, tls_verify="true"), [MSG])
        assert res[0]["status"] == "permanent"
        res, _, _ = run("smtp", "email", dict(c, password="wrong", auth="PLAIN"), [MSG])
        assert res[0]["status"] == "permanent", res
        assert "Login denied" in res[0]["error"] and "535" in res[0]["error"]


def test_implicit_tls_with_auth_and_secret():
    with SmtpSink(tls="implicit", auth=("alerts", "s3cret-pass")) as sink:
        c = cfg(sink.port, tls="implicit", tls_verify="false", username="alerts",
                password="secretsmanager:smtp/password")
        res, rc, err = run("smtp", "email", c, [MSG],
                           extra_args=["--secret", "smtp/password=s3cret-pass"])
        assert rc == 0, err
        assert sink.messages[0]["tls"] is True


def test_starttls_required_but_not_offered():
    with SmtpSink() as sink:
        res, _, _ = run("smtp", "email", cfg(sink.port, tls="starttls"), [MSG])
        assert res[0]["status"] == "permanent" and sink.messages == []
        # opportunistic falls back to plain when the server offers nothing
        res, _, _ = run("smtp", "email", cfg(sink.port, tls="opportunistic"), [MSG])
        assert res[0]["status"] == "sent"


def test_password_never_in_clear_when_starttls_is_missing():
    """A server that offers no STARTTLS (or a man in the middle who strips it) must not get
    the password: the default tls=opportunistic refuses AUTH over plain TCP."""
    with SmtpSink(auth=("alerts", "s3cret-pass")) as sink:
        c = cfg(sink.port, tls="opportunistic", username="alerts", password="s3cret-pass")
        res, rc, err = run("smtp", "email", c, [MSG])
        assert rc == 1 and res[0]["status"] != "sent", res
        assert "STARTTLS" in res[0]["error"] and "clear" in res[0]["error"], res
        assert sink.auth_attempts == [] and sink.messages == []
        assert "s3cret-pass" not in err and "s3cret-pass" not in res[0]["error"]
        # tls=none with a password is refused at init unless the operator says so ...
        res, rc, err = run("smtp", "email", dict(c, tls="none"), [MSG])
        assert rc == 2 and "allow_plaintext_auth" in err and sink.auth_attempts == []
        # ... and when they do, the plugin sends, after a loud warning at init.
        res, rc, err = run("smtp", "email", dict(c, tls="none", allow_plaintext_auth="true"),
                           [MSG])
        assert rc == 0 and res[0]["status"] == "sent", (res, err)
        assert "clear text" in err and "s3cret-pass" not in err
        assert sink.auth_attempts == [("alerts", "s3cret-pass", False)]


def test_reply_codes_are_classified():
    with SmtpSink() as sink:
        sink.fail_next(451, "4.3.0 Try again later")
        sink.fail_next(554, "5.7.1 Message rejected")
        res, rc, _ = run("smtp", "email", cfg(sink.port), [MSG, MSG, MSG])
        assert [r["status"] for r in res] == ["retryable", "permanent", "sent"]
        assert "451" in res[0]["error"] and "554" in res[1]["error"]
        assert rc == 1


def test_unreachable_and_stalled_servers():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res, _, _ = run("smtp", "email", cfg(port), [MSG])
    assert res[0]["status"] == "retryable" and "connect" in res[0]["error"].lower()
    # A server that accepts the connection and never greets.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    t = time.monotonic()
    res, _, _ = run("smtp", "email", cfg(srv.getsockname()[1], timeout_ms="1000"), [MSG])
    srv.close()
    assert res[0]["status"] == "retryable" and time.monotonic() - t < 10


def test_configuration_errors():
    _, rc, err = run("smtp", "email", {"server": "x"}, [MSG])
    assert rc == 2 and "'from' is required" in err
    _, rc, err = run("smtp", "email", {"from": "a@b", "tls": "sometimes"}, [MSG])
    assert rc == 2 and "tls must be" in err
    _, rc, err = run("smtp", "email", {"from": "a@b", "username": "u"}, [MSG])
    assert rc == 2 and "go together" in err
    res, _, _ = run("smtp", "email", {"from": "a@b", "smtp_gateway": "nonexistent.invalid"}, [MSG])
    assert res[0]["status"] == "retryable" and "MX" in res[0]["error"]


def test_im_mode():
    with SmtpSink() as sink:
        res, rc, _ = run("smtp", "im", cfg(sink.port), [dict(MSG, email_html=None)])
        assert rc == 0
        msg = sink.messages[0]["message"]
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain"]
