"""docs/verification.md runs as written: every ```sh block, in order, in one bash session
against the local target `scripts/verify.py start` prepares (its own database and fakes), and
each block's output must equal the ```text block that follows it. The ```console blocks
(preparing a machine, the AWS variant) are not run: the test prepares its target itself with
the same script."""
import os
import re
import subprocess
import uuid

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
DOC = os.path.join(SRC, "docs", "verification.md")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```\n", re.M | re.S)


def steps():
    """[(heading, line, commands, expected or None)] in the order of the page."""
    text = open(DOC, encoding="utf-8").read()
    out, heading = [], "Prepare"
    blocks = [(m.start(), m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.M)]
    for i, (pos, lang, body) in enumerate(blocks):
        if lang != "sh":
            continue
        heading = [h for p, h in heads if p < pos][-1]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = nxt[2] if nxt and nxt[1] == "text" else None
        out.append((heading, text.count("\n", 0, pos) + 1, body, expected))
    return out


def test_every_step_runs_and_shows_what_the_page_says(tmp_path):
    found = steps()
    assert len(found) >= 16, "docs/verification.md lost its steps"
    d = tmp_path / "verify"
    db = f"iris_verify_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "IRIS_VERIFY_DB": db, "IRIS_BUILD_DIR": BUILD}
    r = subprocess.run(["python3", os.path.join(SRC, "scripts", "verify.py"), "start", str(d)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # each block runs in the session itself (functions and variables carry over); a failing
    # command is reported through the block's status, which the trap records
    script = ["set -o pipefail", "_rc=0", "trap '_rc=1' ERR"]
    for i, (_, _, body, _) in enumerate(found):
        script += [f"echo '@@begin {i}'", "_rc=0", body, f"echo \"@@end {i} $_rc\""]
    try:
        p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=SRC, capture_output=True, text=True,
                           env={**env, "IRIS_VERIFY_DIR": str(d), "IRIS_TARGET": "local"}, timeout=1500)
        outputs = {int(m.group(1)): (m.group(2), int(m.group(3))) for m in
                   re.finditer(r"^@@begin (\d+)\n(.*?)^@@end \1 (\d+)$", p.stdout, re.M | re.S)}
        problems = []
        for i, (heading, line, body, expected) in enumerate(found):
            if i not in outputs:
                problems.append(f"{heading} (line {line}): did not run to its end\n{p.stderr[-3000:]}")
                break
            got, rc = outputs[i]
            if rc:
                problems.append(f"{heading} (line {line}): a command failed\n{got}")
            if expected is not None and got.rstrip() != expected.rstrip():
                problems.append(f"{heading} (line {line}): expected\n{expected}got\n{got}")
        assert not problems, "\n\n".join(problems) + "\n\nstderr:\n" + p.stderr[-4000:]
    finally:
        subprocess.run(["python3", os.path.join(SRC, "scripts", "verify.py"), "stop", str(d)],
                       env=env, capture_output=True)


def test_existing_iris_compressed_clock_runs(tmp_path):
    """docs/existing-iris.md's compressed clock (its ```sql block) runs on Iris's schema with
    the sender's migrations and moves an escalated incident's times back."""
    text = open(os.path.join(SRC, "docs", "existing-iris.md"), encoding="utf-8").read()
    [block] = [m.group(2) for m in FENCE.finditer(text) if m.group(1) == "sql"]
    db = f"iris_exist_{uuid.uuid4().hex[:8]}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True, capture_output=True)
    try:
        def sql(q):
            r = subprocess.run(["mariadb", "--protocol=TCP", "-h", os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"),
                                "-P", os.environ.get("IRIS_TEST_MYSQL_PORT", "3306"), "-u", "root",
                                "--batch", "--skip-column-names", db], input=q, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            return r.stdout.split()
        # incident 4 escalated a round at a known time, as the coordinator leaves it
        sql("INSERT INTO incident (id, plan_id, created, context, application_id, current_step, active)"
            " VALUES (4, 3, '2026-01-01 12:00:00', '{}', 3, 1, 1);"
            "INSERT INTO sender_escalation (incident_id, plan_notification_id, step, rounds, max_rounds,"
            " wait_s, state, last_round_at, due_at) VALUES (4, 6, 1, 1, 1, 0, 'repeating',"
            " '2026-01-01 12:00:00', '2026-01-01 12:05:00')")
        sql(block)
        assert sql("SELECT created, last_round_at, due_at FROM incident i JOIN sender_escalation e"
                   " ON e.incident_id = i.id WHERE i.id = 4") == [
            "2026-01-01", "11:55:00", "2026-01-01", "11:55:00.000", "2026-01-01", "12:00:00.000"]
    finally:
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)
