"""A third party's path, exactly as docs/plugin-guide.md tells it: install the ABI (header +
pkg-config file) into a prefix, build examples/plugin-hello out of tree with nothing but
`pkg-config --cflags iris-plugin`, load it with iris-plugin-harness and send through it to a
local webhook."""
import json
import os
import shutil
import subprocess

from fakebase import FakeHandler, FakeServer
from harness_util import HARNESS
from irisstack import BUILD, SRC

seen = []


class Hook(FakeHandler):
    protocol_version = "HTTP/1.0"  # one request a connection

    def do_POST(self):
        seen.append(json.loads(self.body()))
        self.send(200 if len(seen) < 3 else 503)


def test_build_out_of_tree_and_load(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix), "--component",
                    "Unspecified"], check=True, capture_output=True)
    pcdirs = [str(p) for p in prefix.rglob("pkgconfig")]
    assert pcdirs and (prefix / "include" / "iris_plugin.h").exists()
    work = tmp_path / "hello"
    shutil.copytree(os.path.join(SRC, "examples", "plugin-hello"), work)
    env = dict(os.environ, PKG_CONFIG_PATH=":".join(pcdirs))
    cflags = subprocess.run(["pkg-config", "--cflags", "iris-plugin"], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert cflags.startswith("-I")
    assert os.path.realpath(cflags[2:]) == os.path.realpath(prefix / "include")
    r = subprocess.run(["make", "-C", str(work)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    so = str(work / "iris-hello.so")

    listed = subprocess.run([HARNESS, "--plugin", so, "--list"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    info = json.loads(listed.stdout)
    assert info["plugin"] == "hello" and info["modes"] == ["sms"]

    with FakeServer(Hook) as srv:
        msgs = [{"message_id": str(i), "destination": "+15550001"} for i in (1, 2, 3)]
        (tmp_path / "m.json").write_text(json.dumps(msgs))
        r = subprocess.run([HARNESS, "--plugin", so, "--vendor", "hello", "--mode", "sms",
                            "--set", f"url={srv.url}/hook",
                            "--messages", str(tmp_path / "m.json")], capture_output=True, text=True)
        out = [json.loads(l) for l in r.stdout.splitlines()]
        assert [o["status"] for o in out] == ["sent", "sent", "retryable"]
        assert out[0]["vendor_message_id"] == "hello-1"
        assert r.returncode == 1  # not everything was sent
        assert [s["message_id"] for s in seen] == ["1", "2", "3"]
        bad = subprocess.run([HARNESS, "--plugin", so, "--vendor", "hello", "--mode", "sms",
                              "--messages", str(tmp_path / "m.json")], capture_output=True, text=True)
        assert bad.returncode == 2 and "option 'url' is required" in bad.stderr
