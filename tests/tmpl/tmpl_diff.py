#!/usr/bin/env python3
"""Differential test of core/tmpl against real Jinja2.

Generates random templates and expressions (every operator, the filters and tests, literals of
every type, nesting, blocks), renders each with Jinja2 exactly as Iris does
(SandboxedEnvironment, autoescape off, default Undefined) and with our engine (the
tmpl_diff_driver program), and sorts every case into one class:

  identical    both rendered, byte for byte the same output
  both-raise   Jinja2 raised and our engine refused (at compile or at render time)
  unsupported  our engine refused at compile time a feature docs/templates.md lists as
               unsupported, or a nesting limit (Jinja2 rendered or raised)
  differ       anything else: other output, output where Jinja2 raised, an error where
               Jinja2 rendered — each is a bug
  jinja2-slow  Jinja2 spent over 5 s of CPU on the case (no verdict; counted and shown)

    python tests/tmpl/tmpl_diff.py --driver build/release/tests/tmpl/tmpl_diff_driver \\
        --seed 1 --count 3000 [--show 20] [--max-differ 0]

Exits 1 when more than --max-differ cases differ (default 0). bench/tmpl_diff.sh N runs it
on demand with a random seed.
"""
import argparse
import copy
import json
import os
import random
import signal
import subprocess
import sys
import tempfile

import warnings

import jinja2
from jinja2.sandbox import SandboxedEnvironment

CONTEXT = {
    "s": "Hello World", "w": "the quick brown fox", "u": "Ünïcødé ß ǅ ﬁ", "e": "",
    "sp": "  padded  ", "h": "<b>a & 'b'</b>", "num": "42", "fl": "2.5",
    "n": 7, "z": 0, "neg": -3, "big": 2 ** 40, "f": 2.5, "nf": -0.5,
    "t": True, "fa": False, "none": None,
    "l": [3, 1, 2], "ls": ["b", "a", "c"], "le": [], "lm": [1, "a", None, 2.5],
    "d": {"a": 1, "b": "x"}, "de": {}, "dn": {"k": {"x": [1, 2]}},
    "people": [{"name": "ann", "age": 31}, {"name": "bob", "age": 25}],
}
NAMES = sorted(CONTEXT) + ["missing"]

# Filters: name -> list of argument-list makers (each returns the text inside the parens or
# None for no parentheses).
FILTERS = {
    "abs": [None], "attr": ["'a'"], "batch": ["2", "2, 'x'"], "capitalize": [None],
    "center": [None, "9"], "count": [None], "d": [None, "'dflt'", "'dflt', true"],
    "default": [None, "'dflt'", "1, boolean=true"], "dictsort": [None, "true", "false, 'value'"],
    "e": [None], "escape": [None], "filesizeformat": [None, "true"], "first": [None],
    "float": [None, "1.5"], "forceescape": [None],
    "format": ["1", "'x'", "1, 2", "a=1", "a='<', b=2.5", "none", "(1, 2)", "[1]"],
    "groupby": ["'age'", "'name'", "'age', case_sensitive=true", "'x', default='d'", "0",
                "'name', 'd', true", "attribute='age'"], "indent": [None, "2", "2, true", "first=true, blank=true"],
    "int": [None, "5", "0, 16", "base=2"], "items": [None], "join": [None, "', '", "'-', 'name'"],
    "last": [None], "length": [None], "list": [None], "lower": [None],
    "map": ["'upper'", "attribute='name'", "'string'"], "max": [None, "attribute='age'"],
    "min": [None, "case_sensitive=true"], "pprint": [None],
    "reject": ["'odd'", "'none'"], "rejectattr": ["'age'", "'age', 'odd'"],
    "replace": ["'o', '0'", "'l', 'L', 1", "'', '-'"], "reverse": [None], "round": [None, "1",
    "0, 'floor'", "1, 'ceil'"], "safe": [None], "select": [None, "'odd'", "'string'"],
    "selectattr": ["'age'", "'age', 'even'"], "slice": ["2", "3, 0"], "sort": [None,
    "reverse=true", "attribute='age'"], "string": [None], "striptags": [None], "sum": [None,
    "start=10", "attribute='age'"], "title": [None], "tojson": [None, "2"], "trim": [None,
    "'x'"], "truncate": [None, "5", "5, true", "5, false, '..', 0"], "unique": [None],
    "upper": [None], "urlencode": [None], "urlize": [None], "wordcount": [None],
    "wordwrap": [None, "5", "5, false", "5, break_on_hyphens=false"], "xmlattr": [None],
}
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "boolean",
         "true", "false", "mapping", "sequence", "iterable", "odd", "even", "divisibleby(3)",
         "lower", "upper", "in([1, 2, 3])", "eq 3", "ne(1)", "lt 5", "gt(0)", "le 2", "ge(7)",
         "sameas(none)", "escaped", "callable", "filter", "test"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "in",
          "not in", "and", "or"]
