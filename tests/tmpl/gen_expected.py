#!/usr/bin/env python3
"""Generate tests/tmpl/cases.json: every conformance case with the output real Jinja2 gives
it, rendered as Iris does (SandboxedEnvironment, autoescape off, default Undefined).

    python tests/tmpl/gen_expected.py            # rewrite cases.json
    python tests/tmpl/gen_expected.py --check    # exit 1 if cases.json is stale

A case is [name, template, context]. Its expectation is {"output": ...} or {"error": <the
exception class Jinja raised>}. REFUSED cases are valid Jinja our engine refuses on purpose;
they record Jinja's output for reference and expect a compile-time refusal from us.
"""
import json
import os
import re
import sys

import jinja2
from jinja2.sandbox import SandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))

INCIDENT = {"host": "db-1.prod", "check": "disk_usage", "value": 97.5, "threshold": 90,
            "severity": "critical", "tags": ["db", "prod", "pager"],
            "runbook_url": "https://wiki.example.com/runbooks/disk?x=1&y=2",
            "owner": {"name": "Jane Doe", "team": "dbre", "phones": ["+1 555 0100"]},
            "failed_tasks": [{"name": "backup", "code": 2}, {"name": "vacuum", "code": 137}],
            "iris": {"message_id": 4242, "incident_id": 77, "plan": "db-oncall",
                     "application": "nagios", "target": "jdoe", "priority": "high",
                     "incident_created": "2026-11-24 10:20:30"},
            "empty": "", "zero": 0, "none": None, "flag": True, "ratio": 0.1,
            "unicode": "Ünïcødé ✓ 日本 🚨", "html": "<b>bold</b> & 'quotes' \"dq\"",
            "nested": {"a": {"b": {"c": [1, 2, {"d": "deep"}]}}}, "nums": [3, 1, 2],
            "words": "the quick brown fox jumps over the lazy dog " * 3}

