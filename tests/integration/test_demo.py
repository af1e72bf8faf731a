"""The README's main job runs end to end: scripts/demo.py against the local stack (its own
database), exits 0 and prints every stage."""
import os
import subprocess
import sys
import uuid

SRC = os.environ.get("IRIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def test_demo_runs():
    db = f"iris_demo_t{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, IRIS_DEMO_DB=db)
    try:
        r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "demo.py")], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "demo finished" in r.stdout
        assert "queue round trip" in r.stdout and "EMF metrics line" in r.stdout
        assert "timeline: who was paged" in r.stdout
        assert r.stdout.count("sent ") >= 4 and "suppressed" in r.stdout
        assert "matched the vendors' documented contracts" in r.stdout
    finally:
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)
