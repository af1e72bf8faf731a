#!/usr/bin/env python3
"""HTTP fakes of the vendor APIs the plugins call, checking requests as the vendors document
them and answering as they do. One server, one prefix per vendor:

  Twilio REST 2010-04-01   POST /twilio/2010-04-01/Accounts/{AccountSid}/Messages.json
                           POST /twilio/2010-04-01/Accounts/{AccountSid}/Calls.json
      HTTP Basic auth AccountSid:AuthToken; form-encoded bodies; SMS needs To, From (or
      MessagingServiceSid) and Body of at most 1600 characters; calls need To, From and Url
      (or Twiml). Success: 201 with {"sid": "SM…"/"CA…", "status": "queued", …}; errors with
      Twilio's error document {"code", "message", "more_info", "status"}.
  Slack Web API            POST /slack/api/chat.postMessage                 route slack
                           GET|POST /slack/api/users.lookupByEmail          route slack.lookup
                           GET|POST /slack/api/users.list                   route slack.users
      The token as "Authorization: Bearer <token>" or a `token` argument: none → not_authed,
      another → invalid_auth (SLACK_TOKEN_CHAT_ONLY has chat:write without users:read and
      users:read.email: the user methods answer missing_scope with `needed`). Slack answers
      HTTP 200 with {"ok": false, "error": …} for every refusal.
      chat.postMessage: JSON (application/json; charset=utf-8); channel and
      text/blocks/attachments required. The channel is a conversation ID (C…/G…/D…), a user
      ID of the workspace (the app's DM with that user: answers channel "D…"), or a "#name";
      "#missing" and "C0MISSING0" do not exist, "#private" is one the bot is not in. "@name"
      is what Slack no longer routes: channel_not_found, and a contract violation.
      users.lookupByEmail (users:read.email): argument email (query or form), matched without
      regard to case → {"ok": true, "user": {…}}, else users_not_found.
      users.list (users:read): arguments limit (1-1000; absent: everyone) and cursor (a
      previous answer's response_metadata.next_cursor, opaque; a bad one → invalid_cursor) →
      {"ok": true, "members": [user, …], "cache_ts", "response_metadata": {"next_cursor"}},
      next_cursor "" on the last page.
      The workspace's users: SLACK_USERS, or what VendorFakes.set_slack_users() sets; each
      user as Slack returns it (id, team_id, name, deleted, real_name, is_bot, profile with
      display_name and email).
  HipChat v2               POST /hipchat/v2/room/{room}/notification
                           POST /hipchat/v2/user/{user}/message
      Bearer token or ?auth_token=; JSON {message (1-10000 chars), message_format html|text,
      color, notify}; 204 on success; room "missing" → 404.

Control API (for tests):
  POST /_fake/behave {"route": "twilio.sms|twilio.call|slack|slack.lookup|slack.users|"
                               "hipchat.room|hipchat.user|*",
                      "responses": [{"status": 500, "body": "...", "headers": {...}},
                                    {"stall_ms": 3000}, {"malformed": true}, ...]}
       queues the next answers of that route (then normal behaviour resumes);
  GET  /_fake/requests     every request: route, method, path, headers, parsed body, query,
                           and (once answered) its status and answered_at
  GET  /_fake/violations   requests that broke the documented contract (tests assert none)
  POST /_fake/reset

Library: `with VendorFakes() as f: f.url; f.behave(...); f.requests(); f.violations()`.
CLI: vendor_fakes.py [--port 0] [--port-file F] [--record-file F]
"""
import base64
import json
import random
import re
import time
import urllib.parse

from fakebase import Behaviours, ScriptedFake, ScriptedHandler, encode, serve_cli

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-auth-token"
SLACK_TOKEN = "xoxb-test-slack-token"
SLACK_TOKEN_CHAT_ONLY = "xoxb-test-slack-token-chat-only"
SLACK_TEAM = "T0IRIS0001"