CASES = [
    # --- output and literals
    ["text only", "Hello, world!", {}],
    ["variable", "Host {{ host }}", INCIDENT],
    ["int", "{{ 42 }}", {}],
    ["negative int", "{{ -7 }}", {}],
    ["float", "{{ 1.5 }}", {}],
    ["float whole", "{{ 2.0 }}", {}],
    ["float from data", "{{ value }} {{ ratio }}", INCIDENT],
    ["float exp big", "{{ 1e20 }} {{ 1.5e16 }} {{ 1e15 }}", {}],
    ["float exp small", "{{ 0.0001 }} {{ 0.00001 }} {{ 1.5e-7 }}", {}],
    ["float repr", "{{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2/3 }} {{ 10/4 }}", {}],
    ["bools", "{{ true }} {{ false }} {{ True }} {{ False }}", {}],
    ["none", "{{ none }} {{ None }} {{ nothing }}|", {}],
    ["none from data", "[{{ none }}]", INCIDENT],
    ["string literals", "{{ 'single' }} {{ \"double\" }} {{ 'it\\'s' }}", {}],
    ["string escapes", "{{ 'a\\tb\\nc' }}|{{ '\\u00e9\\x41' }}", {}],
    ["adjacent strings", "{{ 'a' 'b' \"c\" }}", {}],
    ["underscore number", "{{ 1_000 + 1 }}", {}],
    ["list repr", "{{ [1, 'a', none, true, 1.5] }}", {}],
    ["list repr data", "{{ tags }} {{ nums }}", INCIDENT],
    ["dict repr", "{{ {'a': 1, 'b': [1, 2]} }}", {}],
    ["dict repr data", "{{ owner }}", INCIDENT],
    ["nested repr", "{{ nested }}", INCIDENT],
    ["repr quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"'] }}", {}],
    ["repr escapes", "{{ ['tab\\there', 'nl\\nx', 'back\\\\slash', '\\x01'] }}", {}],
    ["repr unicode", "{{ [unicode] }}", INCIDENT],
    ["unicode", "{{ unicode }}", INCIDENT],
    ["undefined prints empty", "[{{ missing }}]", {}],
    ["undefined attr of dict", "[{{ owner.missing }}]", INCIDENT],
    ["html passes unescaped", "{{ html }}", INCIDENT],
    ["empty template", "", {}],
    # --- attribute and item access
    ["attr", "{{ owner.name }} / {{ owner.team }}", INCIDENT],
    ["item", "{{ owner['name'] }}", INCIDENT],
    ["index", "{{ tags[0] }} {{ tags[2] }}", INCIDENT],
    ["negative index", "{{ tags[-1] }}", INCIDENT],
    ["index out of range", "[{{ tags[10] }}]", INCIDENT],
    ["dot index", "{{ tags.1 }}", INCIDENT],
    ["deep", "{{ nested.a.b.c[2].d }} {{ nested['a']['b']['c'][0] }}", INCIDENT],
    ["iris vars", "{{ iris.message_id }} {{ iris.incident_id }} {{ iris.plan }}", INCIDENT],
    ["string index", "{{ host[0] }}{{ host[-1] }}", INCIDENT],
    ["item with variable", "{% set k = 'team' %}{{ owner[k] }}", INCIDENT],
    # --- whitespace and comments
    ["comment", "a{# comment #}b", {}],
    ["multiline comment", "a{# line1\nline2 #}b", {}],
    ["strip before", "a   {{- 'b' }}", {}],
    ["strip after", "{{ 'a' -}}   \n  b", {}],
    ["strip block", "x\n  {%- if true -%}\n  y\n  {%- endif -%}\n  z", {}],
    ["strip comment", "a  {#- c -#}  b", {}],
    ["trailing newline dropped", "line\n", {}],
    ["only one trailing newline dropped", "line\n\n", {}],
    ["crlf normalised", "a\r\nb\rc", {}],
    ["block keeps newlines", "{% if true %}\nyes\n{% endif %}\n", {}],
    ["raw", "{% raw %}{{ not rendered }}{% if %}{% endraw %}", {}],
    ["raw strip", "a {%- raw -%} {{x}} {%- endraw -%} b", {}],
    # --- if
    ["if true", "{% if flag %}yes{% endif %}", INCIDENT],
    ["if false", "{% if zero %}yes{% else %}no{% endif %}", INCIDENT],
    ["elif", "{% if value > 99 %}a{% elif value > 95 %}b{% else %}c{% endif %}", INCIDENT],
    ["if undefined", "{% if missing %}y{% else %}n{% endif %}", {}],
    ["if empty string", "{% if empty %}y{% else %}n{% endif %}", INCIDENT],
    ["if empty list", "{% if [] %}y{% else %}n{% endif %}", {}],
    ["if none", "{% if none %}y{% else %}n{% endif %}", INCIDENT],
    ["if float zero", "{% if 0.0 %}y{% else %}n{% endif %}", {}],
    ["nested if", "{% if flag %}{% if tags %}{{ tags|length }}{% endif %}{% endif %}", INCIDENT],
    ["inline if", "{{ 'big' if value > 50 else 'small' }}", INCIDENT],
    ["inline if without else", "[{{ 'x' if false }}]", {}],
    # --- for
    ["for", "{% for t in tags %}{{ t }},{% endfor %}", INCIDENT],
    ["for loop vars", "{% for t in tags %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}", INCIDENT],
    ["for else", "{% for t in [] %}x{% else %}empty{% endfor %}", {}],
    ["for undefined", "{% for t in missing %}x{% else %}none{% endfor %}", {}],
    ["for dict", "{% for k in owner %}{{ k }} {% endfor %}", INCIDENT],
    ["for items", "{% for k, v in owner.items() %}{{ k }}={{ v }};{% endfor %}", INCIDENT],
    ["for keys values", "{{ owner.keys() }} {{ owner.values() }}", INCIDENT],
    ["for string", "{% for c in 'abc' %}[{{ c }}]{% endfor %}", {}],
    ["for unicode string", "{% for c in '日本' %}<{{ c }}>{% endfor %}", {}],
    ["nested for", "{% for t in failed_tasks %}{{ t.name }}:{% for x in [1,2] %}{{ x }}{% endfor %};{% endfor %}", INCIDENT],
    ["loop.last join", "{% for t in tags %}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}", INCIDENT],
    ["for range", "{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}|{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}", {}],
    ["for list of lists", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}", {}],
    ["outer loop var", "{% for a in [1,2] %}{% for b in [3] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}", {}],
    # --- set and scoping
    ["set", "{% set x = 5 %}{{ x * 2 }}", {}],
    ["set string", "{% set greeting = 'hi ' ~ owner.name %}{{ greeting }}", INCIDENT],
    ["set in loop does not leak", "{% set x = 1 %}{% for i in [1,2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}", {}],
    ["set in if leaks", "{% if true %}{% set y = 2 %}{% endif %}{{ y }}", {}],
    ["set block", "{% set body %}Hello {{ owner.name }}!{% endset %}[{{ body }}]", INCIDENT],
    ["set shadows context", "{% set host = 'other' %}{{ host }}", INCIDENT],
    ["set list", "{% set l = [1, 2, 3] %}{{ l|length }} {{ l[1] }}", {}],
    # --- operators
    ["arithmetic", "{{ 1 + 2 }} {{ 7 - 10 }} {{ 3 * 4 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }}", {}],
    ["floor division negative", "{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ -7.5 // 2 }} {{ 7.5 % -2 }}", {}],
    ["float arithmetic", "{{ 1.5 + 1 }} {{ 3 * 0.5 }} {{ 2 ** -1 }} {{ 2.0 ** 3 }}", {}],
    ["power left assoc", "{{ 2 ** 3 ** 2 }}", {}],
    ["precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }}", {}],
    ["concat", "{{ 'a' ~ 1 ~ none ~ true ~ 1.5 }}", {}],
    ["concat precedence", "{{ 1 + 2 ~ 3 }}", {}],
    ["string plus", "{{ 'ab' + 'cd' }}", {}],
    ["string times", "{{ 'ab' * 3 }}|{{ 2 * 'x' }}|{{ 'x' * 0 }}", {}],
    ["list plus", "{{ [1] + [2, 3] }}", {}],
    ["list times", "{{ [0] * 3 }}", {}],
    ["comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }}", {}],
    ["equality types", "{{ 1 == '1' }} {{ none == none }} {{ [1,2] == [1,2] }} {{ {'a':1} == {'a':1} }} {{ true == 1 }}", {}],
    ["undefined equality", "{{ missing == none }} {{ missing == missing2 }}", {}],
    ["in", "{{ 'db' in tags }} {{ 'x' in tags }} {{ 'name' in owner }} {{ 'ick' in 'quick' }} {{ 'z' not in 'abc' }}", INCIDENT],
    ["and or values", "{{ 0 or 'fallback' }} {{ 'a' and 'b' }} {{ none or 0 }} {{ '' and 'x' }}|", {}],
    ["not", "{{ not true }} {{ not '' }} {{ not missing }}", {}],
    ["unary minus filter", "{{ -3|abs }} {{ -value }}", INCIDENT],
    ["bool arithmetic", "{{ true + 1 }} {{ false * 3 }}", {}],
    ["division by zero", "{{ 1 / 0 }}", {}],
    ["modulo by zero", "{{ 1 % 0 }}", {}],
    ["string minus int", "{{ 'a' - 1 }}", {}],
    ["compare str int", "{{ 'a' < 1 }}", {}],
    ["undefined plus", "{{ missing + 1 }}", {}],
    ["undefined attribute error", "{{ missing.attr }}", {}],
    ["undefined item error", "{{ missing['x'] }}", {}],
    ["attr of undefined attr", "{{ owner.missing.deeper }}", INCIDENT],
    ["concat undefined", "[{{ missing ~ 'x' }}]", {}],
    # --- tests
    ["is defined", "{{ host is defined }} {{ missing is defined }} {{ missing is undefined }} {{ host is not defined }}", INCIDENT],
    ["is none", "{{ none is none }} {{ 0 is none }} {{ missing is none }}", INCIDENT],
    ["is types", "{{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }}", {}],
    ["is mapping sequence", "{{ owner is mapping }} {{ tags is sequence }} {{ 'x' is sequence }} {{ tags is iterable }} {{ 1 is iterable }}", INCIDENT],
    ["is odd even", "{{ 3 is odd }} {{ 3 is even }} {{ 4 is divisibleby 2 }} {{ 9 is divisibleby(3) }}", {}],
    ["is upper lower", "{{ 'ABC' is upper }} {{ 'abc' is lower }} {{ 'Abc' is lower }} {{ '123' is lower }}", {}],
    ["is in", "{{ 'db' is in tags }} {{ 'x' is in(tags) }}", INCIDENT],
    ["is true false", "{{ true is true }} {{ 1 is true }} {{ false is false }}", {}],
    # --- filters
    ["default", "{{ missing|default('dflt') }} {{ host|default('x') }} {{ missing|d('d') }} [{{ missing|default }}]", INCIDENT],
    ["default boolean", "{{ empty|default('was empty', true) }} {{ empty|default('x') }}| {{ zero|default(5, boolean=true) }}", INCIDENT],
    ["default none", "{{ none|default('x') }}", INCIDENT],
    ["upper lower", "{{ 'Hello Wörld ß'|upper }} {{ 'HÉLLO ΣΑΣ ДОМ'|lower }}", {}],
    ["upper undefined", "[{{ missing|upper }}]", {}],
    ["upper number", "{{ 12|upper }} {{ none|upper }}", {}],
    ["title", "{{ 'hello world-foo (bar) [baz] <q> o\\'neil x_y'|title }}", {}],
    ["title unicode", "{{ 'élan ßtraße'|title }}", {}],
    ["capitalize", "{{ 'hELLO wORLD'|capitalize }} {{ 'ßa'|capitalize }} [{{ ''|capitalize }}]", {}],
    ["trim", "[{{ '  x y \\n\\t '|trim }}] [{{ 'xxhixx'|trim('x') }}]", {}],
    ["trim unicode space", "[{{ '\\u00a0 hi \\u3000'|trim }}]", {}],
    ["replace", "{{ check|replace('_', ' ') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }}", INCIDENT],
    ["replace number", "{{ 12345|replace('3', 'x') }}", {}],
    ["truncate short", "{{ 'short'|truncate(10) }}", {}],
    ["truncate leeway", "{{ 'hello world foo'|truncate(12) }}", {}],
    ["truncate words", "{{ words|truncate(30) }}", INCIDENT],
    ["truncate killwords", "{{ words|truncate(30, true) }}", INCIDENT],
    ["truncate end", "{{ words|truncate(20, end=' (more)') }}", INCIDENT],
    ["truncate leeway zero", "{{ 'hello world foo'|truncate(12, leeway=0) }}", {}],
    ["truncate unicode", "{{ unicode|truncate(9, true, '…', 0) }}", INCIDENT],
    ["truncate default", "{{ ('x ' * 200)|truncate|length }}", {}],
    ["length", "{{ tags|length }} {{ host|length }} {{ owner|length }} {{ unicode|length }} {{ missing|length }} {{ tags|count }}", INCIDENT],
    ["length of int", "{{ 5|length }}", {}],
    ["join", "{{ tags|join(', ') }} {{ tags|join }} {{ [1, 2.5, none]|join('-') }}", INCIDENT],
    ["join attribute", "{{ failed_tasks|join(', ', attribute='name') }}", INCIDENT],
    ["join string", "{{ 'abc'|join('.') }}", {}],
    ["join dict", "{{ owner|join('|') }}", INCIDENT],
    ["first last", "{{ tags|first }} {{ tags|last }} {{ 'héllo'|first }} {{ 'héllo'|last }} [{{ []|first }}]", INCIDENT],
    ["round", "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 1.2345|round(2, 'floor') }} {{ 1.2345|round(1, 'ceil') }} {{ 5|round }}", {}],
    ["round value", "{{ value|round }} {{ value|round(0, 'floor') }} {{ (value * 1.1)|round(3) }}", INCIDENT],
    ["int filter", "{{ '42'|int }} {{ ' 7 '|int }} {{ '4.7'|int }} {{ 'abc'|int }} {{ 'abc'|int(-1) }} {{ 3.9|int }} {{ -3.9|int }} {{ true|int }} {{ none|int }}", {}],
    ["int base", "{{ '0x1A'|int(0, 16) }} {{ '101'|int(base=2) }} {{ '1_000'|int }}", {}],
    ["float filter", "{{ '1.5'|float }} {{ '1e3'|float }} {{ 'x'|float }} {{ 'x'|float(2.5) }} {{ 3|float }} {{ ' 2 '|float }}", {}],
    ["string filter", "{{ 12|string ~ 3 }} {{ none|string }} {{ [1]|string }} [{{ missing|string }}]", {}],
    ["tojson", "{{ owner|tojson }}", INCIDENT],
    ["tojson escapes", "{{ html|tojson }} {{ unicode|tojson }}", INCIDENT],
    ["tojson scalars", "{{ 1|tojson }} {{ 1.5|tojson }} {{ none|tojson }} {{ true|tojson }} {{ 'x'|tojson }} {{ [1, 'a']|tojson }}", {}],
    ["tojson sorted", "{{ {'b': 1, 'a': [1, {'d': 1, 'c': 2}]}|tojson }}", {}],
    ["tojson indent", "{{ {'b': 1, 'a': [1, 2]}|tojson(indent=2) }}", {}],
    ["tojson empty", "{{ {}|tojson }} {{ []|tojson }}", {}],
    ["escape", "{{ html|e }} {{ html|escape }} {{ 5|e }}", INCIDENT],
    ["escape twice", "{{ html|e|e }}", INCIDENT],
    ["safe", "{{ html|safe }} {{ (html|safe)|e }}", INCIDENT],
    ["markup plus", "{{ '<b>'|safe + '<i>' }}", {}],
    ["indent", "{{ 'a\\nb\\n\\nc'|indent }}", {}],
    ["indent options", "{{ 'a\\nb\\n\\nc'|indent(2, true, true) }}|{{ 'a\\nb'|indent(width='> ') }}|{{ 'x\\n'|indent(first=true) }}", {}],
    ["wordwrap", "{{ words|wordwrap(20) }}", INCIDENT],
    ["wordwrap long word", "{{ 'aaaaaaaaaaaaaaaaaaaaaaaaa bb'|wordwrap(10) }}", {}],
    ["wordwrap keep long", "{{ 'aaaaaaaaaaaaaaaaaaaaaaaaa bb'|wordwrap(10, false) }}", {}],
    ["wordwrap wrapstring", "{{ words|wordwrap(25, wrapstring='<br>') }}", INCIDENT],
    ["wordwrap lines", "{{ 'one two three\\n\\nfour five six seven'|wordwrap(9) }}", {}],
    ["wordwrap no hyphen", "{{ 'long-hyphenated-word here'|wordwrap(10, break_on_hyphens=false) }}", {}],
    # A line filled exactly, trailing whitespace included, before a word too long for any line:
    # textwrap keeps that whitespace (it drops the empty piece of the broken word instead).
    ["wordwrap full line then long word", "{{ 'ccc  xxxxxxx bb'|wordwrap(5, true, '|', false) }}", {}],
    ["wordwrap only spaces then long word", "{{ '     xxxxxxx'|wordwrap(5, true, '|', false) }}", {}],
    # Found by the differential test (tests/tmpl/tmpl_diff.py), each a difference once:
    ["format no type zero", "{{ '{:.1}|{:.1}|{:.2}'.format(0.0, -0.0, 0.0) }}", {}],
    ["generator in a tuple is true", "{% if ([]|select, 1)|first %}yes{% else %}no{% endif %}", {}],
    ["generator in a list is true", "{{ not ([[]|map('upper')]|last) }}", {}],
    ["list in keys view", "{{ [1] in {'a': 1}.keys() }}", {}],
    ["pair with list key in items view", "{{ ([1], 2) in {'a': 1}.items() }}", {}],
    ["pair in items view", "{{ ('a', 1) in {'a': 1}.items() }}{{ ['a', 1] in {'a': 1}.items() }}", {}],
    ["values view in dict", "{{ {'a': 1}.values() in {'a': 1} }}", {}],
    ["round ceil floor negative zero", "{{ -0.0|round(0, 'floor') }} {{ -0.4|round(0, 'ceil') }} {{ -0.04|round(1, 'ceil') }} {{ -1.25|round(1, 'floor') }}", {}],
    ["round floor infinity", "{{ ('inf'|float)|round(0, 'floor') }}", {}],
    ["round ceil nan", "{{ ('nan'|float)|round(1, 'ceil') }}", {}],
    ["urlencode", "{{ 'a b/c&d=é'|urlencode }} {{ {'q': 'a b', 'x': '&'}|urlencode }} {{ 42|urlencode }}", {}],
    ["urlencode runbook", "{{ runbook_url|urlencode }}", INCIDENT],
    ["urlencode list of two-character strings", "{{ ['ab', 'é ', ['x', 'y&']]|urlencode }} {% for c in '42'.split('o', 1)|urlencode %}[{{ c }}]{% endfor %}", {}],
    ["urlencode list item of three characters", "{{ ['abc']|urlencode }}", {}],
    ["NaN is unordered", "{% set n = s|float %}{{ n <= 42 }} {{ n >= 0 }} {{ n < 1.5 }} {{ false >= n }} {{ 1 is le(n) }} {{ [1, n] <= [1, 2] }} {{ 0 < n < 1 }} {{ n != n }}", {"s": "nan"}],
    ["sort and max with NaN as CPython", "{% set n = s|float %}{{ [3, n, 1, 2]|sort }} {{ [3, n, 1, 2]|sort(reverse=true) }} {{ [5, 4, 3, n, 1, 2, 0, n, -1]|sort }} {{ [5, 4, 3, n, 1, 2, 0, n, -1]|sort(reverse=true) }} {{ [3, n, 1, 2]|max }} {{ [n, 1, 2]|max }} {{ [2, n, 1]|min }} {{ {'b': 1, 'a': n, 'c': 0}|dictsort(by='value') }}", {"s": "nan"}],
    ["max and min pick the first of equals", "{{ ['b', 'A', 'a', 'B']|max }} {{ ['b', 'A', 'a', 'B']|min }} {{ ['b', 'A', 'a', 'B']|max(case_sensitive=true) }} {{ [1, 1.0, true]|max }} {{ [1.0, 1, true]|min }}", {}],
    ["urlencode list item of one character", "{{ ['a']|urlencode }}", {}],
    ["filter chain", "{{ check|replace('_', ' ')|title|truncate(8, true, '.', 0) }}", INCIDENT],
    ["filter in expression", "{{ tags|length + 1 }} {{ (tags|length) * 2 }}", INCIDENT],
    ["filter on literal", "{{ 'abc'|upper|length }}", {}],
    ["abs", "{{ -5|abs }} {{ (-2.5)|abs }}", {}],
    # --- Iris-style templates
    ["iris subject", "[{{ severity | default('warning') | upper }}] {{ check }} on {{ host }}", INCIDENT],
    ["iris subject default", "[{{ severity | default('warning') | upper }}] {{ check }} on {{ host }}", {"check": "cpu", "host": "web-1"}],
    ["iris body", "**{{ check }}** on `{{ host }}` reads {{ value }} (threshold {{ threshold }}).\n\n{% if runbook_url %}Runbook: {{ runbook_url }}\n\n{% endif %}{% if tags %}Tags: {% for t in tags %}{{ t }}{% if not loop.last %}, {% endif %}{% endfor %}\n\n{% endif %}Incident {{ iris.incident_id }} of plan {{ iris.plan }}, opened {{ iris.incident_created }}.\nReply \"{{ iris.message_id }} claim\" to take it.", INCIDENT],
    ["iris sms", "{{ iris.message_id }}: {{ check }} {{ host }} = {{ value }}/{{ threshold }}. Reply \"{{ iris.message_id }} claim\".", INCIDENT],
    ["iris call", "This is Iris. {{ check | replace('_', ' ') }} on host {{ host }} is at {{ value }}. Press 2 to claim.", INCIDENT],
    ["iris job", "The job `{{ job }}` ended **{{ status }}**.\n\n{% if failed_tasks %}Failed tasks ({{ failed_tasks | length }}):\n\n{% for t in failed_tasks %}* {{ t.name }} (exit {{ t.code }})\n{% endfor %}\n{% endif %}{% if log_url %}Logs: {{ log_url }}{% endif %}", dict(INCIDENT, job="nightly-etl", status="FAILED", log_url="https://logs/x")],
    ["iris slack", ":rotating_light: *{{ check }}* on `{{ host }}`: {{ value }} (threshold {{ threshold }}){% if runbook_url %} — <{{ runbook_url }}|runbook>{% endif %}", INCIDENT],
    ["iris quota", "Application {{ quota_breach.application }} sent more than {{ quota_breach.limit }} messages in {{ quota_breach.duration }} minutes.", {"quota_breach": {"application": "nagios", "limit": 600, "duration": 1}}],
    ["iris missing context", "{{ check }} on {{ host }} = {{ value }} (incident {{ iris.incident_id }})", {"iris": {}}],
    ["iris html", "<h3>{{ check }} on {{ host }}</h3><p>Value {{ value }}, threshold {{ threshold }}.</p>{% if runbook_url %}<p><a href=\"{{ runbook_url }}\">Runbook</a></p>{% endif %}", INCIDENT],
    ["iris table", "{% for k, v in owner.items() %}| {{ k }} | {{ v }} |\n{% endfor %}", INCIDENT],
    ["iris conditional owner", "{% if owner is defined and owner.phones %}Call {{ owner.phones|first }}{% else %}No phone{% endif %}", INCIDENT],
    ["iris truncate body", "{{ (check ~ ': ' ~ words)|truncate(60) }}", INCIDENT],
    ["whitespace heavy", "{% for t in tags -%}\n  - {{ t }}\n{% endfor %}", INCIDENT],
    ["whitespace lists", "Tasks:\n{% for t in failed_tasks %}\n  * {{ t.name }}\n{% endfor %}\nEnd", INCIDENT],
    # --- errors (Jinja fails too)
    ["syntax unclosed var", "{{ host", {}],
    ["syntax unclosed block", "{% if x %}yes", {}],
    ["syntax bad endfor", "{% for x in y %}{% endif %}", {}],
    ["syntax unknown tag", "{% frobnicate %}", {}],
    ["syntax unknown filter", "{{ x|frobnicate }}", {}],
    ["syntax unknown test", "{{ x is frobnicated }}", {}],
    ["syntax bad expression", "{{ 1 + }}", {}],
    ["syntax unterminated string", "{{ 'abc }}", {}],
    ["syntax else without if", "{% else %}", {}],
    ["syntax unclosed comment", "{# never closed", {}],
    ["runtime iterate int", "{% for x in 5 %}{% endfor %}", {}],
    ["runtime unpack", "{% for a, b in [1, 2] %}{% endfor %}", {}],
    ["runtime filter arg type", "{{ 'x'|truncate('a') }}", {}],
    ["runtime round string", "{{ 'x'|round }}", {}],
    ["runtime range step zero", "{{ range(1, 2, 0) }}", {}],
    # --- slicing, chained comparisons, loop filters (Python's semantics)
    ["slice list", "{{ tags[1:] }} {{ tags[:-1] }} {{ tags[::-1] }} {{ tags[::2] }}", INCIDENT],
    ["slice string", "{{ words[:9] }}|{{ unicode[1:4] }}|{{ 'abcdef'[::-2] }}|{{ ''[1:] }}", INCIDENT],
    ["slice range", "{{ range(10)[2:5] }} {{ range(10)[::-3] }} {{ range(5)[9:] }}", {}],
    ["slice bounds", "{{ 'abc'[-10:10] }} {{ 'abc'[5:1:-1] }} {{ [1, 2][true:] }}", {}],
    ["slice zero step", "{{ 'abc'[::0] }}", {}],
    ["slice undefined", "{{ missing[1:] }}", {}],
    ["chained compare", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1 != 2 }} {{ 3 > 2 in [2] }}", {}],
    ["chained compare types", "{{ 1 < 2 < 'a' }}", {}],
    ["chained compare short", "{{ 2 < 1 < 'a' }}", {}],
    ["loop filter", "{% for t in tags if t != 'prod' %}{{ loop.index }}/{{ loop.length }}:{{ t }} "
     "{% endfor %}", INCIDENT],
    ["loop filter else", "{% for t in tags if t == 'x' %}{{ t }}{% else %}none{% endfor %}", INCIDENT],
    ["loop filter pairs", "{% for k, v in owner.items() if v is string %}{{ k }}={{ v }};"
     "{% endfor %}", INCIDENT],
    # --- method calls on strings, lists and dicts (Python's semantics)
    ["method case", "{{ host.upper() }} {{ 'ǆemal ΣΑΣ. ß'.title() }} {{ 'ΣΑΣ'.lower() }} "
     "{{ 'hello'.capitalize() }}", INCIDENT],
    ["method strip", "[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}]"
     "[{{ 'xxhixx'.strip('x') }}][{{ 'éaé'.strip('é') }}]", {}],
    ["method split", "{{ words.split()|length }} {{ 'a,b,,c'.split(',') }} {{ ' a b '.split(None, 1) }}"
     " {{ 'a b'.split(maxsplit=0) }} {{ ''.split(',') }}", INCIDENT],
    ["method split empty sep", "{{ 'abc'.split('') }}", {}],
    ["method predicates", "{{ host.startswith('db') }} {{ host.endswith('.prod') }} "
     "{{ host.find('1') }} {{ host.count('d') }} {{ 'x'.find('y') }}", INCIDENT],
    ["method replace join", "{{ host.replace('-', '_') }} {{ 'aaa'.replace('a', 'b', 2) }} "
     "{{ ', '.join(tags) }}", INCIDENT],
    ["method join non-strings", "{{ '-'.join(nums) }}", INCIDENT],
    ["method dict", "{{ owner.get('name') }} {{ owner.get('x') }} {{ owner.get('x', 'dflt') }} "
     "{{ tags.count('db') }}", INCIDENT],
    ["method wrong type", "{{ tags.upper() }}", INCIDENT],
    ["method too many args", "{{ host.upper(1) }}", INCIDENT],
    # --- filters over sequences
    ["filter list", "{{ 'abc'|list }} {{ owner|list }} {{ tags|list }} {{ missing|list }}", INCIDENT],
    ["filter sort", "{{ nums|sort }} {{ nums|sort(reverse=true) }} {{ ['b', 'A', 'a', 'B']|sort }} "
     "{{ ['b', 'A', 'a', 'B']|sort(case_sensitive=true) }}", INCIDENT],
    ["filter sort attribute", "{{ failed_tasks|sort(attribute='code')|map(attribute='name')|join(',') }}"
     " {{ failed_tasks|sort(attribute='name', reverse=true)|map(attribute='code')|list }}", INCIDENT],
    ["filter sort mixed", "{{ [1, 'a']|sort }}", {}],
    ["filter sum", "{{ nums|sum }} {{ nums|sum(start=10) }} {{ failed_tasks|sum(attribute='code') }} "
     "{{ [[1], [2]]|sum(start=[]) }} {{ []|sum }} {{ [0.5, 1]|sum }}", INCIDENT],
    ["filter sum strings", "{{ ['a', 'b']|sum }}", {}],
    ["filter max min", "{{ nums|max }} {{ nums|min }} {{ ['b', 'A', 'a']|max }} {{ ['b', 'A', 'a']|min }} "
     "{{ failed_tasks|max(attribute='code') }} {{ []|max }}|", INCIDENT],
    ["filter unique", "{{ [1, 2, 1, 'a', 'A', 1.0, true]|unique|list }} "
     "{{ ['a', 'A']|unique(case_sensitive=true)|list }}", {}],
    ["filter reverse", "{{ 'abc'|reverse }} {{ tags|reverse|list }} {{ tags|reverse|join(',') }} "
     "{% for t in nums|reverse %}{{ t }}{% endfor %}", INCIDENT],
    ["filter reverse number", "{{ 7|reverse }}", {}],
    ["filter map", "{{ tags|map('upper')|list }} {{ failed_tasks|map(attribute='name')|join('/') }} "
     "{{ failed_tasks|map(attribute='x', default='?')|list }} {{ nums|map('string')|join }}",
     INCIDENT],
    ["filter select reject", "{{ nums|select('odd')|list }} {{ nums|reject('odd')|list }} "
     "{{ [0, 1, '', 'a', none]|select|list }} {{ nums|select('divisibleby', 3)|list }} "
     "{{ nums|select('in', [1, 2])|list }}", INCIDENT],
    ["filter selectattr", "{{ failed_tasks|selectattr('code', 'odd')|map(attribute='name')|list }} "
     "{{ failed_tasks|rejectattr('code', 'odd')|map(attribute='name')|list }} "
     "{{ failed_tasks|selectattr('name')|list|length }}", INCIDENT],
    ["filter generator truth", "{% if []|select %}yes{% else %}no{% endif %} "
     "{{ not (nums|select('odd')) }}", INCIDENT],
    ["filter generator lazy", "{% if 1.5|select %}yes{% endif %} {{ false|map('upper')|list }}", {}],
    ["filter generator lazy error", "{{ 1.5|select|list }}", {}],
    ["filter batch", "{{ nums|batch(2)|list }} {{ nums|batch(2, 'x')|list }} "
     "{% for row in 'abcde'|batch(2) %}[{{ row|join }}]{% endfor %}", INCIDENT],
    ["filter slice", "{{ nums|slice(2)|list }} {{ [1, 2, 3, 4, 5]|slice(3, 0)|list }} "
     "{{ []|slice(2)|list }}", INCIDENT],
    ["filter center", "[{{ 'ab'|center(7) }}][{{ 'abc'|center(6) }}][{{ 'x'|center(1) }}]"
     "[{{ 'é'|center(4) }}][{{ 5|center(3) }}]", {}],
    ["filter filesizeformat", "{{ 0|filesizeformat }} {{ 1|filesizeformat }} {{ 999|filesizeformat }} "
     "{{ 1000|filesizeformat }} {{ 1234567|filesizeformat }} {{ 1234567|filesizeformat(true) }} "
     "{{ 1e30|filesizeformat }} {{ -5|filesizeformat }} {{ '2048'|filesizeformat(binary=true) }}", {}],
    ["filter filesizeformat bad", "{{ 'x'|filesizeformat }}", {}],
    ["filter dictsort", "{{ owner|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} "
     "{{ {'b': 1, 'A': 2, 'a': 3}|dictsort(reverse=true) }}", INCIDENT],
    ["filter dictsort bad by", "{{ owner|dictsort(by='x') }}", INCIDENT],
    # --- loop state, ranges, views, Undefined values, repr of invisible characters
    ["loop prev next", "{% for t in tags %}[{{ loop.previtem }}|{{ t }}|{{ loop.nextitem }}|"
     "{{ loop.depth }}{{ loop.depth0 }}]{% endfor %}", INCIDENT],
    ["loop whole", "{% for t in tags %}{{ loop }} {% endfor %}", INCIDENT],
    ["loop nested", "{% for a in nums %}{% for b in tags %}{{ loop.index }}{% endfor %}"
     "{{ loop.index }};{% endfor %}", INCIDENT],
    ["loop set refused", "{% for t in tags %}{% set loop = 1 %}{% endfor %}", INCIDENT],
    ["range repr", "{{ range(3) }} {{ range(1, 10, 2) }} {% set r = range(2) %}{{ r }} {{ [range(1)] }}",
     {}],
    ["range arithmetic", "{{ range(2) + [1] }}", {}],
    ["undefined stored", "{% set v = missing %}[{{ v }}] {{ [missing, owner.x] }} {{ v is defined }}",
     INCIDENT],
    ["repr invisible", "{{ ['\\u200b', '\\u2028', '\\x85', '\\xad', 'é', '\\U0001f600', '\\x7f'] }}",
     {}],
    ["case unicode", "{{ 'İstanbul'|lower }} {{ 'ŉ'|upper }} {{ 'nguyễn'|upper }} {{ 'ΣΑΣ.'|lower }} "
     "{{ 'ΣΑΣ'|capitalize }} {{ 'ǆemal'|capitalize }} {{ 'ßa ﬁx'|title }}", {}],
    ["int unicode digits", "{{ '٣'|int }} {{ '１２'|int + 1 }} {{ ' 7\\u2003'|int }} {{ '٣.٥'|float }}",
     {}],
    ["int missing", "{{ missing|int }}", {}],
    ["float missing", "{{ missing|float }}", {}],
    ["indent missing", "{{ missing|indent }}", {}],
    ["truncate list", "{{ tags|truncate(3) }} {{ [1, 2]|truncate }}", INCIDENT],
    ["test with if else", "{{ x is defined if false else 'ok' }}", {}],
    ["not not deep", "{{ not not not not not 1 }}", {}],
    ["power by squaring", "{{ 1 ** 9223372036854775807 }} {{ 3 ** 39 }} {{ (-2) ** 63 }}", {}],
    ["empty repetition", "{{ [] * 10**9 }} {{ '' * 10**9 }}|", {}],
    # --- tuples
    ["tuple literals", "{{ (1, 2) }} {{ (1,) }} {{ () }} {{ 1, 'a' }} {% set t = 1, 2 %}{{ t }} "
     "{{ t[0] }} {{ t[::-1] }} {{ t|list }} {{ t|length }}", {}],
    ["tuple operators", "{{ (1, 2) == [1, 2] }} {{ (1, 2) == (1, 2) }} {{ (1, 2) < (1, 3) }} "
     "{{ (1, 2) + (3,) }} {{ (1,) * 2 }} {{ 2 in (1, 2) }} {{ (1, 2)|tojson }}", {}],
    ["tuple plus list", "{{ (1, 2) + [3] }}", {}],
    ["tuple items", "{% for x in owner.items() %}{{ x }}{% endfor %} {{ owner.items()|list }}",
     INCIDENT],
    ["tuple loop", "{% for x in 1, 2 %}{{ x }}{% endfor %} {{ [(1, 2)] }} {{ (1, (2, 3)) }}", {}],
]

