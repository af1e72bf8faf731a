"""A third party's path, exactly as docs/plugin-guide.md tells it: build the plugin SDK alone
(-DIRIS_SDK_ONLY=ON: no MariaDB, cmark or cmocka looked for), install it (header, pkg-config
file, iris-plugin-harness and the libraries it links) into a temporary prefix, build
examples/plugin-hello out of tree with nothing but `pkg-config --cflags iris-plugin`, load it
with the INSTALLED harness and send through it to a local webhook. Also: the SDK component
of a full build, the harness's --help and its redaction of --secret values."""
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


SDK_FILES = {"include/iris_plugin.h", "lib/pkgconfig/iris-plugin.pc", "bin/iris-plugin-harness",
             "lib/libiris-base.so", "lib/libiris-clients.so", "lib/libiris-plugin.so"}


def installed(prefix):
    return {str(p.relative_to(prefix)) for p in prefix.rglob("*") if p.is_file()}


def sdk_only_prefix(tmp_path):
    """Configure, build and install the SDK alone, as a plugin author would."""
    build, prefix = tmp_path / "sdk-build", tmp_path / "sdk"
    r = subprocess.run(["cmake", "-S", SRC, "-B", str(build), "-DIRIS_SDK_ONLY=ON",
                        "-DCMAKE_BUILD_TYPE=Release"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cache = (build / "CMakeCache.txt").read_text()
    assert "MARIADB" not in cache and "CMARK" not in cache and "CMOCKA" not in cache
    r = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    r = subprocess.run(["cmake", "--install", str(build), "--component", "sdk", "--prefix",
                        str(prefix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert installed(prefix) == SDK_FILES
    for f in ("bin/iris-plugin-harness", "lib/libiris-plugin.so"):
        ldd = subprocess.run(["ldd", str(prefix / f)], capture_output=True, text=True).stdout
        assert "not found" not in ldd and "mariadb" not in ldd and "cmark" not in ldd, ldd
        # the installed copies find each other inside the prefix, not in the build tree
        assert str(build) not in ldd and "libiris-base.so => " + str(prefix) in ldd, ldd
    return prefix


def test_full_build_installs_the_same_sdk(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix), "--component", "sdk"],
                   check=True, capture_output=True)
    assert installed(prefix) == SDK_FILES


def test_harness_help_and_secret_redaction(tmp_path):
    r = subprocess.run([HARNESS, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for word in ("--messages", "destinations", "incident_id", "extra", "--plugin NAME",
                 "--name NAME", "--secret", "secretsmanager:"):
        assert word in r.stdout, word
    dummy = os.path.join(BUILD, "plugins", "out", "iris-dummy.so")
    secret = "hunter2-very-secret"
    # A plugin that echoes a resolved secret in its init error, and one in its send error.
    r = subprocess.run([HARNESS, "--load", dummy, "--plugin", "dummy", "--mode", "sms",
                        "--set", "fail=secretsmanager:dummy/fail", "--secret",
                        f"dummy/fail={secret}", "--messages", "-"], input="{}",
                       capture_output=True, text=True)
    assert r.returncode == 2 and "bad value '[REDACTED]'" in r.stderr, r.stderr
    assert secret not in r.stdout + r.stderr
    r = subprocess.run([HARNESS, "--load", dummy, "--plugin", "dummy", "--mode", "sms",
                        "--set", "fail_destination=secretsmanager:d", "--secret", f"d={secret}",
                        "--messages", "-"],
                       input=json.dumps({"message_id": "1", "destination": secret}),
                       capture_output=True, text=True)
    assert r.returncode == 1 and secret not in r.stdout + r.stderr
    assert "destination [REDACTED] refused" in json.loads(r.stdout)["error"]
    # An unresolvable reference and a malformed --secret are refused without echoing values.
    r = subprocess.run([HARNESS, "--load", dummy, "--plugin", "dummy", "--mode", "sms",
                        "--set", "fail=secretsmanager:missing", "--messages", "-"], input="{}",
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing" in r.stderr
    r = subprocess.run([HARNESS, "--secret", secret, "--list"], capture_output=True, text=True)
    assert r.returncode == 2 and secret not in r.stderr


def test_build_out_of_tree_and_load(tmp_path):
    prefix = sdk_only_prefix(tmp_path)
    harness = str(prefix / "bin" / "iris-plugin-harness")
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

    listed = subprocess.run([harness, "--load", so, "--list"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    info = json.loads(listed.stdout)
    assert info["plugin"] == "hello" and info["modes"] == ["sms"]

    with FakeServer(Hook) as srv:
        msgs = [{"message_id": str(i), "destination": "+15550001"} for i in (1, 2, 3)]
        (tmp_path / "m.json").write_text(json.dumps(msgs))
        r = subprocess.run([harness, "--load", so, "--plugin", "hello", "--mode", "sms",
                            "--set", f"url={srv.url}/hook",
                            "--messages", str(tmp_path / "m.json")], capture_output=True, text=True)
        out = [json.loads(l) for l in r.stdout.splitlines()]
        assert [o["status"] for o in out] == ["sent", "sent", "retryable"]
        assert out[0]["vendor_message_id"] == "hello-1"
        assert r.returncode == 1  # not everything was sent
        assert [s["message_id"] for s in seen] == ["1", "2", "3"]
        bad = subprocess.run([harness, "--load", so, "--plugin", "hello", "--mode", "sms",
                              "--messages", str(tmp_path / "m.json")], capture_output=True, text=True)
        assert bad.returncode == 2 and "option 'url' is required" in bad.stderr
