#!/usr/bin/env python3
"""HTTP fakes of the vendor APIs the plugins call, checking requests as the vendors document
them and answering as they do. One server, one prefix per vendor:

  Twilio REST 2010-04-01   POST /twilio/2010-04-01/Accounts/{AccountSid}/Messages.json
                           POST /twilio/2010-04-01/Accounts/{AccountSid}/Calls.json
      HTTP Basic auth AccountSid:AuthToken; form-encoded bodies; SMS needs To, From (or
      MessagingServiceSid) and Body of at most 1600 characters; calls need To, From and Url
      (or Twiml). Success: 201 with {"sid": "SM…"/"CA…", "status": "queued", …}; errors with
      Twilio's error document {"code", "message", "more_info", "status"}.
  Slack Web API            POST /slack/api/chat.postMessage
      Authorization: Bearer <bot token>; JSON (application/json; charset=utf-8); channel and
      text/blocks/attachments required. Answers {"ok": true, "channel", "ts"} or
      {"ok": false, "error": "invalid_auth" | "channel_not_found" | "not_in_channel"}; channel
      "#missing" does not exist, "#private" is one the bot is not in.
  HipChat v2               POST /hipchat/v2/room/{room}/notification
                           POST /hipchat/v2/user/{user}/message
      Bearer token or ?auth_token=; JSON {message (1-10000 chars), message_format html|text,
      color, notify}; 204 on success; room "missing" → 404.

Control API (for tests):
  POST /_fake/behave {"route": "twilio.sms|twilio.call|slack|hipchat.room|hipchat.user|*",
                      "responses": [{"status": 500, "body": "...", "headers": {...}},
                                    {"stall_ms": 3000}, {"malformed": true}, ...]}
       queues the next answers of that route (then normal behaviour resumes);
  GET  /_fake/requests     every request: route, method, path, headers, parsed body, query
  GET  /_fake/violations   requests that broke the documented contract (tests assert none)
  POST /_fake/reset

Library: `with VendorFakes() as f: f.url; f.behave(...); f.requests(); f.violations()`.
CLI: vendor_fakes.py [--port 0] [--port-file F] [--record-file F]
"""
import base64
import json
import random
import time
import urllib.parse

from fakebase import Behaviours, FakeServer, ScriptedHandler, encode, serve_cli

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-auth-token"
SLACK_TOKEN = "xoxb-test-slack-token"
HIPCHAT_TOKEN = "hipchat-test-token"


def _sid(prefix):
    return prefix + "".join(random.choice("0123456789abcdef") for _ in range(32))


class State(Behaviours):
    def __init__(self, record_file=None):
        super().__init__()
        self.record_file = record_file