# --- macros, call blocks, loop.cycle and Jinja's scoping of names
MACRO_CASES = [
    ["macro simple", "{% macro hello(name) %}Hello {{ name }}!{% endmacro %}{{ hello('Ann') }} "
     "{{ hello(owner.name) }}", INCIDENT],
    ["macro defaults", "{% macro m(a, b=2, c='x') %}[{{ a }} {{ b }} {{ c }}]{% endmacro %}"
     "{{ m(1) }}{{ m(1, 3) }}{{ m(1, c='y') }}{{ m(a=0, b=none) }}", {}],
    ["macro default reads parameter", "{% macro m(a, b=a * 2) %}{{ a }}/{{ b }}{% endmacro %}"
     "{{ m(3) }} {{ m(3, 1) }}", {}],
    ["macro missing parameter", "{% macro m(a, b) %}[{{ a }}|{{ b }}|{{ b is defined }}]"
     "{% endmacro %}{{ m(1) }}", {}],
    ["macro varargs kwargs", "{% macro m(a) %}{{ a }} {{ varargs }} {{ kwargs }}{% endmacro %}"
     "{{ m(1, 2, 3, x=4, y='z') }} {{ m(0) }}", {}],
    ["macro too many", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}],
    ["macro unknown keyword", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}", {}],
    ["macro keyword and positional", "{% macro m(a, b) %}{{ a }}{% endmacro %}{{ m(1, a=2) }}", {}],
    ["macro unpacking", "{% macro m(a, b, c=0) %}{{ a }}{{ b }}{{ c }}{% endmacro %}"
     "{{ m(*[1, 2]) }} {{ m(1, **{'b': 5, 'c': 6}) }} {{ m(*'xy') }} {{ m(*(7, 8), c=9) }}", {}],
    ["macro recursion", "{% macro count(n) %}{% if n > 0 %}{{ n }} {{ count(n - 1) }}{% endif %}"
     "{% endmacro %}{{ count(5) }}", {}],
    ["macro as value", "{% macro m(a, b=1) %}{% endmacro %}{{ m }} {{ m.name }} {{ m.arguments }} "
     "{{ m.catch_kwargs }} {{ m.catch_varargs }} {{ m.caller }} {{ [m] }} {{ m is defined }} "
     "{{ m == m }} {{ m|string|upper }} [{{ m.nothing }}]", {}],
    ["macro returns string", "{% macro m() %}<b>{% endmacro %}{{ m()|e }} {{ m()|length }} "
     "{{ m() ~ m() }} {{ (m() * 2) }}", {}],
    ["macro scoping closure", "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}"
     "{{ m() }}", {}],
    ["macro scoping missing", "{% macro m() %}<{{ x }}>{% endmacro %}{{ m() }}{% set x = 2 %}"
     "{{ m() }}", {"x": 5}],
    ["macro scoping resolved", "[{{ x }}]{% macro m() %}<{{ x }}>{% endmacro %}{{ m() }}"
     "{% set x = 2 %}{{ m() }}", {"x": 5}],
    ["macro scoping caller frame", "{% macro m() %}<{{ i }}>{% endmacro %}"
     "{% for i in [1, 2] %}{{ m() }}{% endfor %}", {"i": "ctx"}],
    ["macro in loop", "{% for i in [1, 2] %}{% macro m() %}{{ i }}{{ loop.index }}{% endmacro %}"
     "{{ m() }}{% endfor %}", {}],
    ["macro set stays inside", "{% macro m() %}{% set y = 3 %}{{ y }}{% endmacro %}{{ m() }}"
     "[{{ y }}]", {}],
    ["macro in loop is local", "{% for i in [1] %}{% macro m() %}x{% endmacro %}{% endfor %}"
     "{{ m() }}", {}],
    ["macro undefined call", "{{ nothing() }}", {}],
    ["macro call non-callable", "{{ host() }}", INCIDENT],
    ["macro bad signature", "{% macro m(a=1, b) %}{% endmacro %}", {}],
    ["macro colon", "{% macro m(a): %}{{ a }}{% endmacro %}{{ m(1) }}", {}],
    ["call block", "{% macro box(title) %}<div><h1>{{ title }}</h1>{{ caller() }}</div>"
     "{% endmacro %}{% call box('T') %}body {{ host }}{% endcall %}", INCIDENT],
    ["call block arguments", "{% macro each(items) %}{% for i in items %}{{ caller(i, loop.index) }}"
     "{% endfor %}{% endmacro %}{% call(item, n) each(tags) %}{{ n }}={{ item }};{% endcall %}",
     INCIDENT],
    ["call block caller repr", "{% macro m() %}{{ caller }} {{ caller.name }} {{ caller() }}"
     "{% endmacro %}{% call m() %}x{% endcall %}", {}],
    ["call without caller", "{% macro m() %}{{ caller() }}{% endmacro %}{{ m() }}", {}],
    ["call to macro without caller", "{% macro m() %}x{% endmacro %}{% call m() %}y{% endcall %}",
     {}],
    ["caller explicit parameter", "{% macro m(a, caller=none) %}{{ a }}{{ caller() }}{% endmacro %}"
     "{% call m(1) %}y{% endcall %}", {}],
    ["caller parameter without default", "{% macro m(caller) %}{{ caller() }}{% endmacro %}", {}],
    ["loop cycle", "{% for t in tags %}{{ loop.cycle('odd', 'even') }} {% endfor %}"
     "{% for t in tags %}{% set l = loop %}{{ l.cycle(1, 2, 3) }}{% endfor %}", INCIDENT],
    ["loop cycle empty", "{% for t in tags %}{{ loop.cycle() }}{% endfor %}", INCIDENT],
    ["scoping loop missing", "{% for i in [1] %}<{{ x }}>{% endfor %}{% set x = 2 %}", {"x": 5}],
    ["scoping set block frame", "{% set b %}{% set y = 1 %}{{ y }}{% endset %}[{{ y }}]{{ b }}", {}],
    ["scoping for else frame", "{% for i in [] %}{% else %}{% set y = 1 %}{{ y }}{% endfor %}"
     "[{{ y }}]", {}],
    ["scoping branch resolves", "{% for i in [1] %}<{{ x }}>{% endfor %}{% if true %}"
     "{% set x = 2 %}{% endif %}", {"x": 5}],
    ["assign to constant", "{% set true = 1 %}", {}],
    ["if tuple", "{% if 0, 0 %}t{% endif %}{% if true: %}c{% else: %}e{% endif %}", {}],
    ["range shadowed", "{% macro range(n) %}R{{ n }}{% endmacro %}{{ range(3) }}", {}],
]

