#!/usr/bin/env python3
"""A fake AWS Lambda Runtime API (2018-06-01) that drives a real bootstrap process.

Library:
    with FakeRuntime() as rt:
        rid = rt.add_event({"Records": [...]}, timeout_ms=5000)
        proc = rt.run_bootstrap("build/release/lambda/sender/bootstrap", env={...})
        rt.results[rid] -> {"kind": "response"|"error", "body": bytes, "json": ..., "headers": {...}}
        rt.init_error   -> same shape, or None

CLI (prints one JSON line per result, then the bootstrap's exit status):
    fake_runtime.py --bootstrap PATH [--event FILE|-]... [--timeout-ms N] [--trace-id T]

It behaves like the real Runtime API where a bootstrap could tell the difference: `next`
blocks until an event is queued (no answer while the sandbox is "frozen"), answers carry the
Lambda-Runtime-* headers, an answer for an unknown or already-answered request id gets 400
(InvalidRequestID / already answered), a malformed error document gets 400, and when the
script is done `next` answers 500, which tells the bootstrap to exit. Every request is
recorded in `requests` for tests to inspect.
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import unquote

from fakebase import FakeHandler, FakeServer, stop_process

PREFIX = "/2018-06-01/runtime"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:iris-test"


class FakeRuntime(FakeServer):
    def __init__(self, response_limit=6 * 1024 * 1024):
        self.events = queue.Queue()
        self.results = {}
        self.pending = set()
        self.served = {}  # request id -> time.monotonic() it was handed out
        self.init_error = None
        self.requests = []
        self.response_limit = response_limit
        self.finished = threading.Event()
        self.done = threading.Condition()
        rt = self

        class Handler(FakeHandler):
            # TCP_NODELAY (FakeHandler): the real Runtime API does not hold a reply's body
            # for ~40 ms, so neither may the fake, or benches would measure the fake.
            reply = FakeHandler.send

            def do_GET(self):
                rt.requests.append(("GET", self.path, dict(self.headers.items()), b""))
                if self.path != PREFIX + "/invocation/next":
                    return self.reply(404, b'{"errorType":"NotFound"}')
                while True:
                    if rt.finished.is_set() and rt.events.empty():
                        return self.reply(500, b'{"errorType":"Runtime.ExitRequested"}')
                    try:
                        ev = rt.events.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                rt.pending.add(ev["id"])
                rt.served[ev["id"]] = time.monotonic()
                headers = {"Lambda-Runtime-Aws-Request-Id": ev["id"],
                           "Lambda-Runtime-Deadline-Ms": str(ev["deadline_ms"]),
                           "Lambda-Runtime-Invoked-Function-Arn": ev["arn"],
                           "Content-Type": "application/json"}
                if ev["trace_id"]:
                    headers["Lambda-Runtime-Trace-Id"] = ev["trace_id"]
                self.reply(200, ev["body"], headers)

            def do_POST(self):
                body = self.body()
                n = len(body)
                hdrs = dict(self.headers.items())
                rt.requests.append(("POST", self.path, hdrs, body))
                if self.path == PREFIX + "/init/error":
                    rt.init_error = rt._result("error", body, hdrs)
                    rt.finished.set()
                    with rt.done:
                        rt.done.notify_all()
                    return self.reply(202, b'{"status":"OK"}')
                parts = self.path[len(PREFIX):].split("/")
                # ['', 'invocation', '<id>', 'response'|'error']
                if len(parts) != 4 or parts[1] != "invocation" or parts[3] not in ("response", "error"):
                    return self.reply(404, b'{"errorType":"NotFound"}')
                rid, kind = unquote(parts[2]), parts[3]  # the id is one encoded segment
                if rid not in rt.pending:
                    return self.reply(400, json.dumps({"errorType": "InvalidRequestID",
                                                       "errorMessage": f"unknown or already answered request {rid}"}).encode())
                if kind == "response" and n > rt.response_limit:
                    return self.reply(413, b'{"errorType":"RequestEntityTooLarge"}')
                res = rt._result(kind, body, hdrs)
                # how long the bootstrap held the event: from handing it out to its answer
                res["held_s"] = time.monotonic() - rt.served.get(rid, time.monotonic())
                if kind == "error" and not (isinstance(res["json"], dict) and
                                            isinstance(res["json"].get("errorMessage"), str) and
                                            isinstance(res["json"].get("errorType"), str)):
                    return self.reply(400, b'{"errorType":"InvalidErrorDocument"}')
                rt.pending.discard(rid)
                with rt.done:
                    rt.results[rid] = res
                    rt.done.notify_all()
                self.reply(202, b'{"status":"OK"}')

        super().__init__(Handler)

    @staticmethod
    def _result(kind, body, headers):
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        return {"kind": kind, "body": body, "json": doc, "headers": headers}

    def add_event(self, event, request_id=None, timeout_ms=30000, deadline_ms=None,
                  trace_id="Root=1-5e1b4151-5ac6c58f3e4b4e7f8e6a1234;Parent=53995c3f42cd8ad8;Sampled=1",
                  arn=ARN):
        rid = request_id or str(uuid.uuid4())
        if isinstance(event, (dict, list)):
            body = json.dumps(event).encode()
        elif isinstance(event, str):
            body = event.encode()
        else:
            body = event
        self.events.put({"id": rid, "body": body, "trace_id": trace_id, "arn": arn,
                         "deadline_ms": deadline_ms or int(time.time() * 1000) + timeout_ms})
        return rid

    def finish(self):
        """After the queued events, answer `next` with 500 so the bootstrap exits."""
        self.finished.set()

    def wait_results(self, ids, timeout=60):
        end = time.time() + timeout
        with self.done:
            while not all(i in self.results for i in ids) and self.init_error is None:
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError(f"no answer for {[i for i in ids if i not in self.results]}")
                self.done.wait(left)
        return [self.results.get(i) for i in ids]

    def start_bootstrap(self, path, env=None, **popen):
        e = dict(os.environ)
        e.update(env or {})
        e["AWS_LAMBDA_RUNTIME_API"] = self.address
        e.setdefault("AWS_LAMBDA_FUNCTION_NAME", "iris-test")
        return subprocess.Popen([path], env=e, **popen)

    def run_bootstrap(self, path, env=None, timeout=120, **popen):
        """Start the bootstrap, serve every queued event, then make it exit; returns the
        finished Popen (stdout/stderr captured as text unless overridden)."""
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        popen.setdefault("text", True)
        self.finish()
        proc = self.start_bootstrap(path, env, **popen)
        proc.out, proc.err = proc.communicate(timeout=timeout)
        return proc

    def stop_bootstrap(self, proc, timeout=30):
        """Make a bootstrap started with start_bootstrap exit (after the queued events) and
        wait for it; killed after timeout seconds. True when it exited by itself."""
        self.finish()
        return stop_process(proc, timeout)

    def close(self):
        self.finished.set()
        super().close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--event", action="append", default=[],
                    help="file with one event (JSON), or - for stdin; repeatable")
    ap.add_argument("--timeout-ms", type=int, default=30000)
    ap.add_argument("--trace-id", default=None)
    args = ap.parse_args()
    with FakeRuntime() as rt:
        ids = []
        for ev in args.event or ["-"]:
            text = sys.stdin.read() if ev == "-" else open(ev).read()
            kw = {"timeout_ms": args.timeout_ms}
            if args.trace_id:
                kw["trace_id"] = args.trace_id
            ids.append(rt.add_event(text, **kw))
        proc = rt.run_bootstrap(args.bootstrap, stdout=None, stderr=None)
        if rt.init_error:
            print(json.dumps({"init_error": rt.init_error["json"]}))
        for rid in ids:
            r = rt.results.get(rid)
            print(json.dumps({"request_id": rid, "kind": r and r["kind"],
                              "body": r and (r["json"] if r["json"] is not None else r["body"].decode(errors="replace"))}))
        return 0 if proc.returncode in (0, 1) and all(i in rt.results for i in ids) else 1


if __name__ == "__main__":
    sys.exit(main())