def slack_user(uid, name, display_name="", email=None, deleted=False, real_name=None):
    """A user as Slack's users.list and users.lookupByEmail return one."""
    real = real_name or name.replace(".", " ").title()
    return {"id": uid, "team_id": SLACK_TEAM, "name": name, "deleted": deleted,
            "real_name": real, "tz": "Europe/London", "is_bot": False, "is_admin": False,
            "updated": 1700000000,
            "profile": {"real_name": real, "real_name_normalized": real,
                        "display_name": display_name, "display_name_normalized": display_name,
                        "status_text": "", "email": email, "team": SLACK_TEAM}}


# The default workspace: the demo data's people (whose Iris slack contacts are "@<name>"), the
# test suites' jdoe and amy (an Enterprise Grid W… id), a deactivated user, two people with
# one display name, and one known by a display name unlike their name.
SLACK_USERS = [
    slack_user("U0ADA00001", "ada", "Ada", "ada@example.com"),
    slack_user("U0GRACE001", "grace", "Grace H", "grace@example.com"),
    slack_user("U0LINUS001", "linus", "", "linus@example.org"),
    slack_user("U0WEI00001", "wei", "Wei Z", "wei@example.net"),
    slack_user("U0JDOE0001", "jdoe", "", "jdoe@example.com"),
    slack_user("W0AMY00001", "amy", "Amy", "amy@example.com"),
    slack_user("U0OLDDEV01", "olddev", "", "olddev@example.com", deleted=True),
    slack_user("U0CAROL001", "carol.s", "Carol", "carol.s@example.com"),
    slack_user("U0CAROL002", "carol.t", "Carol", "carol.t@example.com"),
    slack_user("U0NIGHT001", "nmorgan", "Night Owl ✓", "nmorgan@example.com"),
]
SLACK_ID = re.compile(r"^[UWCGD][A-Z0-9]{8,}$")
SLACK_USER_METHODS = ("/slack/api/users.lookupByEmail", "/slack/api/users.list")


def slack_handle(channel, users=SLACK_USERS):
    """The Iris contact ("@<name>") of the user whose ID a post went to, else the channel."""
    for u in users:
        if u["id"] == channel:
            return "@" + u["name"]
    return channel
HIPCHAT_TOKEN = "hipchat-test-token"


def _sid(prefix):
    return prefix + "".join(random.choice("0123456789abcdef") for _ in range(32))


class State(Behaviours):
    def __init__(self, record_file=None):
        super().__init__()
        self.record_file = record_file
        self.slack_users = [dict(u) for u in SLACK_USERS]

    def reset(self):
        """Forget requests, violations and queued answers; the default Slack users again."""
        super().reset()
        with self.lock:
            self.slack_users = [dict(u) for u in SLACK_USERS]