# --- printf-style formatting: the % operator and the format filter
PRINTF_CASES = [
    ["printf basic", "{{ '%s is %d%%' % ('disk', 97) }}", {}],
    ["printf single value", "{{ 'value: %s' % value }} {{ '%s' % none }} {{ '%s' % [1, 'a'] }}",
     INCIDENT],
    ["printf tuple of one", "{{ '%s' % (tags,) }}", INCIDENT],
    ["printf dict as value", "{{ '%s' % {'a': 1} }} {{ 'plain' % {'a': 1} }}", {}],
    ["printf mapping keys", "{{ '%(host)s has %(n)05.1f%%' % {'host': host, 'n': value} }}",
     INCIDENT],
    ["printf mapping missing key", "{{ '%(x)s' % {'a': 1} }}", {}],
    ["printf mapping needed", "{{ '%(a)s' % (1,) }}", {}],
    ["printf key then positional", "{{ '%(a)s %s' % {'a': 1} }}", {}],
    ["printf whole mapping then key", "{{ '%s %(a)s' % {'a': 1} }}", {}],
    ["printf too few", "{{ '%s %s' % (1,) }}", {}],
    ["printf too many", "{{ '%s' % (1, 2) }}", {}],
    ["printf not converted", "{{ 'abc' % 5 }}", {}],
    ["printf list is a mapping", "{{ 'abc' % [] }} {{ '%s' % [] }}", {}],
    ["printf incomplete", "{{ 'abc %' % () }}", {}],
    ["printf unknown conversion", "{{ '%y' % 5 }}", {}],
    ["printf percent after flags", "{{ '%5%' % (1,) }}", {}],
    ["printf integers", "{{ '%d|%i|%u|%5d|%-5d|%05d|%+d|% d|%.3d' % (42, -7, 3, 42, 42, -42, 5, 5, 5) }}",
     {}],
    ["printf integer of float", "{{ '%d %d %i' % (2.7, -2.7, true) }}", {}],
    ["printf integer of string", "{{ '%d' % '5' }}", {}],
    ["printf integer of nan", "{{ '%d' % ('nan' ~ empty)|float }}", INCIDENT],
    ["printf big float as integer", "{{ '%d' % 1e20 }} {{ '%.25d' % -1e20 }}", {}],
    ["printf hex octal", "{{ '%x %X %o %#x %#X %#o %#010x %-#8o|' % (255, 255, 8, 255, 255, 8, 255, 8) }}",
     {}],
    ["printf hex of float", "{{ '%x' % 2.0 }}", {}],
    ["printf hex negative", "{{ '%x %#x %x' % (-255, -255, -9223372036854775807 - 1) }}", {}],
    ["printf floats", "{{ '%f %.2f %10.3f %-10.1f| %+.1f %e %E %g %G' % (3.14159, 2.675, 1.5, 1.5, "
     "2.0, 12345.678, 0.00012, 1e-5, 1e20) }}", {}],
    ["printf float rounding", "{{ '%.0f %.0f %.0f %.1f %.2f' % (0.5, 1.5, 2.5, 0.25, 1.005) }}", {}],
    ["printf float of int", "{{ '%f %e %g' % (3, true, 100000) }} {{ '%g' % 1000000 }}", {}],
    ["printf float alternate", "{{ '%#.0f %#g %#.3g %#e' % (1.5, 1.0, 2.0, 3.0) }}", {}],
    ["printf float of string", "{{ '%f' % 'x' }}", {}],
    ["printf infinities", "{{ '%f %F %e %5.1f| %+f %05f' % (('inf' ~ empty)|float, "
     "('inf' ~ empty)|float, ('-inf' ~ empty)|float, ('nan' ~ empty)|float, "
     "('nan' ~ empty)|float, ('-inf' ~ empty)|float) }}", INCIDENT],
    ["printf strings", "{{ '%s|%10s|%-10s|%.2s|%5.1s|%r|%a' % ('abc', 'abc', 'abc', 'abc', 'abc', "
     "'é', 'é😀') }}", {}],
    ["printf string flags ignored", "{{ '%05s|%+s|%#s|% s' % ('a', 'b', 'c', 'd') }}", {}],
    ["printf repr of values", "{{ '%r %r %r %r' % (none, [1, 'x'], {'a': 1.5}, true) }}", {}],
    ["printf char", "{{ '%c%c%c|%3c|%-3c|' % (72, 'i', 233, 'x', 120) }}", {}],
    ["printf char errors", "{{ '%c' % 'ab' }}", {}],
    ["printf char range", "{{ '%c' % 1114112 }}", {}],
    ["printf star width", "{{ '[%*d] [%-*s] [%.*f] [%*.*f]' % (5, 42, 4, 'x', 2, 3.14159, 8, 1, 2.25) }}",
     {}],
    ["printf star negative", "{{ '[%*d]' % (-5, 42) }}", {}],
    ["printf star not int", "{{ '%*d' % ('5', 1) }}", {}],
    ["printf length modifier", "{{ '%ld %lf %Lg %hd' % (1, 2.5, 3.5, 4) }}", {}],
    ["printf unicode", "{{ 'é%sö%5s|' % ('ü', '日本') }}", {}],
    ["printf undefined argument", "{{ '[%s]' % missing }} {{ 'abc' % missing }}", {}],
    ["printf undefined format", "{{ missing % 1 }}", {}],
    ["printf markup", "{{ ('<b>%s</b>'|safe) % '<i>' }} {{ ('%s|%r'|safe) % ('&', '<') }} "
     "{{ [('%s'|safe) % '<'] }}", {}],
    ["printf markup numbers", "{{ ('%d %.1f %5s'|safe) % (3, 2.5, '<') }}", {}],
    ["printf markup hex", "{{ ('%x'|safe) % 255 }}", {}],
    ["printf markup mapping", "{{ ('%(a)s %(b)d'|safe) % {'a': '<', 'b': 2} }}", {}],
    ["printf markup arg", "{{ '%s' % ('<b>'|safe) }} {{ ('%s'|safe) % ('<b>'|safe) }}", {}],
    ["format filter positional", "{{ '%s - %s'|format('a', 1) }} {{ '%.1f%%'|format(value) }}",
     INCIDENT],
    ["format filter keywords", "{{ '%(a)s=%(b)s'|format(a='x', b=2) }}", {}],
    ["format filter mixed", "{{ '%s'|format(1, a=2) }}", {}],
    ["format filter no args", "{{ 'plain'|format }} {{ '100%%'|format }}", {}],
    ["format filter missing args", "{{ '%s'|format }}", {}],
    ["format filter one list", "{{ '%s'|format([1, 2]) }} {{ '%s %s'|format(*[1, 2]) }}", {}],
    ["format filter number value", "{{ 42|format }} {{ none|format }} [{{ missing|format }}]", {}],
    ["format filter markup", "{{ ('<%s>'|safe)|format('<') }} {{ '<%s>'|format('<'|safe) }}", {}],
]

