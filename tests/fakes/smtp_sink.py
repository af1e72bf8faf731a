#!/usr/bin/env python3
"""An SMTP sink (aiosmtpd) that records every message it accepts, for the smtp plugin's tests
and the demo.

Modes: plain SMTP; STARTTLS (tls="starttls"); implicit TLS (tls="implicit", SMTPS). TLS uses
a self-signed certificate made with `openssl req` in a temporary directory (its path is in
.cert_file for clients that want to verify it). AUTH PLAIN/LOGIN with one user/password when
`auth=("user", "pass")` (wrong credentials get 535; with auth set, mail without AUTH gets 530).
`fail_next(code, text)` makes the next message be refused at DATA with that reply.

Each recorded message: envelope from and recipients, raw bytes, and the parsed message
(email.message.EmailMessage) — `messages` in the library, JSON lines in --record-file.

Library: `with SmtpSink(tls="starttls", auth=("u", "p")) as s: s.port; s.messages`.
CLI: smtp_sink.py [--port 0] [--port-file F] [--record-file F] [--tls starttls|implicit]
                  [--auth user:pass]
"""
import email
import email.policy
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fakebase import free_port, serve_cli


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            if self.sink.failures:
                return self.sink.failures.pop(0)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        entry = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                 "raw": raw, "message": msg,
                 "tls": session.ssl is not None or self.sink.tls == "implicit",
                 "auth": bool(getattr(session, "authenticated", False)), "at": time.time()}
        with self.sink.lock:
            self.sink.messages.append(entry)
            if self.sink.record_file:
                with open(self.sink.record_file, "a") as f:
                    f.write(json.dumps(self.sink.to_json(entry)) + "\n")
        return "250 OK queued as iris-sink-%d" % len(self.sink.messages)


class SmtpSink:
    def __init__(self, port=0, tls=None, auth=None, record_file=None):
        self.lock = threading.Lock()
        self.messages = []
        self.failures = []
        self.auth_attempts = []  # every (login, password, encrypted) an AUTH command carried
        self.record_file = record_file
        self.tls = tls
        self.tmp = tempfile.TemporaryDirectory()
        self.cert_file = self.key_file = None
        ctx = None
        if tls:
            self.cert_file = os.path.join(self.tmp.name, "cert.pem")
            self.key_file = os.path.join(self.tmp.name, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", self.key_file, "-out", self.cert_file],
                           check=True, capture_output=True)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.cert_file, self.key_file)
        kwargs = {}
        if auth:
            user, password = auth

            def authenticator(server, session, envelope, mechanism, data):
                if isinstance(data, LoginPassword):
                    with self.lock:
                        self.auth_attempts.append((data.login.decode(errors="replace"),
                                                   data.password.decode(errors="replace"),
                                                   session.ssl is not None or tls == "implicit"))
                ok = isinstance(data, LoginPassword) and data.login.decode() == user and \
                    data.password.decode() == password
                return AuthResult(success=ok, handled=False)  # handled=False: reply 535

            kwargs.update(authenticator=authenticator, auth_required=True,
                          # aiosmtpd only knows STARTTLS sessions as encrypted; an implicit
                          # TLS session is encrypted from the first byte.
                          auth_require_tls=tls == "starttls")
        if port == 0:
            port = free_port()
        if tls == "implicit":
            kwargs["ssl_context"] = ctx
        elif tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=port,
                                     server_hostname="localhost", ready_timeout=10, **kwargs)
        self.controller.start()
        self.port = port
        self.address = f"127.0.0.1:{port}"

    @staticmethod
    def to_json(entry):
        m = entry["message"]
        parts = []
        for p in (m.walk() if m.is_multipart() else [m]):
            if p.get_content_maintype() == "multipart":
                continue
            parts.append({"type": p.get_content_type(), "content": p.get_content(),
                          "transfer_encoding": p.get("Content-Transfer-Encoding")})
        return {"mail_from": entry["mail_from"], "rcpt_tos": entry["rcpt_tos"],
                "headers": {k: str(v) for k, v in m.items()}, "parts": parts,
                "tls": entry["tls"], "at": entry["at"]}

    def fail_next(self, code=451, text="Try again later"):
        with self.lock:
            self.failures.append(f"{code} {text}")

    def close(self):
        self.controller.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main():
    def add_arguments(ap):
        ap.add_argument("--record-file")
        ap.add_argument("--tls", choices=["starttls", "implicit"])
        ap.add_argument("--auth", help="user:password")

    serve_cli("smtp sink", "SMTP sink that records messages",
              lambda args: SmtpSink(args.port, args.tls,
                                    tuple(args.auth.split(":", 1)) if args.auth else None,
                                    args.record_file),
              add_arguments)


if __name__ == "__main__":
    main()
