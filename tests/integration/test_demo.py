"""The README's main job runs end to end: scripts/demo.py against the local stack (its own
database and queues) — the real coordinator escalating, aggregating and enqueueing, the real
sender delivering through the plugins — exits 0 only when its own checks pass (every page
exactly once, nothing after a claim, the tracking copy and the batch delivered, MySQL and the
vendors agreeing), and prints every stage."""
import os
import re
import subprocess
import sys
import time

import irisstack as stack


def test_demo_runs():
    db = stack.unique_name("iris_demo_t")
    env = dict(os.environ, IRIS_DEMO_DB=db)
    t0 = time.monotonic()
    try:
        r = subprocess.run([sys.executable, os.path.join(stack.SRC, "scripts", "demo.py")], env=env,
                           capture_output=True, text=True, timeout=300)
        out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)  # without the colours
        assert r.returncode == 0, out + r.stderr
        assert "demo finished" in out and "all checks passed" in out
        # stage 1: the smoke bootstrap
        assert "queue round trip" in out and "EMF metrics line" in out
        # stage 2: coordinator invocations and pages while it runs, then the timeline
        assert "coordinator #1" in out and "coordinator #2" in out
        assert "incident 600 escalated to step 2" in out
        assert "linus claims incident 601" in out
        timeline = out[out.index("timeline: who was paged"):]
        assert timeline.count(" sent") >= 15
        assert "tracking copy" in out and "batched: one page for" in out
        assert "left out of the batch" in out
        assert "matched the vendors' documented contracts" in out
        # one API notification through notify: posted, delivered, looked up
        assert "POST /v0/notifications (Autoalerts) → iris-notify: 200 []" in out
        assert "literal_target:api-demo@example.com sent — sent by email" in out
        print(f"demo ran in {time.monotonic() - t0:.0f} s")
    finally:
        stack.drop_db(db)
