"""HTTP fake of MessageBird's REST API (https://rest.messagebird.com, documented at
https://developers.messagebird.com), checking requests as MessageBird documents them and
answering as it does. Mounted under the prefix /messagebird:

  POST /messagebird/messages        send an SMS            route "messagebird.sms"
  POST /messagebird/voicemessages   send a voice message   route "messagebird.call"
  GET  /messagebird/balance         the account balance    route "messagebird.balance"

  Authentication: header "Authorization: AccessKey <key>"; anything else is 401 with
      {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)",
                   "parameter": "access_key"}]}.
  Requests are JSON (Content-Type: application/json), with
      originator  required: a phone number (optional "+", digits) or at most 11 letters and
                  digits;
      recipients  required: an array (or comma-separated string) of MSISDNs, digits only
                  (strings or numbers), at most 50;
      body        required, non-empty;
      reference   optional string;
      voice only: language (one of MessageBird's TTS languages), voice (male|female),
                  repeat (1-10), ifMachine (continue|delay|hangup).
  A missing or invalid parameter is 422 with {"errors": [{"code": 9 or 10, "description",
  "parameter"}]}; recipient 999… numbers are "not enough balance" (422, code 25). Success is
  201 with the message object: {"id": 32 hex, "href", "direction": "mt", "type": "sms",
  "originator", "body", "reference", "createdDatetime", "recipients": {"totalCount",
  "totalSentCount", "items": [{"recipient", "status": "sent", ...}]}} (voice: "language",
  "voice", "repeat", "ifMachine" instead of "direction"/"type").

Shares the control API of vendor_fakes.py (behave/requests/violations/reset, stalls and
malformed answers); a request that breaks the contract above is recorded as a violation.
Library: `with MessageBirdFake() as f: f.url + "/messagebird"; f.requests("messagebird.sms")`.
"""
import datetime
import json
import random
import re
import threading
from http.server import ThreadingHTTPServer

from vendor_fakes import State, VendorFakes, make_handler

MESSAGEBIRD_KEY = "live_messagebird_test_access_key"
TTS_LANGUAGES = {"cy-gb", "da-dk", "de-de", "el-gr", "en-au", "en-gb", "en-gb-wls", "en-in",
                 "en-us", "es-es", "es-mx", "es-us", "fr-ca", "fr-fr", "id-id", "is-is", "it-it",
                 "ja-jp", "ko-kr", "ms-my", "nb-no", "nl-nl", "pl-pl", "pt-br", "pt-pt", "ro-ro",
                 "ru-ru", "sv-se", "ta-in", "th-th", "tr-tr", "vi-vn", "zh-cn", "zh-hk"}
ORIGINATOR = re.compile(r"^(\+?[0-9]{1,17}|[A-Za-z0-9]{1,11})$")


def _error(code, description, parameter=None):
    e = {"code": code, "description": description}
    if parameter:
        e["parameter"] = parameter
    return {"errors": [e]}