STRINGS = ["''", "'a'", "'abc'", "'Hello'", "'a b c'", "\"it's\"", "'x\\ny'", "'\\t'",
           "'é'", "'日本'", "'İstanbul'", "'ŉ'", "'ΣΑΣ.'", "'nguyễn'", "'\\u200b'",
           "'\\u2028'", "'1'", "'-3'", "'2.5'", "'٣'", "'a-b c'", "'<p>x</p>'", "'%s'",
           "'{}!'", "'  sp  '", "'\\N{BULLET}'", "'１２'", "' 7 '", "'1e3'", "'inf'", "'nan'",
           "'99999999999999999999'", "'0x1f'", "'1_000'", "'ǅ'", "'ß'", "'ﬁx'", "'ΌΣΟΣ'",
           "'\\x85'", "'\\u00ad'", "'\\U0001f600'"]
METHODS = ["upper()", "lower()", "strip()", "split()", "split(' ')", "startswith('H')",
           "endswith('d')", "replace('l', 'L')", "title()", "capitalize()", "format(1)",
           "items()", "keys()", "values()", "get('a')", "get('zz', 0)", "count('l')",
           "find('o')", "join(['a', 'b'])", "lstrip()", "rstrip()", "isdigit()", "zfill(5)",
           "format('<', x=2)", "format(n, f, s)", "replace('l', '<')", "replace('o', 1)",
           "join(['<', 1])", "join('ab')", "join(d)", "split('o', 1)", "strip('H')",
           "format()", "format(*l)", "format(**d)"]
# Values that exercise formatting: numbers at the edges, strings with HTML and non-ASCII.
FMT_VALUES = ["0", "1", "-1", "42", "255", "-255", "2.5", "-0.0", "1e20", "1.5e-7", "3.14159",
              "-2.675", "1234567.891", "9223372036854775807", "'x'", "'é'", "'<b>'", "''",
              "true", "false", "none", "[1, 2]", "{'a': 1}", "('t', 1)", "'nan'|float",
              "'inf'|float", "'-inf'|float", "n", "f", "s", "u", "missing", "h|safe", "l",
              "d", "range(3)", "65", "1114112", "'ab'"]


