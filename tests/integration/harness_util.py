"""Run a plugin through iris-plugin-harness (the real loader and host services) and read the
JSON results; shared by the per-vendor plugin test suites."""
import json
import os
import subprocess

import irisstack as stack

HARNESS = os.path.join(stack.BUILD, "lambda", "tools", "iris-plugin-harness")
PLUGINS = stack.PLUGINS_DIR


def run(plugin, mode, config, messages, extra_args=(), timeout=60):
    args = [HARNESS, "--load", os.path.join(PLUGINS, f"iris-{plugin}.so"), "--plugin", plugin,
            "--mode", mode]
    for k, v in config.items():
        args += ["--set", f"{k}={v}"]
    args += list(extra_args) + ["--messages", "-"]
    r = subprocess.run(args, input=json.dumps(messages), capture_output=True, text=True,
                       timeout=timeout)
    results = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    return results, r.returncode, r.stderr
