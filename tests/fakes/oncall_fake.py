#!/usr/bin/env python3
"""An HTTP fake of LinkedIn Oncall's read API, as Iris's `oncall` role lookup uses it:

  GET /api/v0/teams/{team}/rosters        {roster: {"users": [{"name", "in_rotation"}],
                                                    "schedules": [], "id": n}, ...}
      an unknown team → 422 {"title": "IntegrityError", "description": "team \"x\" not found"}
  GET /api/v0/teams/{team}/oncall/{role}  [{"user", "full_name", "start", "end", "role",
                                            "contacts": {...}}, ...]   (manager, director,
      primary, secondary, shadow, ... — whatever the team was given; an unknown team or role
      answers [] like Oncall does)

Application auth is checked as Oncall checks it when it is configured (app and key given):
`Authorization: hmac <app>:<digest>` where digest is URL-safe base64 (padding kept) of
HMAC-SHA512(key, "<window> <METHOD> <PATH_INFO[?QUERY_STRING]> <body>"), window =
int(time.time()) // 5, accepted for the current or the previous window. PATH_INFO is the
percent-decoded path, as a WSGI server hands it to Oncall. A missing or wrong header is
recorded as a violation and answered 401 {"title": "Authentication failure", ...}.

Control API (for tests):
  POST /_fake/teams   {team: {"rosters": {roster: [user, ...]},
                              "oncall": {"primary": [user, ...], "manager": [...], ...}}}
       replaces those teams (a user may also be given as a dict, merged into the entry);
  POST /_fake/behave  {"route": "rosters|oncall|*", "responses": [{"status": 500, "body": ...},
                       {"status": 422}, {"stall_ms": 3000}, {"malformed": true},
                       {"wrong_type": true}, ...]}
       queues the next answers of that route (then normal behaviour resumes); "stall_ms"
       alone sleeps and then answers normally;
  GET  /_fake/requests     every request: route, method, path, team, role, headers, auth_ok
  GET  /_fake/violations   requests that broke the contract (tests assert none)
  POST /_fake/reset        forget requests, violations and queued behaviours (teams stay)

Library: `with OncallFake(app="iris", key="k") as f: f.url; f.set_team(...); f.behave(...)`.
CLI: oncall_fake.py [--port 0] [--port-file F] [--app A --key K] [--teams FILE.json]
"""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

from fakebase import Behaviours, FakeServer, ScriptedHandler, serve_cli

ROUTES = ("rosters", "oncall")


def sign(key, window, method, path, body=""):
    """Oncall's digest of one request (what its client sends after 'hmac <app>:')."""
    text = f"{window} {method} {path} {body}".encode()
    mac = hmac.new(key.encode(), text, hashlib.sha512).digest()
    return base64.urlsafe_b64encode(mac).decode()


def _user(entry, **defaults):
    if isinstance(entry, dict):
        return {**defaults, **entry}
    return {**defaults, "name": entry}


class State(Behaviours):
    def __init__(self, app=None, key=None):
        super().__init__()
        self.app = app
        self.key = key
        self.teams = {}