# --- str.format
STRFORMAT_CASES = [
    ["str.format automatic", "{{ '{} on {}'.format(check, host) }} {{ '{}{}{}'.format(1, 'a', none) }}",
     INCIDENT],
    ["str.format numbered", "{{ '{1}-{0}-{1}'.format('a', 'b') }}", {}],
    ["str.format named", "{{ '{host}: {v}'.format(host=host, v=value) }}", INCIDENT],
    ["str.format mixed numbering", "{{ '{}{0}'.format(1) }}", {}],
    ["str.format mixed numbering reverse", "{{ '{0}{}'.format(1) }}", {}],
    ["str.format missing positional", "{{ '{} {}'.format(1) }}", {}],
    ["str.format missing keyword", "{{ '{a}'.format(b=1) }}", {}],
    ["str.format extra arguments", "{{ '{}'.format(1, 2, x=3) }}", {}],
    ["str.format braces", "{{ '{{}} {{{}}} }}{{'.format(5) }}", {}],
    ["str.format single brace", "{{ 'a } b'.format() }}", {}],
    ["str.format open brace", "{{ 'a {'.format() }}", {}],
    ["str.format attribute", "{{ '{0.name} of {0.team}'.format(owner) }} {{ '{o.name}'.format(o=owner) }}",
     INCIDENT],
    ["str.format item", "{{ '{0[0]} {0[2]} {1[name]} {1[phones][0]}'.format(tags, owner) }}",
     INCIDENT],
    ["str.format deep", "{{ '{0[a][b][c][2][d]}'.format(nested) }}", INCIDENT],
    ["str.format missing attribute", "[{{ '{0.nothing}'.format(owner) }}] [{{ '{0[9]}'.format(tags) }}]",
     INCIDENT],
    ["str.format attribute of undefined", "{{ '{0.a.b}'.format(owner) }}", INCIDENT],
    ["str.format number attributes", "{{ '{0.real} {0.imag} {1.real}'.format(5, 2.5) }}", {}],
    ["str.format empty attribute", "{{ '{0.}'.format(owner) }}", INCIDENT],
    ["str.format missing bracket", "{{ '{0[a}'.format(owner) }}", INCIDENT],
    ["str.format conversions", "{{ '{!r} {!s} {!a} {0!r:>8}'.format('é', 'x', 'ü') }}", {}],
    ["str.format conversion unknown", "{{ '{!x}'.format(1) }}", {}],
    ["str.format conversion repr values", "{{ '{!r} {!r} {!r}'.format(none, [1], owner.phones) }}",
     INCIDENT],
    ["str.format values plain", "{{ '{} {} {} {} {} {}'.format(1.0, 1e20, true, none, [1, 'a'], "
     "{'k': 1}) }}", {}],
    ["str.format undefined", "[{{ '{}'.format(missing) }}] {{ '{!r}'.format(missing) }}", {}],
    ["str.format undefined with spec", "{{ '{:>5}'.format(missing) }}", {}],
    ["str.format none with spec", "{{ '{:>5}'.format(none) }}", {}],
    ["str.format list with spec", "{{ '{:s}'.format([1]) }}", {}],
    ["str.format markup", "{{ ('<b>{}</b>'|safe).format('<i>') }} {{ ('{}'|safe).format('<'|safe) }} "
     "{{ ('{!r}'|safe).format('<') }} {{ ('{:>4}'|safe).format('<') }}", {}],
    ["str.format markup spec", "{{ ('{:>4}'|safe).format('<'|safe) }}", {}],
    ["str.format markup argument in plain", "{{ '{}|{:>5}'.format('<b>'|safe, 'x'|safe) }}", {}],
    ["str.format nested spec", "{{ '{:{}}|{:>{w}}|{:{}{}}'.format(1, 5, 'x', 'y', '^', 7, w=4) }}", {}],
    ["str.format nested too deep", "{{ '{0:{1:{2}}}'.format(1, 2, 3) }}", {}],
    ["str.format unpacking", "{{ '{}-{}'.format(*tags) }} {{ '{host}'.format(**iris) }}",
     {"tags": ["a", "b"], "iris": {"host": "h"}}],
    ["str.format on a number", "{{ (5).format(1) }}", {}],
    ["str.format unicode", "{{ '日{}本{:*^5}'.format('é', 'ü') }}", {}],
]

