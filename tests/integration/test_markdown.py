"""Email HTML against Python-Markdown, which Iris renders email bodies with.

core/iris/markdown.c promises Python-Markdown's output (default settings, no extensions) for the
Markdown that alert bodies use; docs/sender.md ("Email HTML") lists what still differs. This test
renders generated bodies with both (through tests/tools/iris-markdown) and wants them
byte-identical; the constructs of the documented differences are not generated, and
test_documented_differences pins each of them so the list stays true.
"""
import json
import os
import random
import subprocess

import markdown
import pytest

BUILD = os.environ.get("IRIS_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build", "release"))
TOOL = os.path.join(BUILD, "tests", "tools", "iris-markdown")
SEED = int(os.environ.get("IRIS_MD_SEED", "20261204"))
CASES = int(os.environ.get("IRIS_MD_CASES", "3000"))


def ours(bodies):
    out = subprocess.run([TOOL], input=json.dumps(bodies).encode(), capture_output=True, check=True)
    return json.loads(out.stdout)


def theirs(body):
    return markdown.markdown(body)


WORDS = ["disk", "db-17", "CPU", "97%", "host", "check", "alert", "is", "on", "the", "a&b",
         "naïve", "☃", "über", "日本", "p99", "10.0.0.1", "user_name", "snake_case_id",
         "it's", '"quoted"', "$HOME", "{braces}", "a|b", "~tilde", "no#1", "@user", "50%"]


def words(r, lo=1, hi=8):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(lo, hi)))


def inline(r):
    kinds = [
        lambda: words(r),
        lambda: f"**{words(r, 1, 3)}**",
        lambda: f"*{words(r, 1, 3)}*",
        lambda: f"_{words(r, 1, 2).replace('_', '')}_",
        lambda: f"`{words(r, 1, 3)}`",
        lambda: f"[{words(r, 1, 3)}](http://example.com/{r.randint(1, 99)})",
        lambda: f"[{words(r, 1, 2)}](https://runbook.example.com/x?a=1&b=2 \"title {r.randint(1, 9)}\")",
        lambda: f"<http://graphs.example.com/{r.randint(1, 99)}>",
        lambda: f"<oncall{r.randint(1, 9)}@example.com>",
        lambda: f'<img src="http://graphs.example.com/g{r.randint(1, 9)}.png">',
        lambda: f"<b>{words(r, 1, 2)}</b>",
        lambda: f'<a href="http://x.example.com/{r.randint(1, 9)}">{words(r, 1, 2)}</a>',
        lambda: "&amp; &copy; &#169;",
    ]
    return " ".join(r.choice(kinds)() for _ in range(r.randint(1, 4)))


def item(r):
    # An item whose text starts with '#' is a heading in Python-Markdown (documented).
    text = inline(r)
    while text.startswith("#"):
        text = inline(r)
    return text


def block(r):
    kinds = [
        lambda: inline(r),
        lambda: inline(r) + "\n" + inline(r),
        lambda: inline(r) + "  \n" + inline(r),
        lambda: "#" * r.randint(1, 6) + " " + words(r, 1, 4),
        lambda: "#" * r.randint(1, 3) + words(r, 1, 3).replace("#", ""),
        lambda: words(r, 1, 4) + "\n" + r.choice(["===", "---"]),
        lambda: "\n".join(f"{r.choice('*-+')} {item(r)}" for _ in range(r.randint(1, 4))),
        lambda: "\n".join(f"{i + r.randint(1, 3)}. {item(r)}" for i in range(r.randint(1, 4))),
        lambda: f"* {item(r)}\n    * {item(r)}\n    * {item(r)}\n* {item(r)}",
        lambda: inline(r) + "\n" + "\n".join(f"* {words(r, 1, 3)}" for _ in range(2)),
        lambda: inline(r) + "\n1. " + words(r, 1, 3),
        lambda: "> " + inline(r) + "\n> " + inline(r),
        lambda: "    " + words(r) + "\n    " + words(r),
        lambda: r.choice(["---", "***", "* * *", "___"]),
        lambda: f'<img src="http://graphs.example.com/{r.randint(1, 9)}.png">',
        lambda: f'<div class="graph">{words(r, 1, 3)}</div>',
        lambda: "<table>\n<tr><td>" + words(r, 1, 2) + "</td></tr>\n</table>",
        lambda: f"{r.randint(1, 9)}) {words(r, 1, 3)}",
    ]
    return r.choice(kinds)()