def make_messagebird_handler(state):
    Base = make_handler(state)

    class Handler(Base):
        def do_GET(self):
            if self.path == "/messagebird/balance":
                self.record("messagebird.balance", b"", None)
                if not self.authorised("messagebird.balance"):
                    return None
                if self.apply_behaviour("messagebird.balance"):
                    return None
                return self.reply(200, {"payment": "prepaid", "type": "euros", "amount": 42})
            return super().do_GET()

        def do_POST(self):
            path = self.path.partition("?")[0]
            route = {"/messagebird/messages": "messagebird.sms",
                     "/messagebird/voicemessages": "messagebird.call"}.get(path)
            if not route:
                return super().do_POST()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            return self.message(route, body)

        def authorised(self, route):
            if self.headers.get("Authorization") != f"AccessKey {MESSAGEBIRD_KEY}":
                self.violation(route, "Authorization is not 'AccessKey <the test key>'")
                self.reply(401, _error(2, "Request not allowed (incorrect access_key)",
                                       "access_key"))
                return False
            return True

        def message(self, route, raw):
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            self.record(route, raw, doc)
            if not self.authorised(route):
                return None
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                self.violation(route, f"Content-Type {ctype!r} is not application/json")
            if "application/json" not in self.headers.get("Accept", "application/json"):
                self.violation(route, "Accept does not allow application/json")
            if self.apply_behaviour(route):
                return None
            if not isinstance(doc, dict):
                self.violation(route, "body is not a JSON object")
                return self.reply(422, _error(21, "Bad request (invalid JSON)"))
            problem = self.check(route, doc)
            if problem:
                code, text, param = problem
                self.violation(route, f"{param}: {text}")
                return self.reply(422, _error(code, text, param))
            recipients = self.recipients(doc["recipients"])
            if any(r.startswith("999") for r in recipients):
                return self.reply(422, _error(25, "Not enough balance"))
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
            mid = "".join(random.choice("0123456789abcdef") for _ in range(32))
            kind = "voicemessages" if route == "messagebird.call" else "messages"
            answer = {"id": mid, "href": f"https://rest.messagebird.com/{kind}/{mid}",
                      "originator": doc["originator"], "body": doc["body"],
                      "reference": doc.get("reference"), "createdDatetime": now,
                      "recipients": {"totalCount": len(recipients),
                                     "totalSentCount": len(recipients),
                                     "items": [{"recipient": int(r), "status": "sent",
                                                "statusDatetime": now} for r in recipients]}}
            if route == "messagebird.call":
                answer.update(language=doc.get("language", "en-gb"),
                              voice=doc.get("voice", "female"), repeat=doc.get("repeat", 1),
                              ifMachine=doc.get("ifMachine", "continue"))
            else:
                answer.update(direction="mt", type="sms", datacoding="plain")
            return self.reply(201, answer)

        @staticmethod
        def recipients(value):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]

        def check(self, route, doc):
            """(code, description, parameter) of the first documented rule broken, or None."""
            for key in ("originator", "recipients", "body"):
                if key not in doc or doc[key] in ("", [], None):
                    return 9, f"{key} is required", key
            if not isinstance(doc["originator"], str) or not ORIGINATOR.match(doc["originator"]):
                return 10, "originator must be a phone number or at most 11 alphanumerics", \
                    "originator"
            rec = doc["recipients"]
            if not isinstance(rec, (list, str)):
                return 10, "recipients must be an array of MSISDNs", "recipients"
            items = self.recipients(rec)
            if not items or len(items) > 50 or not all(
                    isinstance(v, (int, str)) and re.fullmatch(r"[0-9]{3,20}", str(v))
                    for v in (rec if isinstance(rec, list) else items)):
                return 9, "no (correct) recipients found", "recipients"
            if not isinstance(doc["body"], str):
                return 10, "body must be a string", "body"
            if "reference" in doc and not isinstance(doc["reference"], str):
                return 10, "reference must be a string", "reference"
            known = {"originator", "recipients", "body", "reference", "reportUrl", "validity",
                     "gateway", "scheduledDatetime"}
            if route == "messagebird.call":
                known |= {"language", "voice", "repeat", "ifMachine", "machineTimeout"}
                if doc.get("language", "en-gb") not in TTS_LANGUAGES:
                    return 10, "language is not supported", "language"
                if doc.get("voice", "female") not in ("male", "female"):
                    return 10, "voice must be male or female", "voice"
                rep = doc.get("repeat", 1)
                if not isinstance(rep, int) or isinstance(rep, bool) or not 1 <= rep <= 10:
                    return 10, "repeat must be 1-10", "repeat"
                if doc.get("ifMachine", "continue") not in ("continue", "delay", "hangup"):
                    return 10, "ifMachine must be continue, delay or hangup", "ifMachine"
            else:
                known |= {"type", "datacoding", "mclass", "typeDetails"}
            extra = set(doc) - known
            if extra:
                return 10, f"unknown parameter {sorted(extra)[0]}", sorted(extra)[0]
            return None

    return Handler


class MessageBirdFake(VendorFakes):
    """VendorFakes' control methods (behave, requests, violations, reset, close) over a
    server that speaks MessageBird."""

    def __init__(self, port=0):  # pylint: disable=super-init-not-called
        self.state = State()
        self.server = ThreadingHTTPServer(("127.0.0.1", port),
                                          make_messagebird_handler(self.state))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