def make_handler(fake_state):
    state = fake_state

    class Handler(ScriptedHandler):
        state = fake_state

        def reply(self, status, body=b"", content_type="application/json"):
            self.send(status, body, {"Content-Type": content_type})

        # ---- auth, as Oncall's authenticate_application ---------------------------------
        def check_auth(self, route, body):
            if not (state.app and state.key):
                return True
            token = self.headers.get("Authorization")
            if not token:
                self.violation(route, "no Authorization header")
                return False
            if not token.startswith("hmac "):
                self.violation(route, "Authorization is not 'hmac <app>:<digest>'")
                return False
            app, sep, digest = token[5:].partition(":")
            if not sep or app != state.app:
                self.violation(route, f"unknown application {app!r}")
                return False
            raw_path, _, query = self.path.partition("?")
            path = urllib.parse.unquote(raw_path) + (f"?{query}" if query else "")
            window = int(time.time()) // 5
            for w in (window, window - 1):
                if hmac.compare_digest(digest, sign(state.key, w, self.command, path, body)):
                    return True
            self.violation(route, "wrong digest (key, window, method, path or body differ)")
            return False

        # ---- behaviours -------------------------------------------------------------------
        def apply_behaviour(self, route, shape):
            """A queued behaviour for this route: True if it answered."""
            b = state.next_behaviour(route)
            if not b:
                return False
            if b.get("stall_ms"):
                time.sleep(b["stall_ms"] / 1000)
            if b.get("malformed"):
                self.reply(b.get("status", 200), b"{this is not json")
                return True
            if b.get("wrong_type"):
                self.reply(200, [] if shape is dict else {"user": "nobody-in-particular"})
                return True
            if "status" in b:
                body = b.get("body")
                if body is None and b["status"] == 422:
                    body = {"title": "IntegrityError", "description": "team not found"}
                self.reply(b["status"], body if body is not None else "")
                return True
            return False

        # ---- dispatch ----------------------------------------------------------------------
        def do_GET(self):
            if self.control(self.path):
                return
            raw_path = self.path.partition("?")[0]
            parts = raw_path.strip("/").split("/")
            if parts[:3] != ["api", "v0", "teams"] or len(parts) not in (5, 6):
                return self.reply(404, {"title": "404 Not Found"})
            team = urllib.parse.unquote(parts[3])
            if len(parts) == 5 and parts[4] == "rosters":
                route, role, shape = "rosters", None, dict
            elif len(parts) == 6 and parts[4] == "oncall":
                route, role, shape = "oncall", urllib.parse.unquote(parts[5]), list
            else:
                return self.reply(404, {"title": "404 Not Found"})
            auth_ok = self.check_auth(route, "")
            with state.lock:
                state.requests.append({
                    "route": route, "method": self.command, "path": self.path, "team": team,
                    "role": role, "auth_ok": auth_ok, "at": time.time(),
                    "headers": {k.lower(): v for k, v in self.headers.items()}})
            if not auth_ok:
                return self.reply(401, {"title": "Authentication failure",
                                        "description": "Wrong digest"})
            if self.apply_behaviour(route, shape):
                return
            with state.lock:
                t = state.teams.get(team)
                t = json.loads(json.dumps(t)) if t is not None else None
            if route == "rosters":
                if t is None:
                    return self.reply(422, {"title": "IntegrityError",
                                            "description": f'team "{team}" not found'})
                rosters = {}
                for i, (name, users) in enumerate(sorted((t.get("rosters") or {}).items())):
                    rosters[name] = {"users": [_user(u, in_rotation=True) for u in users],
                                     "schedules": [], "id": 100 + i}
                return self.reply(200, rosters)
            now = int(time.time())
            events = []
            for u in ((t or {}).get("oncall") or {}).get(role, []):
                e = _user(u, role=role, start=now - 3600, end=now + 3600, contacts={})
                e["user"] = e.pop("name", e.get("user"))
                e.setdefault("full_name", e["user"].title())
                events.append(e)
            self.reply(200, events)

        def do_POST(self):
            body = self.body()
            path = self.path.partition("?")[0]
            if path == "/_fake/teams":
                with state.lock:
                    state.teams.update(json.loads(body))
                return self.reply(200, {"ok": True})
            if self.control(path, body):
                return
            self.reply(405, {"title": "405 Method Not Allowed"})

    return Handler


class OncallFake(FakeServer):
    def __init__(self, app="iris", key="k", port=0, teams=None):
        self.state = State(app, key)
        if teams:
            self.state.teams.update(teams)
        super().__init__(make_handler(self.state), port)

    def set_team(self, name, rosters=None, oncall=None):
        """rosters: {roster: [user, ...]}; oncall: {"primary": [user], "manager": [user], ...}."""
        with self.state.lock:
            self.state.teams[name] = {"rosters": rosters or {}, "oncall": oncall or {}}

    def remove_team(self, name):
        with self.state.lock:
            self.state.teams.pop(name, None)

    def behave(self, responses, route="*"):
        if route not in ROUTES + ("*",):
            raise ValueError(f"route must be one of {ROUTES} or '*', got {route!r}")
        self.state.queue(route, responses)

    def requests(self, route=None):
        return self.state.seen(route)

    def violations(self):
        return self.state.broken()

    def reset(self):
        self.state.reset()


def main():
    def add_arguments(ap):
        ap.add_argument("--app", help="application name Oncall knows (with --key: auth enforced)")
        ap.add_argument("--key", help="that application's key")
        ap.add_argument("--teams", help="JSON file in the /_fake/teams format")

    def start(args):
        teams = None
        if args.teams:
            with open(args.teams) as f:
                teams = json.load(f)
        return OncallFake(args.app, args.key, args.port, teams)

    serve_cli("oncall fake", "HTTP fake of LinkedIn Oncall's read API", start, add_arguments)


if __name__ == "__main__":
    main()