def make_handler(fake_state):
    state = fake_state

    class Handler(ScriptedHandler):
        state = fake_state

        # ---- plumbing -----------------------------------------------------------------
        def reply(self, status, body=b"", headers=None, content_type="application/json"):
            body = encode(body)
            self.send(status, body, {**({"Content-Type": content_type} if body else {}),
                                     **(headers or {})})

        def record(self, route, body, parsed):
            entry = {"route": route, "method": self.command, "path": self.path,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": parsed, "raw": body.decode("utf-8", "replace"),
                     "at": time.time()}
            with state.lock:
                state.requests.append(entry)
                if state.record_file:
                    with open(state.record_file, "a") as f:
                        f.write(json.dumps(entry) + "\n")

        def apply_behaviour(self, route):
            """A queued behaviour for this route: True if it answered."""
            b = state.next_behaviour(route)
            if not b:
                return False
            if b.get("stall_ms"):
                time.sleep(b["stall_ms"] / 1000)
                if "status" not in b:
                    return False
            if b.get("malformed"):
                self.reply(b.get("status", 200), b"{this is not json", content_type="application/json")
                return True
            if "status" in b:
                self.reply(b["status"], b.get("body", ""), b.get("headers"))
                return True
            return False

        # ---- dispatch ------------------------------------------------------------------
        def do_GET(self):
            if not self.control(self.path):
                self.reply(404, {"error": "no such route"})

        def do_POST(self):
            body = self.body()
            path, _, query = self.path.partition("?")
            if self.control(path, body):
                return
            parts = path.strip("/").split("/")
            if parts[:3] == ["twilio", "2010-04-01", "Accounts"] and len(parts) == 5:
                kind = {"Messages.json": "twilio.sms", "Calls.json": "twilio.call"}.get(parts[4])
                if kind:
                    return self.twilio(kind, parts[3], body)
            if path == "/slack/api/chat.postMessage":
                return self.slack(body)
            if parts[:3] == ["hipchat", "v2", "room"] and len(parts) == 5 and parts[4] == "notification":
                return self.hipchat("hipchat.room", urllib.parse.unquote(parts[3]), body, query)
            if parts[:3] == ["hipchat", "v2", "user"] and len(parts) == 5 and parts[4] == "message":
                return self.hipchat("hipchat.user", urllib.parse.unquote(parts[3]), body, query)
            self.reply(404, {"error": "no such route"})

        # ---- Twilio --------------------------------------------------------------------
        def twilio_error(self, status, code, message):
            self.reply(status, {"code": code, "message": message,
                                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                "status": status})

        def twilio(self, route, account, body):
            ctype = self.headers.get("Content-Type", "")
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                               keep_blank_values=True).items()}
            self.record(route, body, form)
            if self.apply_behaviour(route):
                return
            auth = self.headers.get("Authorization", "")
            expect = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            if auth != expect or account != TWILIO_SID:
                return self.twilio_error(401, 20003, "Authenticate")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                self.violation(route, f"Content-Type {ctype!r}, Twilio expects form encoding")
                return self.twilio_error(400, 21000, "Invalid Content-Type")
            if "To" not in form:
                self.violation(route, "missing To")
                return self.twilio_error(400, 21604, "A 'To' phone number is required.")
            if "From" not in form and "MessagingServiceSid" not in form:
                self.violation(route, "missing From")
                return self.twilio_error(400, 21603, "A 'From' phone number is required.")
            if route == "twilio.sms":
                text = form.get("Body", "")
                if not text:
                    self.violation(route, "missing Body")
                    return self.twilio_error(400, 21602, "Message body is required.")
                if len(text) > 1600:
                    self.violation(route, f"Body of {len(text)} characters (limit 1600)")
                    return self.twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
                if form["To"] == "+15005550001":  # Twilio's magic invalid number
                    return self.twilio_error(400, 21211, "The 'To' number +15005550001 is not a valid phone number.")
                sid = _sid("SM")
            else:
                if "Url" not in form and "Twiml" not in form:
                    self.violation(route, "missing Url/Twiml")
                    return self.twilio_error(400, 21205, "Url parameter is required.")
                sid = _sid("CA")
            self.reply(201, {"sid": sid, "account_sid": TWILIO_SID, "to": form["To"],
                             "from": form.get("From"), "status": "queued",
                             "body": form.get("Body"), "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/{sid}.json"})

        # ---- Slack ---------------------------------------------------------------------
        def slack(self, body):
            route = "slack"
            ctype = self.headers.get("Content-Type", "")
            try:
                doc = json.loads(body) if ctype.startswith("application/json") else None
            except ValueError:
                doc = None
            self.record(route, body, doc)
            if self.apply_behaviour(route):
                return
            if self.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
                return self.reply(200, {"ok": False, "error": "invalid_auth"})
            if doc is None:
                self.violation(route, f"body is not JSON (Content-Type {ctype!r})")
                return self.reply(200, {"ok": False, "error": "invalid_json"})
            if "charset=utf-8" not in ctype.replace(" ", "").lower():
                self.violation(route, "JSON without charset=utf-8 (Slack warns: missing_charset)")
            channel = doc.get("channel")
            if not channel:
                self.violation(route, "missing channel")
                return self.reply(200, {"ok": False, "error": "channel_not_found"})
            if not (doc.get("text") or doc.get("blocks") or doc.get("attachments")):
                self.violation(route, "no text, blocks or attachments")
                return self.reply(200, {"ok": False, "error": "no_text"})
            if channel == "#missing":
                return self.reply(200, {"ok": False, "error": "channel_not_found"})
            if channel == "#private":
                return self.reply(200, {"ok": False, "error": "not_in_channel"})
            self.reply(200, {"ok": True, "channel": "C0123456789",
                             "ts": f"{time.time():.6f}", "message": {"text": doc.get("text", "")}})

        # ---- HipChat -------------------------------------------------------------------
        def hipchat(self, route, where, body, query):
            ctype = self.headers.get("Content-Type", "")
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            self.record(route, body, doc)
            if self.apply_behaviour(route):
                return
            token = urllib.parse.parse_qs(query).get("auth_token", [None])[0]
            bearer = self.headers.get("Authorization", "")
            if token != HIPCHAT_TOKEN and bearer != f"Bearer {HIPCHAT_TOKEN}":
                return self.reply(401, {"error": {"code": 401, "type": "Unauthorized",
                                                  "message": "Invalid OAuth session"}})
            if not ctype.startswith("application/json") or not isinstance(doc, dict):
                self.violation(route, f"body must be JSON (Content-Type {ctype!r})")
                return self.reply(400, {"error": {"code": 400, "type": "Bad Request",
                                                  "message": "Invalid JSON"}})
            msg = doc.get("message")
            if not isinstance(msg, str) or not 1 <= len(msg) <= 10000:
                self.violation(route, "message must be 1-10000 characters")
                return self.reply(400, {"error": {"code": 400, "type": "Bad Request",
                                                  "message": "Invalid message length"}})
            if doc.get("message_format", "html") not in ("html", "text"):
                self.violation(route, "message_format must be html or text")
            if route == "hipchat.room" and where == "missing":
                return self.reply(404, {"error": {"code": 404, "type": "Not Found",
                                                  "message": "Room not found"}})
            self.reply(204)

    return Handler


class VendorFakes(FakeServer):
    def __init__(self, port=0, record_file=None):
        self.state = State(record_file)
        super().__init__(make_handler(self.state), port)

    def behave(self, route, responses):
        self.state.queue(route, responses)

    def requests(self, route=None):
        return self.state.seen(route)

    def violations(self):
        return self.state.broken()

    def reset(self):
        self.state.reset()


def main():
    serve_cli("vendor fakes", "HTTP fakes of Twilio, Slack and HipChat",
              lambda args: VendorFakes(args.port, args.record_file),
              lambda ap: ap.add_argument("--record-file"))


if __name__ == "__main__":
    main()