class Gen:
    def __init__(self, rnd):
        self.r = rnd

    def literal(self, depth=3):
        r = self.r
        k = r.randrange(9)
        if k == 0:
            return str(r.choice([0, 1, 2, 3, 7, 10, 42, 100, 255, 1000, 2 ** 53 + 1,
                                 9223372036854775807]))
        if k == 1:
            return r.choice(["0.0", "0.5", "1.5", "2.0", "1e3", "1e20", "1.5e-7", "3.14159",
                             "0.1", "100.0"])
        if k == 2:
            return r.choice(STRINGS)
        if k == 3:
            return r.choice(["true", "false", "True", "False", "none", "None"])
        if k in (4, 5, 6) and depth >= 3:
            k = 0
        if k == 4:
            return "[" + ", ".join(self.expr(depth + 1) for _ in range(r.randrange(4))) + "]"
        if k == 5:
            return "{" + ", ".join("%s: %s" % (r.choice(["'a'", "'b'", "'k'"]), self.expr(depth + 1))
                                   for _ in range(r.randrange(3))) + "}"
        if k == 6:
            return "(%s, %s)" % (self.expr(depth + 1), self.expr(depth + 1))
        if k == 7:
            return "range(%d)" % r.randrange(5)
        return r.choice(NAMES)

    def expr(self, depth):
        r = self.r
        if depth >= 3 or r.random() < 0.3:
            return self.literal(depth)
        k = r.randrange(12)
        a = self.expr(depth + 1)
        if k <= 3:
            op = r.choice(BINOPS)
            if op == "**":  # Python would compute a huge power for minutes: small exponents
                return "%s ** %s" % (a, r.choice(["0", "2", "3", "-1", "0.5", "63", "64"]))
            return "%s %s %s" % (a, op, self.expr(depth + 1))
        if k == 4:
            return "%s%s" % (r.choice(["-", "+", "not "]), a)
        if k == 5:
            name = r.choice(sorted(FILTERS))
            args = FILTERS[name]
            arg = r.choice(args) if args else None
            if r.random() < 0.15:
                a = "(%s|safe)" % a  # filters keep Markup where markupsafe's methods do
            return "%s|%s%s" % (a, name, "(%s)" % arg if arg is not None else "")
        if k == 6:
            return "%s is %s%s" % (a, r.choice(["", "not "]), r.choice(TESTS))
        if k == 7:
            return "%s if %s else %s" % (a, self.expr(depth + 1), self.expr(depth + 1))
        if k == 8:
            if r.random() < 0.3:
                return self.formatting()
            return "%s.%s" % (r.choice(NAMES), r.choice(METHODS))
        if k == 9:
            return "%s[%s]" % (a, r.choice(["0", "-1", "1", "'a'", "'k'", "1:", ":2", "::-1",
                                            "n", "z"]))
        if k == 10:
            return "%s.%s" % (r.choice(NAMES), r.choice(["a", "b", "k", "name", "0", "x"]))
        return "(%s %s %s %s %s)" % (a, r.choice(["<", "<=", "=="]), self.expr(depth + 1),
                                     r.choice(["<", "<="]), self.expr(depth + 1))

    def fmt_value(self):
        r = self.r
        return r.choice(FMT_VALUES) if r.random() < 0.8 else self.expr(2)

    def printf_format(self):
        """A printf-style format string literal: %[(key)][flags][width][.prec][l]conv."""
        r = self.r
        out = []
        for _ in range(r.randrange(1, 3)):
            spec = "%"
            if r.random() < 0.15:
                spec += r.choice(["(a)", "(b)", "(k)", "()"])
            spec += "".join(r.sample("-+ #0", r.randrange(0, 3)))
            spec += r.choice(["", "", "", "3", "8", "*", "12", "01"])
            spec += r.choice(["", "", "", ".", ".0", ".2", ".*", ".10"])
            spec += r.choice(["", "", "", "", "l", "h"])
            spec += r.choice("sssrradiuoxXeEfFgGcc%y")
            out.append(r.choice(["", "", "x", " ", "[", "é", "%%", "<"]) + spec)
        return "'" + "".join(out) + r.choice(["", "]", "%"]) + "'"

    def printf_args(self):
        r = self.r
        k = r.randrange(5)
        if k == 0:
            return self.fmt_value()
        if k == 1:
            return "(" + ", ".join(self.fmt_value() for _ in range(r.randrange(0, 4))) + \
                (",)" if r.random() < 0.3 else ")")
        if k == 2:
            return "{%s}" % ", ".join("'%s': %s" % (key, self.fmt_value())
                                      for key in r.sample(["a", "b", "k", ""], r.randrange(0, 3)))
        if k == 3:
            return "[%s]" % ", ".join(self.fmt_value() for _ in range(r.randrange(0, 3)))
        return r.choice(["missing", "d", "l", "range(2)", "d.keys()"])

    def format_spec(self):
        """A format spec: [[fill]align][sign][z][#][0][width][,|_][.prec][type]."""
        r = self.r
        spec = ""
        if r.random() < 0.3:
            spec += r.choice(["", "", "*", "0", "é", "x", "{"]) + r.choice("<>=^")
        if r.random() < 0.3:
            spec += r.choice("+- ")
        if r.random() < 0.1:
            spec += "z"
        if r.random() < 0.2:
            spec += "#"
        if r.random() < 0.2:
            spec += "0"
        if r.random() < 0.5:
            spec += r.choice(["1", "5", "10", "12", "0"])
        if r.random() < 0.2:
            spec += r.choice([",", "_", ",_"])
        if r.random() < 0.4:
            spec += "." + r.choice(["0", "1", "2", "6", "15", ""])
        if r.random() < 0.6:
            spec += r.choice("sdbcoxXneEfFgG%q")
        return spec

    def str_format(self):
        """'...'.format(...) with numbered, named and automatic fields, conversions, specs."""
        r = self.r
        fields = []
        for _ in range(r.randrange(1, 4)):
            name = r.choice(["", "", "", "0", "1", "a", "0.name", "0[0]", "a[k]", "0.real",
                             "a.x", "0[name]", "1[0][1]", "0.", "0[", "2"])
            conv = r.choice(["", "", "", "!r", "!s", "!a", "!x"])
            spec = self.format_spec() if r.random() < 0.6 else ""
            if r.random() < 0.1:
                spec = r.choice(["{}", "{1}", "{a}", ">{}", "{:{}}"])
            text = r.choice(["", "", "-", "{{", "}}", "é", "<"])
            fields.append(text + "{" + name + conv + (":" + spec if spec else "") + "}")
        fmt = "'" + "".join(fields) + r.choice(["", "", "}", "{"]) + "'"
        if r.random() < 0.2:
            fmt = "(%s|safe)" % fmt
        args = [self.fmt_value() for _ in range(r.randrange(0, 3))]
        if r.random() < 0.4:
            args.append("a=" + self.fmt_value())
        if r.random() < 0.1:
            args.append(r.choice(["*l", "**d"]))
        return "%s.format(%s)" % (fmt, ", ".join(args))

    def formatting(self):
        r = self.r
        k = r.randrange(4)
        if k == 0:
            return "%s %% %s" % (self.printf_format(), self.printf_args())
        if k == 1:
            args = [self.fmt_value() for _ in range(r.randrange(0, 3))]
            if r.random() < 0.3:
                args = ["%s=%s" % (n, self.fmt_value()) for n in r.sample("abk", 2)]
            fmt = self.printf_format()
            if r.random() < 0.2:
                fmt = "(%s|safe)" % fmt
            return "%s|format(%s)" % (fmt, ", ".join(args))
        return self.str_format()

    def macro_template(self):
        """One or two macros with defaults, varargs, kwargs and caller, called in every way."""
        r = self.r
        params = r.sample(["a", "b", "c"], r.randrange(0, 4))
        ndef = r.randrange(0, len(params) + 1)
        sig = []
        for i, p in enumerate(params):
            if i >= len(params) - ndef:
                sig.append("%s=%s" % (p, r.choice(["1", "'d'", "none", "a" if p != "a" else "2",
                                                   "x", "[]"])))
            else:
                sig.append(p)
        if r.random() < 0.1:
            sig.append("caller=none")
        uses = params + ["varargs", "kwargs", "caller()", "caller(1, 2)", "x", "n",
                         "m.name", "loop.index", "y"]
        body = "".join("[{{ %s }}]" % r.choice(uses) for _ in range(r.randrange(1, 4)))
        if r.random() < 0.3:
            body = "{%% set y = %s %%}" % r.choice(params + ["1", "x"]) + body
        if r.random() < 0.2:
            body += "{%% if %s %%}{{ m(%s) }}{%% endif %%}" % (
                r.choice(["false", "varargs", "a is defined and a == 1"]), r.choice(["", "0"]))
        defs = "{%% macro m(%s) %%}%s{%% endmacro %%}" % (", ".join(sig), body)
        pre = r.choice(["", "", "{% set x = 1 %}", "{{ x }}", "{% for i in [1, 2] %}"])
        post = "{% endfor %}" if pre.startswith("{% for") else ""
        calls = []
        for _ in range(r.randrange(1, 4)):
            args = [self.expr(2) for _ in range(r.randrange(0, 3))]
            args += ["%s=%s" % (n, self.expr(2))
                     for n in r.sample(["a", "b", "c", "z", "caller"], r.randrange(0, 2))]
            if r.random() < 0.15:
                args.append(r.choice(["*l", "*[1, 2]", "*missing", "*s", "*n"]))
            if r.random() < 0.1:
                args.append(r.choice(["**d", "**{'b': 2}", "**missing", "**l"]))
            call = "m(%s)" % ", ".join(args)
            k = r.randrange(4)
            if k == 0:
                calls.append("{%% call %s %%}<{{ x }}>{%% endcall %%}" % call)
            elif k == 1:
                calls.append("{%% call(p, q=0) %s %%}<{{ p }}{{ q }}>{%% endcall %%}" % call)
            else:
                calls.append("{{ %s }}" % call)
        tail = r.choice(["", "", "{% set x = 2 %}{{ m() }}", "{{ m }}", "{{ [m, m.arguments] }}",
                         "{{ m.catch_kwargs }}{{ m.caller }}"])
        return pre + defs + "".join(calls) + post + tail

    def wrap_text(self):
        """A string literal of words, long words and runs of whitespace (line breaks too):
        textwrap's line filling, long-word breaking and whitespace dropping at their edges."""
        r = self.r
        parts = [r.choice(["a", "bb", "ccc", "é", "日本", "x" * r.randint(4, 12), " ", "  ",
                           "\\t", "\\n"]) for _ in range(r.randrange(12))]
        return "'%s'" % "".join(parts)

    def template(self):
        r = self.r
        k = r.randrange(10)
        if k == 7:
            return "{{ %s }}" % self.formatting()
        if k == 8:
            return self.macro_template()
        if k == 9:
            return r.choice([
                "{%% for x in %s %%}{{ loop.cycle(%s) }}{%% endfor %%}" % (
                    self.expr(1), ", ".join(self.expr(2) for _ in range(r.randrange(0, 3)))),
                "{%% for g in %s|groupby(%s) %%}{{ g.grouper }}:{{ g.list }};{%% endfor %%}" % (
                    r.choice(["people", "ls", "l", "d", "s", "[[1, 'a'], [1, 'b'], [2, 'c']]",
                              "missing", self.expr(1)]),
                    r.choice(["'age'", "'name'", "0", "1", "'x'", "'x', default=1",
                              "'name', case_sensitive=true"])),
                "{{ %s|striptags }}" % r.choice([
                    "'<p>a &amp; b</p> <!-- c --> d&nbsp;e'", "h", "'&lt;x&gt; &#65;&#x42; &foo;'",
                    "'a<b'", "'<!-- x'", "'&ampz &copy2024 &#128;'", self.expr(1)]),
                "{{ %s|wordcount }}" % r.choice(["w", "u", "s", "'a_b c-d 12'", self.expr(1)]),
                "{{ %s|wordwrap(%d, %s, '|', false) }}" % (
                    self.wrap_text(), r.randint(1, 8), r.choice(["true", "false"])),
                "{%% set x = %s %%}{%% for i in [1] %%}<{{ x }}>{%% set x = 2 %%}{%% endfor %%}"
                "{%% macro q() %%}{{ x }}{{ z }}{%% endmacro %%}{{ q() }}{%% set z = 3 %%}{{ q() }}"
                % self.expr(1),
            ])
        if r.random() < 0.05:
            return "{{ (%s|safe).%s }}" % (self.expr(1), r.choice(METHODS))
        e = self.expr(0)
        if k <= 2:
            return "{{ %s }}" % e
        if k == 3:
            return "{%% if %s %%}yes{%% elif %s %%}mid{%% else %%}no{%% endif %%}" % (
                e, self.expr(1))
        if k == 4:
            return ("{%% for x in %s %%}[{{ x }}|{{ loop.index }}{{ loop.first }}"
                    "{{ loop.previtem }}{{ loop.revindex0 }}]{%% else %%}empty{%% endfor %%}" % e)
        if k == 5:
            return "{%% set v = %s %%}{{ v }}-{{ v|string|length }}" % e
        return ("{%% for x in %s if x %%}{{ x }}{%% endfor %%}{%% macro m(a, b=2) %%}"
                "{{ a }}{{ b }}{%% endmacro %%}{{ m(%s) }}" % (self.expr(1), e))