# --- the format-spec mini-language
SPEC_CASES = [
    ["spec string align", "[{{ '{:<6}|{:>6}|{:^6}|{:^7}|{:*^7}|{:é>4}'.format('ab', 'ab', 'ab', 'ab', "
     "'ab', 'x') }}]", {}],
    ["spec string precision", "{{ '{:.2}|{:5.1}|{:.0}|{:s}'.format('abc', 'abc', 'abc', 'abc') }}", {}],
    ["spec string zero", "{{ '{:05}|{:<05}|{:>05}'.format('ab', 'ab', 'ab') }}", {}],
    ["spec string sign", "{{ '{:+}'.format('x') }}", {}],
    ["spec string alternate", "{{ '{:#}'.format('x') }}", {}],
    ["spec string equal align", "{{ '{:=5}'.format('x') }}", {}],
    ["spec string comma", "{{ '{:,}'.format('x') }}", {}],
    ["spec string code", "{{ '{:d}'.format('x') }}", {}],
    ["spec integers", "{{ '{:d}|{:5d}|{:<5}|{:^5}|{:=+5}|{:05}|{:+}|{: }|{:-}'.format(42, 42, 42, 42, "
     "42, -42, 42, 42, -42) }}", {}],
    ["spec integer bases", "{{ '{:b}|{:o}|{:x}|{:X}|{:#b}|{:#o}|{:#x}|{:#X}|{:c}'.format(10, 8, 255, 255, "
     "10, 8, 255, 255, 9731) }}", {}],
    ["spec integer grouping", "{{ '{:,}|{:_}|{:_x}|{:_b}|{:,d}|{:010,}|{:09,}|{:05,}|{:=10,}'.format("
     "1234567, 1234567, 2**40, 10, -1234, 1234, 1234, 1234, 1234) }}", {}],
    ["spec integer grouping invalid", "{{ '{:,x}'.format(255) }}", {}],
    ["spec integer both separators", "{{ '{:,_}'.format(1) }}", {}],
    ["spec integer precision", "{{ '{:.2}'.format(3) }}", {}],
    ["spec integer z", "{{ '{:z}'.format(3) }}", {}],
    ["spec integer c sign", "{{ '{:+c}'.format(65) }}", {}],
    ["spec integer c range", "{{ '{:c}'.format(1114112) }}", {}],
    ["spec integer as float", "{{ '{:f}|{:.2e}|{:g}|{:%}|{:.1%}'.format(3, 12345, 7, 1, 2) }}", {}],
    ["spec integer n", "{{ '{:n}|{:n}'.format(1234567, -5) }}", {}],
    ["spec integer n comma", "{{ '{:,n}'.format(1) }}", {}],
    ["spec integer unknown", "{{ '{:q}'.format(1) }}", {}],
    ["spec integer invalid", "{{ '{:x,}'.format(1) }}", {}],
    ["spec integer negative alternate", "{{ '{:#x}|{:#010b}|{:+#x}|{: x}'.format(-5, -5, 5, 5) }}", {}],
    ["spec booleans", "{{ '{}|{:>5}|{:d}|{:x}|{:f}|{:c}'.format(true, true, false, true, true, 65) }}",
     {}],
    ["spec floats fixed", "{{ '{:f}|{:.2f}|{:10.3f}|{:<10.1f}|{:+.1f}|{:.0f}|{:#.0f}'.format(3.14159, "
     "2.675, 1.5, 1.5, 2.0, 2.5, 1.5) }}", {}],
    ["spec floats exponent", "{{ '{:e}|{:.2E}|{:.0e}|{:#.0e}'.format(12345.678, 0.00012, 5.0, 5.0) }}",
     {}],
    ["spec floats general", "{{ '{:g}|{:G}|{:.3g}|{:#g}|{:g}|{:g}'.format(1.5, 1e-20, 1234.5, 1.0, "
     "100000.0, 1e6) }}", {}],
    ["spec floats no type", "{{ '{}|{:>8}|{:.3}|{:.3}|{:.2}|{:.1}|{:#.3}|{:#}'.format(1.5, 2.5, 1.0, "
     "123456.0, 0.0001, 2.5, 1.0, 1e20) }}", {}],
    ["spec floats percent", "{{ '{:%}|{:.0%}|{:.1%}|{:010.2%}'.format(0.5, 0.125, 1, -1.5) }}", {}],
    ["spec floats grouping", "{{ '{:,}|{:,.2f}|{:_.1f}|{:012,.1f}|{:,g}|{:,e}'.format(1234567.0, "
     "1234567.891, 1234.5, 1234.5, 1234567.0, 1234567.0) }}", {}],
    ["spec floats z", "{{ '{:z}|{:z.2f}|{:.2f}|{:zg}|{:z.2e}'.format(-0.0, -0.0001, -0.0001, -0.0, "
     "-1e-10) }}", {}],
    ["spec floats sign zero", "{{ '{:+}|{: .1f}|{:-}'.format(0.0, -0.0, -1.5) }}", {}],
    ["spec floats n", "{{ '{:n}|{:n}'.format(12345.6789, 0.000012345) }}", {}],
    ["spec floats infinity", "{{ '{:f}|{:010}|{:+010}|{:E}|{:%}'.format(('inf' ~ empty)|float, "
     "('inf' ~ empty)|float, ('nan' ~ empty)|float, ('-inf' ~ empty)|float, "
     "('nan' ~ empty)|float) }}", INCIDENT],
    ["spec floats unknown", "{{ '{:d}'.format(1.5) }}", {}],
    ["spec floats huge", "{{ '{:.3f}'.format(1e300)|length }} {{ '{:,.0f}'.format(1e22) }}", {}],
    ["spec missing precision", "{{ '{:.}'.format(1.5) }}", {}],
    ["spec fill with multibyte", "{{ '{:€^7}|{:日<4}'.format(12, 'a') }}", {}],
    ["spec fill is brace", "{{ '{:{<5}'.format(1) }}", {}],
]