LIST_STARTS = ("* ", "- ", "+ ")


def is_list(text):
    return text.startswith(LIST_STARTS) or text[:1].isdigit() and ". " in text.split("\n")[0][:4]


def body(r):
    # Two lists in a row, separated by a blank line, are one list whose items Python-Markdown
    # wraps in <p> one by one (documented), and an indented block after a list belongs to its
    # last item; two quotes in a row are one quote there (documented): a paragraph goes
    # between them here.
    parts = []
    for _ in range(r.randint(1, 5)):
        b = block(r)
        if parts and ((is_list(parts[-1]) and (is_list(b) or b.startswith("    "))) or
                      (parts[-1].startswith("> ") and b.startswith("> "))):
            parts.append(words(r))
        parts.append(b)
    return "\n\n".join(parts)


def test_generated_bodies_match_python_markdown():
    r = random.Random(SEED)
    bodies = [body(r) for _ in range(CASES)]
    got = ours(bodies)
    diffs = [(b, theirs(b), g) for b, g in zip(bodies, got) if theirs(b) != g]
    for b, want, g in diffs[:5]:
        print("BODY", repr(b), "\nWANT", repr(want), "\nGOT ", repr(g))
    assert not diffs, f"{len(diffs)} of {len(bodies)} bodies differ from Python-Markdown"


IRIS_STYLE = [
    "Disk usage on **{{host}}** is {{value}}%.\n\n<img src=\"{{graph_image_url}}\">\n\n"
    "[Runbook](https://wiki.example.com/runbooks/disk)",
    "# {{check}} failing\n\nHosts:\n\n* db-17\n* db-18\n\nContact <dba@example.com> for help.",
    "Job **nightly-etl** failed 3 times.\nLast error:\n\n    Traceback (most recent call last):\n"
    "      File \"etl.py\", line 4\n\nSee <http://ci.example.com/job/9>",
]


def test_iris_style_bodies():
    got = ours(IRIS_STYLE)
    for b, g in zip(IRIS_STYLE, got):
        assert g == theirs(b)


# Each documented difference (docs/sender.md, "Email HTML"): the input, Python-Markdown's
# reading, and ours. When one of these starts to match, update the docs and drop it here.
DIFFERENCES = [
    ('fenced code', '```\ncode\n```',
     '<pre><code>code\n</code></pre>'),
    ('nested list indented by two spaces', '* a\n  * b',
     '<ul>\n<li>a<ul>\n<li>b</li>\n</ul>\n</li>\n</ul>'),
    ('list items wrapped in paragraphs one by one', '* a\n* b\n\n* c',
     '<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n<li>\n<p>c</p>\n</li>\n</ul>'),
    ('two quotes in a row', '> a\n\n> b',
     '<blockquote>\n<p>a</p>\n</blockquote>\n<blockquote>\n<p>b</p>\n</blockquote>'),
    ('a heading inside a list item', '* #x',
     '<ul>\n<li>#x</li>\n</ul>'),
    ('a loose angle bracket', 'x<y check\n5 > 3',
     '<p>x&lt;y check\n5 &gt; 3</p>'),
]


@pytest.mark.parametrize("name,text,want", DIFFERENCES, ids=[d[0] for d in DIFFERENCES])
def test_documented_differences(name, text, want):
    got = ours([text])[0]
    assert got == want
    assert got != theirs(text)
