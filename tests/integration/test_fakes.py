"""The fakes' shared base (tests/fakes/fakebase.py): every HTTP fake answers through
FakeHandler, whose connections have TCP_NODELAY (a reply's body is not held back by Nagle's
algorithm waiting for the client's delayed ACK), and each fake's command line (--port-file,
then serving until terminated) starts a fake that answers."""
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import urllib.request

import pytest

import irisstack as stack
from fake_runtime import FakeRuntime
from fakebase import FakeHandler, FakeServer
from oncall_fake import OncallFake
from vendor_fakes import VendorFakes


class NoDelayProbe(FakeHandler):
    def do_GET(self):
        self.send(200, {"nodelay": self.connection.getsockopt(socket.IPPROTO_TCP,
                                                              socket.TCP_NODELAY)})


def test_fake_handler_sets_tcp_nodelay_on_every_connection():
    with FakeServer(NoDelayProbe) as srv:
        for _ in range(3):
            with urllib.request.urlopen(srv.url + "/") as r:
                assert json.loads(r.read())["nodelay"] != 0


@pytest.mark.parametrize("make", [FakeRuntime, OncallFake, VendorFakes])
def test_every_http_fake_answers_through_the_base(make):
    with make() as fake:
        assert issubclass(fake.server.RequestHandlerClass, FakeHandler)


@pytest.mark.parametrize("script,probe", [
    ("oncall_fake.py", "http"), ("vendor_fakes.py", "http"), ("smtp_sink.py", "smtp")])
def test_command_line_writes_its_port_and_serves(tmp_path, script, probe):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, os.path.join(stack.FAKES_DIR, script),
                             "--port-file", str(port_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert stack.wait_for(port_file.exists, timeout=30), proc.stderr.read()
        port = int(port_file.read_text())
        if probe == "http":
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/requests") as r:
                assert json.loads(r.read()) == []
        else:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                assert s.noop()[0] == 250
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert " on " in out and str(port) in out