class Slow(Exception):
    pass


def _alarm(signum, frame):
    raise Slow()


def jinja_render(env, src):
    """('ok', output) | ('compile', error) | ('render', error) | ('slow', None). The limit is
    on this process's CPU time, not the clock: a busy, niced or stopped machine must not turn a
    case into a verdict."""
    signal.signal(signal.SIGVTALRM, _alarm)
    signal.setitimer(signal.ITIMER_VIRTUAL, 5)
    try:
        return _jinja_render(env, src)
    except Slow:
        return "slow", None
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def _jinja_render(env, src):
    try:
        t = env.from_string(src)
    except Slow:
        raise
    except Exception as exc:  # noqa: BLE001 — every Jinja failure is a class
        return "compile", type(exc).__name__
    try:
        out = t.render(**copy.deepcopy(CONTEXT))  # filters may change values in place
        out.encode("utf-8")
        return "ok", out
    except Slow:
        raise
    except Exception as exc:  # noqa: BLE001
        return "render", type(exc).__name__


# Compile-time refusals of what docs/templates.md lists as unsupported, and the two documented
# render-time refusals (integers beyond 64 bits, '...' % args).
UNSUPPORTED = ("not supported by this template engine", "nested too deeply")
UNSUPPORTED_RENDER = ("(this engine uses 64-bit integers)",
                      "dict keys other than strings are not supported by this engine",
                      "complex numbers are not supported by this engine",
                      "slicing a", "slice indices that are not integers or None are not supported",
                      "printing a generator", "is not supported by this engine")