# --- methods of Markup (|safe) values, and a few of str's
MARKUP_METHOD_CASES = [
    ["markup case methods", "{{ [('<b>x</b>'|safe).upper(), ('<B>'|safe).lower(), "
     "('<b>x'|safe).title(), ('abc'|safe).capitalize()] }}", {}],
    ["markup strip split", "{{ [('  <b> '|safe).strip(), ('<<a<'|safe).strip('<'), "
     "('a<b'|safe).lstrip('a')] }} {{ ('a b <c>'|safe).split() }} {{ ('a,b'|safe).split(',', 1) }}",
     {}],
    ["markup replace escapes", "{{ ('a&b'|safe).replace('&', '<') }} {{ ('a<b'|safe).replace('<', 1) }}"
     " {{ ('a<b'|safe).replace('<', '<i>'|safe) }} {{ ('aaa'|safe).replace('a', '&', 2) }}", {}],
    ["markup replace old not escaped", "{{ ('a&amp;b'|safe).replace('&', 'x') }}", {}],
    ["markup join escapes", "{{ (', '|safe).join(['<', 1, '<b>'|safe, none]) }} "
     "{{ ('-'|safe).join('<>') }} {{ ('|'|safe).join(owner) }}", INCIDENT],
    ["markup predicates plain", "{{ ('<b>'|safe).startswith('<') }} {{ ('<b>'|safe).find('b') }} "
     "{{ ('<b><b>'|safe).count('<b>') }} {{ ('x'|safe).endswith('x') }}", {}],
    ["markup item and slice", "{{ [('<b>'|safe)[0], ('<b>'|safe)[1:], ('ab'|safe) * 2] }}", {}],
    ["markup escaped value methods", "{{ (html|e).upper() }} {{ (html|escape).split()|length }}",
     INCIDENT],
    ["markup format method", "{{ ('<p>{}</p>'|safe).format(html) }} {{ ('{0} {0!r}'|safe).format('&') }}",
     INCIDENT],
    ["markup no such method", "{{ ('x'|safe).items() }}", {}],
    ["markup through filters", "{{ [('<b>'|safe)|center(7), ('<b>'|safe)|last, ('<b>'|safe)|first, "
     "('a\nb'|safe)|indent('<>', true), ('<b>x</b> long text'|safe)|truncate(12, end='<>'), "
     "('<b>'|safe)|trim('<'), ('<b>'|safe)|reverse, ('<b>'|safe)|upper, ('<b>'|safe)|title] }}",
     {}],
    ["str join iterables", "{{ '-'.join('abc') }} {{ ','.join(owner) }} [{{ ','.join(missing) }}] "
     "{{ '.'.join(('a', 'b')) }} {{ '+'.join(tags|reverse) }}", INCIDENT],
    ["str join non-strings", "{{ ','.join([1, 2]) }}", {}],
    ["str join non-iterable", "{{ ','.join(5) }}", {}],
    ["str join markup items", "{{ [','.join(['<'|safe, 'b'])] }}", {}],
]

# --- groupby, striptags, wordcount
FILTER_MORE_CASES = [
    ["groupby attribute", "{% for g in people|groupby('team') %}{{ g.grouper }}: "
     "{{ g.list|map(attribute='name')|join(', ') }}; {% endfor %}",
     {"people": [{"name": "ann", "team": "db"}, {"name": "bob", "team": "web"},
                 {"name": "cid", "team": "db"}]}],
    ["groupby unpacking", "{% for team, members in people|groupby('team') %}{{ team }}={{ members|length }} "
     "{% endfor %}", {"people": [{"name": "ann", "team": "db"}, {"name": "bob", "team": "web"},
                                 {"name": "cid", "team": "db"}]}],
    ["groupby printed", "{{ people|groupby('team') }} {{ (people|groupby('team'))|tojson }}",
     {"people": [{"name": "ann", "team": "db"}, {"name": "bob", "team": "web"}]}],
    ["groupby case", "{{ people|groupby('t') }} {{ people|groupby('t', case_sensitive=true) }}",
     {"people": [{"t": "b"}, {"t": "A"}, {"t": "a"}, {"t": "B"}]}],
    ["groupby default", "{{ people|groupby('t', default='none') }} {{ people|groupby('t', none) }}",
     {"people": [{"t": "b"}, {"x": 1}]}],
    ["groupby missing attribute", "{{ people|groupby('t') }}", {"people": [{"t": "b"}, {"x": 1}]}],
    ["groupby numbers", "{{ [3, 1, 2, 1]|groupby(0) }}", {}],
    ["groupby index", "{{ [[1, 'a'], [2, 'b'], [1, 'c']]|groupby(0) }} "
     "{{ [[1, 'a'], [2, 'b'], [1, 'c']]|groupby('0') }} {{ ['ab', 'ac', 'b']|groupby(0) }}", {}],
    ["groupby dotted", "{{ people|groupby('a.b')|map(attribute='grouper')|list }}",
     {"people": [{"a": {"b": 2}}, {"a": {"b": 1}}, {"a": {"b": 2}}]}],
    ["groupby mixed types", "{{ [{'t': 1}, {'t': 'a'}]|groupby('t') }}", {}],
    ["groupby equal numbers", "{{ [{'t': 1}, {'t': 1.0}, {'t': true}]|groupby('t') }}", {}],
    ["groupby items and index", "{% set g = (tags|groupby(0))[0] %}{{ g[0] }} {{ g[1] }} {{ g.list }} "
     "{{ g['grouper'] }} {{ g|length }} {{ g == ('d', ['db']) }}", INCIDENT],
    ["groupby of a dict", "{{ owner|groupby(0) }}", INCIDENT],
    ["groupby of undefined", "{{ missing|groupby('a') }}", {}],
    ["groupby without attribute", "{{ tags|groupby }}", INCIDENT],
    ["striptags", "{{ '<p>Hello <b>World</b></p>'|striptags }}|{{ '  a\n\n b  '|striptags }}|"
     "{{ '<!-- c --> x <!-- <b> --> y'|striptags }}", {}],
    ["striptags entities", "{{ 'a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; &nbsp;f &copy; &#x263A; "
     "&#9731;'|striptags }}", {}],
    ["striptags entity edge cases", "{{ '&ampx; &amp &AMP; &notit; &nope; &#0; &#128; &#xD800; "
     "&#99999999; &#x; &#; &# && &lt&gt'|striptags }}", {}],
    ["striptags unclosed", "{{ 'a <b c'|striptags }}|{{ 'a <!-- b'|striptags }}|{{ '<a>b<c'|striptags }}",
     {}],
    ["striptags values", "[{{ missing|striptags }}] {{ 5|striptags }} {{ [1, '<b>']|striptags }} "
     "{{ html|striptags }} {{ (html|safe)|striptags }}", INCIDENT],
    ["striptags html email", "{{ '<h3>disk on db-1</h3><p>Value 97.5,&nbsp;threshold 90.</p>'"
     "|striptags }}", {}],
    ["wordcount", "{{ words|wordcount }} {{ 'hello, world'|wordcount }} {{ 'a_b c-d 12 é'|wordcount }} "
     "{{ ''|wordcount }} {{ missing|wordcount }} {{ 42|wordcount }} {{ unicode|wordcount }}", INCIDENT],
    ["wordcount marks", "{{ 'e\u0301x 日本 ½ ٣'|wordcount }}", {}],
]

