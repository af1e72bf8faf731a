"""tests/tmpl/cases.json is current: real Jinja2 (the version pinned in the test venv) still
produces every expected output checked into the repository; and core/tmpl/tmpl_entities.c
still holds the HTML entities Python's html.unescape() knows."""
import os
import subprocess
import sys

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")


def test_expectations_match_jinja2():
    r = subprocess.run([sys.executable, os.path.join(SRC, "tests", "tmpl", "gen_expected.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_entity_table_matches_python():
    """core/tmpl/tmpl_entities.c is html.unescape()'s data as this Python ships it."""
    r = subprocess.run([sys.executable, os.path.join(SRC, "tests", "tmpl", "gen_entities.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
