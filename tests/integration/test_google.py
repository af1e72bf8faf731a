"""core/clients/google.h through tests/tools/iris-google against tests/fakes/google_fake.py:
service-account tokens (an RS256 JWT the fake verifies with the account's public key, as
Google does), authorised-user refresh tokens (Iris's Gmail credentials), Gmail's watch,
FCM HTTP v1 pushes for iOS and Android, a forgotten device token, a revoked access token,
refused credentials, and secrets kept out of what the tool prints."""
import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from irisstack import BUILD

from google_fake import GoogleFake

TOOL = os.path.join(BUILD, "tests", "tools", "iris-google")
EMAIL = "iris-sender@example-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key():
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()).decode()
    pub = k.public_key().public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return pem, pub


def creds_file(tmp_path, doc):
    p = tmp_path / "creds.json"
    p.write_text(json.dumps(doc))
    return str(p)


def run(creds, fake, *args, scope="https://www.googleapis.com/auth/gmail.readonly", subject=None):
    cmd = [TOOL, "--credentials", creds, "--token-uri", f"{fake.url}/token", "--api", fake.url]
    if scope:
        cmd += ["--scope", scope]
    if subject:
        cmd += ["--subject", subject]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)
    return json.loads(p.stdout.splitlines()[-1]), p.stdout + p.stderr


def service_account(key):
    return {"type": "service_account", "client_email": EMAIL, "private_key": key[0],
            "private_key_id": "k1", "token_uri": "https://oauth2.googleapis.com/token"}


def test_service_account_watch(key, tmp_path):
    with GoogleFake(client_email=EMAIL, public_key_pem=key[1], subject="pager@example.com") as f:
        out, text = run(creds_file(tmp_path, service_account(key)), f, "watch", "me",
                        "projects/iris/topics/gmail", subject="pager@example.com")
        assert out["rc"] == "IRIS_OK", out
        assert out["history_id"] == 1001 and out["expiration_ms"] > 0
        watch = [r for r in f.requests if r["path"].endswith("/watch")][0]
        assert json.loads(watch["body"]) == {"topicName": "projects/iris/topics/gmail",
                                             "labelIds": ["INBOX", "UNREAD"],
                                             "labelFilterBehavior": "include"}
        assert f.violations == []
        assert key[0].splitlines()[1] not in text


def test_wrong_key_is_refused_by_the_token_endpoint(key, tmp_path):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = other.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with GoogleFake(client_email=EMAIL, public_key_pem=pub) as f:
        out, _ = run(creds_file(tmp_path, service_account(key)), f, "watch", "me",
                     "projects/iris/topics/gmail")
        assert out["rc"] == "IRIS_EAUTH"
        assert "invalid_grant" in out["error"] and "answered 400" in out["error"]


def test_authorized_user_refresh_token(tmp_path):
    refresh = ("cid.apps.googleusercontent.com", "csecret-123", "1//refresh-abc")
    doc = {"type": "authorized_user", "client_id": refresh[0], "client_secret": refresh[1],
           "refresh_token": refresh[2]}
    with GoogleFake(refresh=refresh) as f:
        out, text = run(creds_file(tmp_path, doc), f, "watch", "pager@example.com",
                        "projects/iris/topics/gmail", scope=None)
        assert out["rc"] == "IRIS_OK", out
        assert [r["path"] for r in f.requests] == ["/token", "/gmail/v1/users/pager@example.com/watch"]
        assert refresh[1] not in text and refresh[2] not in text
    with GoogleFake(refresh=(refresh[0], refresh[1], "another")) as f:
        out, _ = run(creds_file(tmp_path, doc), f, "watch", "me", "projects/iris/topics/gmail",
                     scope=None)
        assert out["rc"] == "IRIS_EAUTH" and "invalid_grant" in out["error"]


@pytest.mark.parametrize("platform", ["ios", "android"])
def test_push(key, tmp_path, platform):
    with GoogleFake(client_email=EMAIL, public_key_pem=key[1]) as f:
        out, _ = run(creds_file(tmp_path, service_account(key)), f, "push", "iris-app", "tok-1",
                     platform, "123 disk full", "db-17: disk 97%", "123", "3",
                     scope="https://www.googleapis.com/auth/firebase.messaging")
        assert out["rc"] == "IRIS_OK", out
        sends = [json.loads(r["body"]) for r in f.requests if r["path"].endswith(":send")]
        tokens = [r for r in f.requests if r["path"] == "/token"]
        assert len(sends) == 3 and len(tokens) == 1  # the access token is reused
        msg = sends[0]["message"]
        assert msg["token"] == "tok-1" and msg["data"]["incident_id"] == "123"
        if platform == "ios":
            assert msg["notification"] == {"title": "123 disk full", "body": "db-17: disk 97%"}
            assert msg["apns"]["payload"]["aps"]["sound"] == "default"
        else:
            assert msg["data"]["title"] == "123 disk full" and msg["data"]["message"] == "db-17: disk 97%"
            assert json.loads(msg["data"]["actions"])[0]["callback"] == "claimIncident"
        assert f.violations == []


def test_forgotten_device_and_revoked_token(key, tmp_path):
    with GoogleFake(client_email=EMAIL, public_key_pem=key[1]) as f:
        f.gone.add("old-token")
        creds = creds_file(tmp_path, service_account(key))
        out, _ = run(creds, f, "push", "iris-app", "old-token", "android", "t", "b", "1",
                     scope="https://www.googleapis.com/auth/firebase.messaging")
        assert out["rc"] == "IRIS_ENOTFOUND" and "no longer registered" in out["error"]
        f.revoke_tokens()  # the next call's first token is refused: fetched again, once
        out, _ = run(creds, f, "push", "iris-app", "tok", "android", "t", "b", "1",
                     scope="https://www.googleapis.com/auth/firebase.messaging")
        assert out["rc"] == "IRIS_OK"


@pytest.mark.parametrize("doc,why", [
    ({"type": "service_account", "client_email": EMAIL}, "no client_email or private_key"),
    ({"type": "service_account", "client_email": EMAIL, "private_key": "not a key"}, "not an RSA key"),
    ({"type": "authorized_user", "client_id": "x"}, "need client_id, client_secret and refresh_token"),
    ({"type": "external_account"}, "not supported"),
    ([], "not a Google JSON key file"),
])
def test_bad_credentials(tmp_path, doc, why):
    with GoogleFake() as f:
        out, _ = run(creds_file(tmp_path, doc), f, "watch", "me", "projects/p/topics/t")
        assert out["rc"] == "IRIS_ECONFIG" and why in out["error"]