# --- more macros, call blocks and scoping
MACRO_MORE_CASES = [
    ["macro nested definition", "{% macro outer(x) %}{% macro inner(y) %}{{ x }}+{{ y }}{% endmacro %}"
     "{{ inner(2) }}{% endmacro %}{{ outer(1) }}", {}],
    ["macro passed as argument", "{% macro bold(t) %}<b>{{ t }}</b>{% endmacro %}"
     "{% macro apply(f, v) %}{{ f(v) }}{% endmacro %}{{ apply(bold, host) }}", INCIDENT],
    ["macro stored with set", "{% macro m() %}x{% endmacro %}{% set f = m %}{{ f() }} {{ f.name }}", {}],
    ["macro reads loop", "{% macro m() %}{{ loop.index }}{% endmacro %}{% for t in tags %}{{ m() }}"
     "{% endfor %}", INCIDENT],
    ["macro reads context", "{% macro m() %}{{ host }}/{{ iris.plan }}{% endmacro %}{{ m() }}", INCIDENT],
    ["macro parameter shadows", "{% macro m(host) %}{{ host }}{% endmacro %}{{ m('other') }} {{ host }}",
     INCIDENT],
    ["macro varargs only", "{% macro m() %}{{ varargs|length }}:{% for v in varargs %}{{ v }}{% endfor %}"
     "{% endmacro %}{{ m(1, 2, 3) }} {{ m() }}", {}],
    ["macro kwargs only", "{% macro m() %}{{ kwargs|dictsort }}{% endmacro %}{{ m(b=2, a=1) }}", {}],
    ["macro varargs parameter", "{% macro m(varargs) %}{{ varargs }}{% endmacro %}{{ m(1) }}", {}],
    ["macro varargs parameter extra", "{% macro m(varargs) %}{{ varargs }}{% endmacro %}{{ m(1, 2) }}",
     {}],
    ["macro caller kwarg", "{% macro m() %}{{ caller() }}{% endmacro %}{{ m(caller=m2) }}"
     "{% macro m2() %}two{% endmacro %}", {}],
    ["macro caller kwarg defined", "{% macro m2() %}two{% endmacro %}{% macro m() %}{{ caller() }}"
     "{% endmacro %}{{ m(caller=m2) }}", {}],
    ["macro caller twice", "{% macro m(a) %}{{ a }}{% endmacro %}{% call m(1, caller=2) %}{% endcall %}",
     {}],
    ["macro output in set", "{% macro m(n) %}{{ n * 2 }}{% endmacro %}{% set r = m(21) %}{{ r|int + 1 }}",
     {}],
    ["macro default of context", "{% macro m(h=host) %}{{ h }}{% endmacro %}{{ m() }}", INCIDENT],
    ["macro whitespace", "{%- macro m(a) -%}\n  [{{ a }}]\n{%- endmacro -%}\n{{ m(1) }} {{ m(2) }}", {}],
    ["macro call block loop", "{% macro rows(items) %}<ul>{% for i in items %}<li>{{ caller(i) }}</li>"
     "{% endfor %}</ul>{% endmacro %}{% call(t) rows(failed_tasks) %}{{ t.name }}: {{ t.code }}"
     "{% endcall %}", INCIDENT],
    ["macro call block reads outer", "{% set sep = '|' %}{% macro wrap() %}[{{ caller() }}]{% endmacro %}"
     "{% for t in tags %}{% call wrap() %}{{ t }}{{ sep }}{{ loop.index }}{% endcall %}{% endfor %}",
     INCIDENT],
    ["macro call block nested", "{% macro a() %}a({{ caller() }}){% endmacro %}{% macro b() %}"
     "b({{ caller() }}){% endmacro %}{% call a() %}{% call b() %}x{% endcall %}{% endcall %}", {}],
    ["macro call not a call", "{% call tags %}x{% endcall %}", INCIDENT],
    ["macro call method", "{% call host.upper() %}x{% endcall %}", INCIDENT],
    ["macro name constant", "{% macro none() %}{% endmacro %}", {}],
    ["macro duplicate parameter", "{% macro m(a, a) %}{% endmacro %}", {}],
    ["macro attributes", "{% macro m(a, b=1) %}{{ varargs }}{{ kwargs }}{{ caller() }}{% endmacro %}"
     "{{ m.name }} {{ m.arguments }} {{ m.catch_varargs }} {{ m.catch_kwargs }} {{ m.caller }} "
     "{{ m['name'] }} [{{ m.x }}] {{ m is defined }}", {}],
    ["macro type errors", "{% macro m() %}{% endmacro %}{{ m|length }}", {}],
    ["macro not iterable", "{% macro m() %}{% endmacro %}{% for x in m %}{% endfor %}", {}],
    ["macro to json", "{% macro m() %}{% endmacro %}{{ m|tojson }}", {}],
    ["macro in filters", "{% macro m() %}{% endmacro %}{{ m|string|length }} {{ m|default(1) }} "
     "{{ [m]|length }} {{ m in [m] }} {{ 'x' ~ m }}", {}],
    ["scoping loop set alias", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + i %}{{ x }} "
     "{% endfor %}{{ x }}", {}],
    ["scoping nested loop missing", "{% for i in [1, 2] %}{% for j in [1] %}<{{ x }}>{% endfor %}"
     "{% set x = i %}{% endfor %}", {"x": 5}],
    ["scoping if branch", "{% if false %}{% set x = 2 %}{% endif %}{{ x }}", {"x": 5}],
    ["scoping set block reads outer", "{% set x = 1 %}{% set b %}{{ x }}{% endset %}{{ b }}", {}],
    ["scoping loop filter", "{% for t in tags if t != x %}{{ t }}{% endfor %}", {"tags": ["a", "b"],
                                                                              "x": "a"}],
    ["underscore attributes", "{{ d._x }}|{{ d.__class__ }}|{{ 'x'._y }}|{{ d['_x'] }}|"
     "{{ (5)._z is defined }}", {"d": {"_x": 1}}],
    ["underscore dunder of dict", "[{{ d.__len__ }}] [{{ d.__class__ }}]", {"d": {"__len__": 1}}],
    ["item falls back to attribute", "{{ (5)['real'] }} {{ d['items'] }} [{{ [1]['x'] }}]",
     {"d": {"items": 1}}],
    ["tuple subscript", "[{{ owner[1, 2] }}] [{{ tags[0, 1] }}]", INCIDENT],
    ["tuple subscript of undefined", "{{ missing[1, 2] }}", {}],
    ["infinity stored", "{% set v = ('inf' ~ empty)|float %}{{ v }} {{ [v, -v] }} {{ v|tojson }} "
     "{{ (v, 1) }} {{ v > 1e308 }}", INCIDENT],
    ["nan stored", "{% set v = ('nan' ~ empty)|float %}{{ v }} {{ [v] }} {{ v == v }} {{ v|tojson }}",
     INCIDENT],
    ["attribute index", "{{ ['ab', 'cd']|map(attribute=0)|list }} {{ [[1, 2]]|map(attribute=-1)|list }} "
     "{{ [{'0': 5}]|map(attribute='0')|list }}", {}],
    ["unhashable tuple", "{{ (1, [2]) in {'a': 1} }}", {}],
    ["hashable tuple", "{{ (1, 2) in {'a': 1} }} {{ [(1, 2), (1, 2)]|unique|list }}", {}],
]

# Valid Jinja that this engine refuses at compile time (documented in docs/templates.md).

# Every filter and test this engine implements, applied to one value of each kind (generated
# from these tables, expectations from Jinja2 like the rest).
VALUES = [("str", "'Hello, World'"), ("unicode", "'Ünïcødé ΣΑΣ ß ǆ'"), ("empty", "''"),
          ("int", "42"), ("negative", "-7"), ("float", "2.5"), ("bool", "true"),
          ("none", "none"), ("list", "[3, 1, 2]"), ("strings", "['b', 'A', 'a']"),
          ("dict", "{'b': 1, 'a': 2}"), ("missing", "missing")]
FILTER_CALLS = ["abs", "capitalize", "center(15)", "count", "d('x')", "default('x', true)",
                "dictsort", "e", "escape", "filesizeformat", "first", "float", "indent(2)",
                "int", "join('-')", "last", "length", "list", "lower", "max", "min",
                "replace('l', 'L')", "reverse|list", "round", "safe", "select|list", "sort",
                "string", "sum", "title", "tojson", "trim", "truncate(5)", "unique|list",
                "upper", "urlencode", "wordwrap(5, break_on_hyphens=false)",
                "map('string')|list", "batch(2)|list", "slice(2)|list", "format", "format(1)",
                "striptags", "wordcount", "groupby(0)|list", "groupby('a')"]
TEST_CALLS = ["defined", "undefined", "none", "string", "number", "integer", "float", "boolean",
              "true", "false", "mapping", "sequence", "iterable", "odd", "even",
              "divisibleby(3)", "lower", "upper", "in([42, 'a'])", "eq(42)", "ne 'a'",
              "lt(3)", "le 42", "gt(2.5)", "ge 'a'", "equalto(none)", "escaped", "callable"]
GENERATED = ([["gen |%s on %s" % (f, vn), "{{ %s|%s }}" % (v, f), {}]
              for f in FILTER_CALLS for vn, v in VALUES] +
             [["gen is %s on %s" % (t, vn), "{{ %s is %s }}" % (v, t), {}]
              for t in TEST_CALLS for vn, v in VALUES])

REFUSED = [
    ["refuse include", "{% include 'other' %}", {}],
    ["refuse extends", "{% extends 'base' %}", {}],
    ["refuse call", "{{ dict(a=1) }}", {}],
    ["refuse method", "{{ 'abc'.zfill(5) }}", {}],
    ["refuse filter block", "{% filter upper %}x{% endfilter %}", {}],
    ["refuse unsupported filter", "{{ tags|xmlattr }}", INCIDENT],
    ["refuse unsupported test", "{{ 1 is sameas 1 }}", {}],
    ["refuse with", "{% with a = 1 %}{{ a }}{% endwith %}", {}],
]


# Valid Jinja where this engine fails at render time on purpose (documented differences):
# Python integers are unbounded, ours are 64-bit and overflow is an error, never a wrong number.
DIVERGE = [
    ["diverge int beyond 64 bits", "{{ '99999999999999999999'|int }}", {}],
    # Jinja prints a generator's memory address
    ["diverge generator print", "{{ tags|map('upper') }}", INCIDENT],
    # Jinja raises, or prints nothing when its optimizer folded the slice of a literal
    ["diverge slice none", "{{ none[1:] }}", {}],
    ["diverge slice float index", "{% set s = 'abc' %}{{ s[1.5:] }}", {}],
    ["diverge int overflow", "{{ 9223372036854775807 + 1 }}", {}],
    ["diverge int power", "{{ 2 ** 64 }}", {}],
    # Jinja prints its function's or method's address
    ["diverge global range printed", "{{ range }}", {}],
    ["diverge str.format method attribute", "{{ '{0.upper}'.format('x') }}", {}],
    ["diverge item method is an address", "{{ 'abc'['upper'] }}", {}],
]


def render(template, context):
    env = SandboxedEnvironment(autoescape=False)
    try:
        return {"output": env.from_string(template).render(**context)}
    except Exception as exc:  # noqa: BLE001 - the class name is the expectation
        return {"error": type(exc).__name__}


def build():
    cases = []
    names = set()
    for refused, group in ((False, CASES + MACRO_CASES + PRINTF_CASES + STRFORMAT_CASES +
                            SPEC_CASES + MARKUP_METHOD_CASES + FILTER_MORE_CASES +
                            MACRO_MORE_CASES + GENERATED), (True, REFUSED),
                           ("diverge", DIVERGE)):
        for name, template, context in group:
            assert name not in names, f"duplicate case name {name}"
            names.add(name)
            case = {"name": name, "template": template, "context": context}
            case.update(render(template, context))
            if "output" in case and re.search(r" at 0x[0-9a-f]+>", case["output"]):
                # an object's address (a generator's repr) differs on every run
                case["output"] = re.sub(r" at 0x[0-9a-f]+>", " at 0x…>", case["output"])
            if refused == "diverge":
                case["diverges"] = True
            elif refused:
                case["refused"] = True
            cases.append(case)
    return {"jinja2": jinja2.__version__, "cases": cases}


def main():
    path = os.path.join(HERE, "cases.json")
    doc = build()
    # Keys keep their order: the contexts' dict order is what Jinja iterates and prints.
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                print("tests/tmpl/cases.json is stale: run tests/tmpl/gen_expected.py")
                return 1
        print(f"{len(doc['cases'])} cases match Jinja2 {doc['jinja2']}")
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {len(doc['cases'])} cases (Jinja2 {doc['jinja2']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
