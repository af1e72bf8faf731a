#!/usr/bin/env python3
"""An HTTP fake of the Google endpoints the sender uses, checking their documented contracts:

  POST /token   OAuth 2.0 token endpoint (application/x-www-form-urlencoded):
      grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>   (RFC 7523)
          the JWT must be RS256-signed by the service account's key (verified with the
          public key, as Google does), with iss = the account's client_email, aud = this
          endpoint's URL, a scope, iat within a minute of now and exp = iat + at most 3600 s,
          and sub when a subject was configured;
      grant_type=refresh_token&client_id&client_secret&refresh_token           (RFC 6749 §6)
      → 200 {"access_token", "expires_in": 3599, "token_type": "Bearer"}, or 400
        {"error": "invalid_grant", "error_description": ...} (as Google answers).
  POST /gmail/v1/users/{userId}/watch   {"topicName", "labelIds", "labelFilterBehavior"}
      → {"historyId": "<n>", "expiration": "<unix ms>"} (both strings, as Gmail sends them)
  POST /v1/projects/{project}/messages:send   {"message": {"token", ...}}   (FCM HTTP v1)
      → {"name": "projects/<p>/messages/<n>"}; a token listed in `gone` → 404 with the
        UNREGISTERED error detail.
Every API call must carry `Authorization: Bearer <a token this fake issued>`; anything else is
a 401 and a recorded violation.

Library: `with GoogleFake(client_email=..., public_key_pem=..., refresh=(id, secret, token))
as f: f.url; f.requests; f.violations; f.gone.add(token); f.revoke_tokens()`.
"""
import base64
import json
import secrets
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from fakebase import FakeHandler, FakeServer


def _b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class GoogleFake(FakeServer):
    def __init__(self, client_email=None, public_key_pem=None, refresh=None, subject=None):
        self.client_email = client_email
        self.public_key = (serialization.load_pem_public_key(public_key_pem.encode())
                           if public_key_pem else None)
        self.refresh = refresh
        self.subject = subject
        self.tokens = set()
        self.gone = set()
        self.requests = []
        self.violations = []
        self.history = 1000
        fake = self

        class Handler(FakeHandler):
            def reply(self, status, doc):
                self.send(status, doc, {"Content-Type": "application/json"})

            def do_POST(self):
                raw = self.body()
                path = urllib.parse.urlsplit(self.path).path
                fake.requests.append({"path": path, "headers": dict(self.headers.items()),
                                      "body": raw.decode("utf-8", "replace")})
                if path == "/token":
                    return self.reply(*fake._token(raw, self.headers))
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in fake.tokens:
                    fake.violations.append(f"{path}: no valid bearer token")
                    return self.reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                      "message": "Request had invalid authentication credentials."}})
                try:
                    doc = json.loads(raw)
                except ValueError:
                    fake.violations.append(f"{path}: body is not JSON")
                    return self.reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                      "message": "bad JSON"}})
                parts = path.split("/")
                if path.startswith("/gmail/v1/users/") and path.endswith("/watch"):
                    return self.reply(*fake._watch(urllib.parse.unquote(parts[4]), doc))
                if path.startswith("/v1/projects/") and path.endswith("/messages:send"):
                    return self.reply(*fake._push(urllib.parse.unquote(parts[3]), doc))
                return self.reply(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": path}})

        super().__init__(Handler)

    def revoke_tokens(self):
        self.tokens.clear()

    def _issue(self):
        token = "ya29." + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _bad(self, why):
        self.violations.append(f"/token: {why}")
        return 400, {"error": "invalid_grant", "error_description": why}

    def _token(self, raw, headers):
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._bad("the token request is not form-encoded")
        form = dict(urllib.parse.parse_qsl(raw.decode(), strict_parsing=True))
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if not self.refresh or (form.get("client_id"), form.get("client_secret"),
                                    form.get("refresh_token")) != tuple(self.refresh):
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            return self._issue()
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._bad(f"unsupported grant_type {grant!r}")
        try:
            head_b64, claims_b64, sig_b64 = form["assertion"].split(".")
            head = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            self.public_key.verify(_b64url_decode(sig_b64), f"{head_b64}.{claims_b64}".encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
        except (KeyError, ValueError, InvalidSignature) as e:
            return self._bad(f"the assertion is not a valid RS256 JWT ({type(e).__name__})")
        now = time.time()
        if head.get("alg") != "RS256":
            return self._bad("alg is not RS256")
        if claims.get("iss") != self.client_email:
            return self._bad("iss is not the service account")
        if claims.get("aud") != f"{self.url}/token":
            return self._bad(f"aud {claims.get('aud')!r} is not the token endpoint")
        if not claims.get("scope"):
            return self._bad("no scope")
        if abs(claims.get("iat", 0) - now) > 60 or not 0 < claims.get("exp", 0) - claims["iat"] <= 3600:
            return self._bad("iat/exp out of range")
        if self.subject is not None and claims.get("sub") != self.subject:
            return self._bad("sub is not the configured subject")
        return self._issue()

    def _watch(self, user, doc):
        if not doc.get("topicName", "").startswith("projects/") or "/topics/" not in doc["topicName"]:
            self.violations.append("watch: topicName is not projects/<p>/topics/<t>")
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid topicName"}}
        self.history += 1
        return 200, {"historyId": str(self.history),
                     "expiration": str(int(time.time() * 1000) + 7 * 86400 * 1000)}

    def _push(self, project, doc):
        msg = doc.get("message", {})
        token = msg.get("token")
        if not token or set(msg) - {"token", "notification", "data", "android", "apns"}:
            self.violations.append(f"push: message fields {sorted(msg)}")
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad message"}}
        if any(not isinstance(v, str) for v in msg.get("data", {}).values()):
            self.violations.append("push: a data value is not a string")
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "data"}}
        if token in self.gone:
            return 404, {"error": {"code": 404, "status": "NOT_FOUND",
                                   "message": "Requested entity was not found.",
                                   "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                                "errorCode": "UNREGISTERED"}]}}
        return 200, {"name": f"projects/{project}/messages/{len(self.requests)}"}