def classify(j, ours):
    jp, jv = j
    op = ours.get("phase")
    if jp == "slow":
        return "jinja2-slow"
    if jp == "ok" and op == "ok" and ours.get("output") == jv:
        return "identical"
    if jp == "render" and jv == "NameError" and op == "ok":
        # Jinja2's optimizer folds a constant expression that gives an infinite or NaN float
        # ({{ f('inf'|float) }}) into the Python code it compiles as the name inf or nan, which
        # then fails (docs/templates.md); the template is valid and renders here.
        return "jinja2-nan-bug"
    if op == "compile" and any(m in ours.get("error", "") for m in UNSUPPORTED):
        return "unsupported"
    if op == "render" and any(m in ours.get("error", "") for m in UNSUPPORTED_RENDER):
        return "unsupported"
    if jp != "ok" and op in ("compile", "render"):
        return "both-raise"
    return "differ"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--show", type=int, default=15)
    ap.add_argument("--max-differ", type=int, default=0)
    ap.add_argument("--batch", type=int, default=20000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # Python compiling constant subscripts warns
    env = SandboxedEnvironment(autoescape=False)
    gen = Gen(random.Random(args.seed))
    counts = {"identical": 0, "both-raise": 0, "unsupported": 0, "jinja2-nan-bug": 0,
              "jinja2-slow": 0, "differ": 0}
    shown = 0
    done = 0
    while done < args.count:
        n = min(args.batch, args.count - done)
        templates = [gen.template() for _ in range(n)]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump({"context": CONTEXT, "templates": templates}, fh)
            path = fh.name
        try:
            res = subprocess.run([args.driver, path], capture_output=True, text=True,
                                 check=False, timeout=600)
        finally:
            os.unlink(path)
        lines = res.stdout.split("\n")[:-1]
        if res.returncode != 0 or len(lines) != n:
            print("driver failed (rc %d) after %d of %d templates: %s" %
                  (res.returncode, len(lines), n, res.stderr[-2000:]))
            print("next template:", templates[len(lines)] if len(lines) < n else "?")
            return 1
        for src, line in zip(templates, lines):
            ours = json.loads(line)
            j = jinja_render(env, src)
            c = classify(j, ours)
            counts[c] += 1
            if c == "jinja2-slow":
                print("SLOW (no verdict) %s" % src)
            if c == "differ" and shown < args.show:
                shown += 1
                print("DIFFER %s\n  jinja2: %s %r\n  ours:   %s %r" % (
                    src, j[0], j[1], ours.get("phase"),
                    ours.get("output", ours.get("error"))))
        done += n
    print("tmpl_diff seed %d: %d cases: %s (Jinja2 %s)" % (
        args.seed, done, ", ".join("%s %d" % kv for kv in counts.items()), jinja2.__version__))
    return 1 if counts["differ"] > args.max_differ else 0


if __name__ == "__main__":
    sys.exit(main())
