"""The Lambda zips are self-contained: scripts/package.sh builds the layer and the function
zips; unpacked into an otherwise empty root (bubblewrap: /opt and /var/task only, no /usr,
no /lib, no /etc) the bootstrap starts under the layer's own glibc loader, loads every plugin
from /opt/lib/iris-plugins, reaches MariaDB and SQS, and answers the fake Runtime API. The
harness shipped in the layer lists every plugin from inside the same sandbox."""
import json
import os
import shutil
import subprocess
import uuid

import pytest

import irisstack as stack
from fake_runtime import FakeRuntime
from irisstack import BUILD, SRC

sanitized = "IRIS_SANITIZE:BOOL=ON" in open(os.path.join(BUILD, "CMakeCache.txt")).read()
pytestmark = pytest.mark.skipif(sanitized or not shutil.which("bwrap"),
                                reason="packaging is for release builds; needs bubblewrap")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([os.path.join(SRC, "scripts", "package.sh"), BUILD, str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    print(r.stdout)
    root = tmp_path_factory.mktemp("root")
    for name, dest in (("iris-layer.zip", "opt"), ("iris-smoke.zip", "var/task")):
        (root / dest).mkdir(parents=True, exist_ok=True)
        # unzip keeps the file modes stored in the zip, as Lambda does
        subprocess.run(["unzip", "-q", str(out / name), "-d", str(root / dest)], check=True)
    return root


def sandbox(root, argv, env):
    """argv inside a root holding only the unpacked zips (network shared: the stack is on lo)."""
    cmd = ["bwrap", "--bind", str(root / "opt"), "/opt", "--bind", str(root / "var/task"),
           "/var/task", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--clearenv"]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return cmd + argv


def test_nothing_outside_the_zips_is_needed(root):
    libs = set(os.listdir(root / "opt" / "lib"))
    assert any(l.startswith("ld-linux") for l in libs) and "libc.so.6" in libs
    for part in ("base", "db", "clients", "app", "plugin", "iris", "tmpl", "coordinator", "sender"):
        assert f"libiris-{part}.so" in libs
    plugins = sorted(os.listdir(root / "opt" / "lib" / "iris-plugins"))
    assert plugins == ["iris-dummy.so", "iris-hipchat.so", "iris-slack.so", "iris-smtp.so",
                       "iris-twilio.so"]


def test_harness_lists_every_plugin_inside_the_sandbox(root):
    r = subprocess.run(sandbox(root, ["/opt/bin/iris-plugin-harness", "--dir",
                                      "/opt/lib/iris-plugins", "--list"], {}),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = [json.loads(l) for l in r.stdout.splitlines()]
    assert sorted(p["plugin"] for p in loaded) == ["dummy", "hipchat", "slack", "smtp", "twilio"]
    for p in loaded:
        print(f"plugin {p['plugin']}: loaded in {p['load_us']} us")


def test_bootstrap_answers_the_runtime_api(root):
    db = stack.unique_name("iris_layer")
    stack.load_iris(db)
    queue = stack.aws_client("sqs").create_queue(QueueName=f"layer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    config = stack.config(db, {"smoke": queue}, host="127.0.0.1",
                          plugins={"dir": "/opt/lib/iris-plugins"})
    try:
        with FakeRuntime() as rt:
            rid = rt.add_event({"from": "the sandbox"})
            rt.finish()
            env = {"AWS_LAMBDA_RUNTIME_API": rt.address, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                   "IRIS_CONFIG_JSON": json.dumps(config), "LAMBDA_TASK_ROOT": "/var/task",
                   "IRIS_CA_FILE": "/opt/etc/ssl/ca-certificates.crt"}
            proc = subprocess.run(sandbox(root, ["/var/task/bootstrap"], env),
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            res = rt.results[rid]
            assert res["kind"] == "response", res
            doc = res["json"]
            assert doc["database"]["applications"] >= 1
            assert sorted(p["name"] for p in doc["plugins"]["loaded"]) == [
                "dummy", "hipchat", "slack", "smtp", "twilio"]
            assert doc["plugins"]["rejected"] == []
    finally:
        stack.drop_db(db)
