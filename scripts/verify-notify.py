#!/usr/bin/env python3
"""scripts/verify-notify.py — one request to Iris's notification API (the notify function),
signed as Iris's own API client signs it; docs/verification.md step 12 uses it through
scripts/verify-env.sh's iris_notify.

    verify-notify.py (--url BASE | --bootstrap PATH) --app NAME [--sign ok|none|wrong-key]
                     [--idempotency-key KEY] METHOD PATH [BODY|-]

--url BASE        send it over HTTPS/HTTP to BASE + PATH: a deployed stack's API Gateway
                  endpoint (the stack output NotifyApiUrl), or whatever fronts Iris's API
--bootstrap PATH  locally, without HTTP: hand the request to the notify bootstrap as the
                  HTTP API event API Gateway would send (payload 2.0, stage $default),
                  through the fake Lambda Runtime API (tests/fakes/fake_runtime.py); the
                  bootstrap reads its configuration from the environment as usual

The application's key comes from $IRIS_APP_KEY (never a command-line argument, which `ps`
shows). Iris's client (linkedin/iris src/iris/client.py, IrisAuth) signs every request with
    Authorization: hmac <app>:<digest>
where digest is URL-safe base64 (with padding) of HMAC-SHA512 under the key of
    "<window> <METHOD> <path[?query]> <body>",  window = int(now) // 30
and Iris's API (src/iris/api.py) accepts the current or previous 5- or 30-second window.
--sign none sends no Authorization header; --sign wrong-key signs with a key that is not the
application's. Either must be refused with 401, as Iris refuses it.

Prints "<status> <body>" on one line and exits 0 whenever the API answered (whatever the
status, like curl without -f); 1 when the request could not be made, 2 for a usage error.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def iris_authorization(app, key, method, path, body, now=None):
    """The Authorization header Iris's client sends (body: the bytes sent)."""
    window = int(time.time() if now is None else now) // 30
    text = b"%d %s %s %s" % (window, method.encode(), path.encode(), body)
    digest = base64.urlsafe_b64encode(hmac.new(key.encode(), text, hashlib.sha512).digest())
    return f"hmac {app}:{digest.decode()}"


def http_api_event(method, path, headers, body):
    """The event API Gateway's HTTP API (payload 2.0, stage $default) hands the function."""
    raw_path, _, query = path.partition("?")
    host = "notify.local"
    return {"version": "2.0", "routeKey": f"{method} {raw_path}", "rawPath": raw_path,
            "rawQueryString": query,
            "headers": {**{k.lower(): v for k, v in headers.items()}, "host": host},
            "requestContext": {"domainName": host, "stage": "$default",
                               "http": {"method": method, "path": raw_path,
                                        "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"}},
            "body": body.decode("utf-8"), "isBase64Encoded": False}


def via_bootstrap(bootstrap, method, path, headers, body):
    sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
    from fake_runtime import FakeRuntime
    with FakeRuntime() as rt:
        rid = rt.add_event(http_api_event(method, path, headers, body), timeout_ms=30000)
        proc = rt.run_bootstrap(bootstrap, timeout=120)
        result = rt.results.get(rid)
        if rt.init_error or not result or result["kind"] != "response":
            sys.stderr.write(proc.err or "")
            raise RuntimeError(f"the notify bootstrap did not answer: {rt.init_error or result}")
        return result["json"]["statusCode"], result["json"].get("body") or ""


def via_http(base, method, path, headers, body):
    req = urllib.request.Request(base.rstrip("/") + path, data=body if method != "GET" else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the API's base URL (a stack's NotifyApiUrl)")
    where.add_argument("--bootstrap", help="the iris-notify bootstrap, run locally")
    ap.add_argument("--app", required=True, help="the Iris application the request is signed for")
    ap.add_argument("--sign", choices=("ok", "none", "wrong-key"), default="ok")
    ap.add_argument("--idempotency-key")
    ap.add_argument("method", choices=("GET", "POST"))
    ap.add_argument("path", help="/v0/notifications or /v0/notifications/ID")
    ap.add_argument("body", nargs="?", default="", help="the request body (- reads stdin)")
    args = ap.parse_args()
    if not args.path.startswith("/"):
        ap.error("the path starts with /")
    key = os.environ.get("IRIS_APP_KEY", "")
    if args.sign != "none" and not key:
        ap.error("set IRIS_APP_KEY to the application's key (Iris's application.key)")
    body = (sys.stdin.read() if args.body == "-" else args.body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if args.sign != "none":
        signing_key = key if args.sign == "ok" else "not-" + key
        headers["Authorization"] = iris_authorization(args.app, signing_key, args.method, args.path, body)
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    try:
        if args.url:
            status, answer = via_http(args.url, args.method, args.path, headers, body)
        else:
            status, answer = via_bootstrap(args.bootstrap, args.method, args.path, headers, body)
    except (OSError, RuntimeError, urllib.error.URLError) as e:
        print(f"verify-notify.py: {e}", file=sys.stderr)
        return 1
    print(status, answer.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