def make_handler(fake_state):
    state = fake_state

    class Handler(ScriptedHandler):
        state = fake_state

        # ---- plumbing -----------------------------------------------------------------
        def reply(self, status, body=b"", headers=None, content_type="application/json"):
            entry = getattr(self, "_entry", None)
            if entry is not None:  # what the vendor answered, for tests that account pages
                entry["status"], entry["answered_at"] = status, time.time()
                self._entry = None
            body = encode(body)
            self.send(status, body, {**({"Content-Type": content_type} if body else {}),
                                     **(headers or {})})

        def record(self, route, body, parsed):
            entry = {"route": route, "method": self.command, "path": self.path,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": parsed, "raw": body.decode("utf-8", "replace"),
                     "at": time.time()}
            self._entry = entry
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
            path, _, query = self.path.partition("?")
            if self.control(self.path):
                return
            if path in SLACK_USER_METHODS:
                return self.slack_users(path, b"", query)
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
            if path in SLACK_USER_METHODS:
                return self.slack_users(path, body, query)
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
            if channel.startswith("@"):
                self.violation(route, f"channel {channel!r}: Slack no longer routes @names "
                                      "(post to the user's ID)")
                return self.reply(200, {"ok": False, "error": "channel_not_found"})
            if channel == "#private":
                return self.reply(200, {"ok": False, "error": "not_in_channel"})
            with state.lock:
                users = {u["id"]: u for u in state.slack_users}
            if channel.startswith("#") and channel != "#missing":
                where = "C0123456789"
            elif channel[:1] in "UW" and channel in users and not users[channel]["deleted"]:
                where = "D" + channel[1:]  # the app's direct message with that user
            elif SLACK_ID.match(channel) and channel[0] in "CGD" and channel != "C0MISSING0":
                where = channel
            else:
                return self.reply(200, {"ok": False, "error": "channel_not_found"})
            self.reply(200, {"ok": True, "channel": where,
                             "ts": f"{time.time():.6f}", "message": {"text": doc.get("text", "")}})

        def slack_users(self, path, body, query):
            """users.lookupByEmail and users.list: arguments from the query string or a form
            or JSON body, the token from the Authorization header or the token argument."""
            method = path.rsplit("/", 1)[1]
            route = {"users.lookupByEmail": "slack.lookup", "users.list": "slack.users"}[method]
            ctype = self.headers.get("Content-Type", "")
            args = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
            if body and ctype.startswith("application/json"):
                try:
                    args.update({k: str(v) for k, v in json.loads(body).items()})
                except (ValueError, AttributeError):
                    pass
            elif body:
                args.update({k: v[0] for k, v in urllib.parse.parse_qs(
                    body.decode("utf-8", "replace")).items()})
            self.record(route, body, {k: v for k, v in args.items() if k != "token"})
            if self.apply_behaviour(route):
                return
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else args.get("token")
            if not token:
                return self.reply(200, {"ok": False, "error": "not_authed"})
            if token not in (SLACK_TOKEN, SLACK_TOKEN_CHAT_ONLY):
                return self.reply(200, {"ok": False, "error": "invalid_auth"})
            scope = "users:read.email" if method == "users.lookupByEmail" else "users:read"
            if token == SLACK_TOKEN_CHAT_ONLY:
                return self.reply(200, {"ok": False, "error": "missing_scope", "needed": scope,
                                        "provided": "chat:write"})
            with state.lock:
                users = [dict(u) for u in state.slack_users]
            if method == "users.lookupByEmail":
                email = args.get("email")
                if not email:
                    self.violation(route, "missing email")
                    return self.reply(200, {"ok": False, "error": "invalid_arguments"})
                for u in users:
                    if (u["profile"].get("email") or "").lower() == email.lower():
                        return self.reply(200, {"ok": True, "user": u})
                return self.reply(200, {"ok": False, "error": "users_not_found"})
            start, limit = 0, len(users)
            if "limit" in args:
                try:
                    limit = int(args["limit"])
                except ValueError:
                    limit = -1
                if not 0 <= limit <= 1000:
                    self.violation(route, f"limit {args['limit']!r} (Slack takes up to 1000)")
                    return self.reply(200, {"ok": False, "error": "invalid_limit"})
                limit = limit or len(users)
            cursor = args.get("cursor", "")
            if cursor:
                try:
                    start = [f"user:{u['id']}" for u in users].index(
                        base64.b64decode(cursor, validate=True).decode())
                except (ValueError, UnicodeDecodeError):
                    return self.reply(200, {"ok": False, "error": "invalid_cursor"})
            page = users[start:start + limit]
            more = users[start + limit:start + limit + 1]
            next_cursor = base64.b64encode(f"user:{more[0]['id']}".encode()).decode() if more else ""
            self.reply(200, {"ok": True, "members": page, "cache_ts": int(time.time()),
                             "response_metadata": {"next_cursor": next_cursor}})

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


class VendorFakes(ScriptedFake):
    def __init__(self, port=0, record_file=None, handler_for=make_handler):
        """handler_for(state) makes the request handler (a fake of one more vendor passes
        its own, built on make_handler's)."""
        self.state = State(record_file)
        super().__init__(handler_for(self.state), port)

    def behave(self, route, responses):
        self.state.queue(route, responses)

    def set_slack_users(self, users):
        """The Slack workspace's users from now on (slack_user() dicts); None: SLACK_USERS."""
        with self.state.lock:
            self.state.slack_users = [dict(u) for u in (users or SLACK_USERS)]



def main():
    serve_cli("vendor fakes", "HTTP fakes of Twilio, Slack and HipChat",
              lambda args: VendorFakes(args.port, args.record_file),
              lambda ap: ap.add_argument("--record-file"))


if __name__ == "__main__":
    main()
