"""What the fakes share: an HTTP server on a loopback port run in a thread (FakeServer), a
request handler with quiet logs, TCP_NODELAY and one way to answer (FakeHandler), the
queued-behaviour bookkeeping of the vendor-style fakes (Behaviours), and the command line of
a fake run as its own process (serve_cli: --port, --port-file, then wait for Ctrl-C).

TCP_NODELAY on every accepted connection: a handler writes the headers and the body of an
answer separately; without it Nagle's algorithm holds the body until the client's delayed
ACK (about 40 ms an answer), a stall the real services do not have, which benches would
measure. (The SMTP sink's asyncio server sets TCP_NODELAY on its sockets by itself.)
"""
import argparse
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(body):
    """An answer's body as bytes: dicts and lists as JSON, strings as UTF-8."""
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode()
    if isinstance(body, str):
        return body.encode()
    return body


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def body(self):
        """The request's body (Content-Length bytes)."""
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status, body=b"", headers=None):
        """Answer status with body (bytes, str, dict or list) and headers; Content-Length is
        added. A client that gave up (a timeout test) is not an error of the fake."""
        body = encode(body)
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class ScriptedHandler(FakeHandler):
    """A handler of a fake whose tests script it through the control API:

      POST /_fake/behave  {"route": R (default "*"), "responses": [...]}  queue answers
      GET  /_fake/requests     every request recorded
      GET  /_fake/violations   requests that broke the service's documented contract
      POST /_fake/reset        forget requests, violations and queued answers

    The subclass sets `state` (a Behaviours) and defines reply(status, body)."""

    state = None

    def violation(self, route, text):
        with self.state.lock:
            self.state.violations.append({"route": route, "path": self.path, "problem": text})

    def control(self, path, body=None):
        """Answer a control API request (body: the POST body, None for GET); False when path
        is not one."""
        if body is None and path in ("/_fake/requests", "/_fake/violations"):
            self.reply(200, self.state.seen() if path == "/_fake/requests" else self.state.broken())
            return True
        if body is not None and path == "/_fake/behave":
            cfg = json.loads(body)
            self.state.queue(cfg.get("route", "*"), cfg["responses"])
            self.reply(200, {"ok": True})
            return True
        if body is not None and path == "/_fake/reset":
            self.state.reset()
            self.reply(200, {"ok": True})
            return True
        return False


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1:port (0: a free one) serving handler_class in a
    daemon thread from construction until close(); a context manager."""

    def __init__(self, handler_class, port=0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler_class)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Behaviours:
    """Requests seen, contract violations and queued answers per route ("*": any route) of
    a fake whose tests script its answers; every access under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.violations = []
        self.plans = {}

    def queue(self, route, responses):
        with self.lock:
            self.plans.setdefault(route, []).extend(responses)

    def next_behaviour(self, route):
        """The next queued answer for route (or for "*"), removed; None when there is none."""
        with self.lock:
            for key in (route, "*"):
                q = self.plans.get(key)
                if q:
                    return q.pop(0)
        return None

    def seen(self, route=None):
        with self.lock:
            return [r for r in self.requests if route in (None, r["route"])]

    def broken(self):
        with self.lock:
            return list(self.violations)

    def reset(self):
        """Forget requests, violations and queued answers."""
        with self.lock:
            self.requests.clear()
            self.violations.clear()
            self.plans.clear()


def serve_cli(name, description, start, add_arguments=None, argv=None):
    """The command line of a fake run as a process: --port (0: a free one) and --port-file
    (written atomically once listening) plus what add_arguments(parser) adds; start(args)
    returns the running fake (with .port, .close() and .url or .address); prints
    "<name> on <url>" and serves until interrupted."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    if add_arguments:
        add_arguments(ap)
    args = ap.parse_args(argv)
    fake = start(args)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(fake.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"{name} on {getattr(fake, 'url', None) or fake.address}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()
