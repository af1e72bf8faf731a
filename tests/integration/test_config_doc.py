"""docs/config.md documents every configuration key the code reads, and config/example.json is
a configuration a sender starts from.

The scan: every iris_config_* call in core/ and lambda/ (not lambda/tools/, whose tools read
documents of their own) whose key is a string literal; every
key built from a lane name ("queues.%s" and the like, expanded over the one list of lanes in
core/iris/contract.c); every option a bundled plugin reads (pu_conf(...), its known[] list, or
strcmp(k, ...) over its settings, or its PU_* option table). A key is documented when it appears in backquotes in
docs/config.md (a plugin's options: inside that plugin's own section). The failure names
each missing key, the file that reads it and the doc that lacks it, so a branch adding keys
knows exactly which lines to add.
"""
import glob
import json
import os
import re
import subprocess
import sys

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
DOC = os.path.join(SRC, "docs", "config.md")
CALL = re.compile(r'iris_config_(?:get_str|str_or|get_i64|i64_or|bool_or|double_or|json)\(\s*'
                  r'[^,()]+(?:\([^()]*\))?\s*,\s*"([a-z0-9_.]+)"')
BUILT = re.compile(r'"([a-z0-9_]+)\.%s"')


def sources(*dirs):
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(SRC, d, "**", "*.c"), recursive=True)):
            yield os.path.relpath(path, SRC), open(path, encoding="utf-8").read()


def lanes():
    text = open(os.path.join(SRC, "core", "iris", "contract.c"), encoding="utf-8").read()
    m = re.search(r"lanes\[\]\s*=\s*\{([^}]*)\}", text)
    assert m, "core/iris/contract.c: the list of lanes moved; teach test_config_doc.py where"
    return re.findall(r'"([a-z_]+)"', m.group(1))


def documented(text):
    """Every `backquoted` token of the doc, with comma lists like `a.b`, `a.c` split."""
    return set(re.findall(r"`([^`\s]+)`", text))


def keys_read():
    """key -> first file:line that reads it."""
    found = {}
    for rel, text in sources("core", "lambda"):
        if rel.startswith(os.path.join("lambda", "tools")):
            continue  # operator tools read their own documents (the harness: a vendor's settings)
        for m in CALL.finditer(text):
            found.setdefault(m.group(1), f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
        if "iris_config_" in text:
            for m in BUILT.finditer(text):
                for lane in lanes():
                    found.setdefault(f"{m.group(1)}.{lane}",
                                     f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    return found


def plugin_options():
    """plugin -> {option: file}."""
    out = {}
    for rel, text in sources("plugins"):
        parts = rel.split(os.sep)
        if len(parts) < 3 or parts[1] == "common":
            continue
        if not os.path.exists(os.path.join(SRC, "plugins", parts[1], "CMakeLists.txt")):
            continue  # not bundled (built on its own, like a third party's)
        opts = set(re.findall(r'pu_conf\([^,]+,[^,]+,\s*"([a-z0-9_]+)"\)', text))
        opts |= set(re.findall(r'PU_(?:STR|SECRET|LONG|BOOL)\(\s*"([a-z0-9_]+)"', text))
        opts |= set(re.findall(r'\{\s*"([a-z0-9_]+)",\s*PU_OPT_', text))
        opts |= {o + "<application>" for o in re.findall(r'PU_PREFIX\(\s*"([a-z]+\.)"', text)}
        for m in re.finditer(r"known\[\]\s*=\s*\{([^}]*)\}", text):
            opts |= set(re.findall(r'"([a-z0-9_]+)"', m.group(1)))
        opts |= set(re.findall(r'strcmp\(\s*(?:k|key|c\[i\]\.key)\s*,\s*"([a-z0-9_]+)"\)', text))
        opts |= {o + "<application>" for o in re.findall(r'strncmp\(c\[i\]\.key,\s*"([a-z]+\.)"', text)}
        if opts:
            out.setdefault(parts[1], {}).update({o: rel for o in opts})
    return out


def plugin_sections(text):
    """plugin name -> the text of its '#### name' section in the doc."""
    out = {}
    for m in re.finditer(r"^#### ([a-z0-9_]+)[^\n]*\n(.*?)(?=^#{2,4} |\Z)", text, re.M | re.S):
        out[m.group(1)] = m.group(2)
    return out


def generic(key, doc):
    """A key built from a lane or mode name is documented by its `<mode>` / `<lane>` form."""
    head = key.rsplit(".", 1)[0]
    return any(f"{head}.{p}" in doc or any(d.startswith(f"{head}.{p}") for d in doc)
               for p in ("<mode>", "<lane>"))


def test_every_key_the_code_reads_is_documented():
    doc = documented(open(DOC, encoding="utf-8").read())
    read = keys_read()
    assert len(read) > 40, "the scan found too few keys; did the getters get renamed?"
    # a whole section read at once ("queues", "vendors") is documented by its keys
    missing = [f"key '{k}' (read in {where}) is missing from docs/config.md"
               for k, where in sorted(read.items())
               if k not in doc and not any(d.startswith(k + ".") for d in doc)
               and not generic(k, doc)]
    assert not missing, "\n".join(missing)


def test_every_plugin_option_is_documented():
    text = open(DOC, encoding="utf-8").read()
    sections = plugin_sections(text)
    missing = []
    for plugin, opts in sorted(plugin_options().items()):
        if plugin not in sections:
            missing.append(f"plugin '{plugin}' ({', '.join(sorted(opts))}) has no '#### {plugin}'"
                           " section in docs/config.md")
            continue
        doc = documented(sections[plugin])
        missing += [f"option '{o}' of plugin '{plugin}' (read in {where}) is missing from"
                    f" docs/config.md, section '#### {plugin}'"
                    for o, where in sorted(opts.items()) if o not in doc]
    assert not missing, "\n".join(missing)


def test_example_config_configures_every_lane_and_vendor():
    with open(os.path.join(SRC, "config", "example.json")) as f:
        cfg = json.load(f)
    read, doc = keys_read(), documented(open(DOC, encoding="utf-8").read())

    def leaves(o, prefix=""):
        for k, v in o.items():
            if isinstance(v, dict) and k not in ("vendors",):
                yield from leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"
    unknown = [k for k in leaves(cfg) if k not in doc]
    assert not unknown, f"config/example.json sets keys docs/config.md does not know: {unknown}"
    assert set(cfg["queues"]) >= set(lanes())
    modes = [lane for lane in lanes() if lane != "notifications"]
    assert set(cfg["vendors"]) == set(modes), "every mode needs a vendor, or its pages fall back"
    options = plugin_options()
    for mode, insts in cfg["vendors"].items():
        for inst in insts:
            bad = [o for o in inst.get("config", {}) if o not in options[inst["plugin"]]
                   and not any(o.startswith(p[:-len("<application>")]) for p in options[inst["plugin"]]
                               if p.endswith("<application>"))]
            assert not bad, f"vendors.{mode} {inst['plugin']}: unknown options {bad}"
            for k, v in inst.get("config", {}).items():
                if any(w in k for w in ("token", "password", "key")) and not k.endswith("_secret"):
                    assert str(v).startswith("secretsmanager:"), f"vendors.{mode}.{k} must be a secret reference"
    assert cfg["db"]["password"].startswith("secretsmanager:")
    assert all(k in read or k.startswith("vendors") for k in leaves(cfg)), \
        [k for k in leaves(cfg) if k not in read]


def test_a_sender_starts_from_the_example_config(tmp_path):
    """The sender, started with config/example.json as its configuration (only what cannot
    exist here changed: the database, AWS, the plugin directory, the secrets' values), loads
    every vendor instance the example configures."""
    import boto3
    import uuid
    endpoint = os.environ["IRIS_TEST_AWS_ENDPOINT"]
    with open(os.path.join(SRC, "config", "example.json")) as f:
        cfg = json.load(f)
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    sfx = uuid.uuid4().hex[:8]
    refs = {}

    def swap(o):  # each secret reference → a moto secret of the same shape, with a test value
        for k, v in list(o.items()) if isinstance(o, dict) else enumerate(o):
            if isinstance(v, (dict, list)):
                swap(v)
            elif isinstance(v, str) and v.startswith("secretsmanager:"):
                sid, _, field = v[len("secretsmanager:"):].partition("#")
                new = refs.setdefault(sid, f"{sid}-{sfx}")
                o[k] = f"secretsmanager:{new}" + (f"#{field}" if field else "")
    swap(cfg)
    for sid, new in refs.items():
        fields = {m.group(1): "" if "db" in sid else "test-value"
                  for m in re.finditer(re.escape(sid) + r"#([a-z_]+)", json.dumps(cfg_orig()))}
        sm.create_secret(Name=new, SecretString=json.dumps(fields) if fields else "test-value")
    db = f"iris_excfg_{sfx}"
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "load-iris", db], check=True, capture_output=True)
    try:
        cfg["db"].update({"host": os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1"),
                          "port": int(os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")),
                          "user": "root", "database": db, "tls": "off"})
        cfg["db"].pop("ca_file", None)
        cfg["aws"]["endpoint"] = endpoint
        cfg["plugins"]["dir"] = os.path.join(BUILD, "plugins", "out")
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        cfg["queues"] = {k: sqs.create_queue(QueueName=f"ex-{k}-{sfx}")["QueueUrl"] for k in cfg["queues"]}
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg))
        env = {**os.environ, "IRIS_CONFIG": str(path), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
        r = subprocess.run([os.path.join(BUILD, "lambda", "sender", "iris-sender"), "--worker",
                            "--max-idle", "1"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        for mode, insts in cfg["vendors"].items():
            assert f"mode {mode}: {len(insts)} vendor instance(s)" in r.stderr, r.stderr
        assert "test-value" not in r.stdout + r.stderr  # secrets never in logs
    finally:
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def cfg_orig():
    with open(os.path.join(SRC, "config", "example.json")) as f:
        return json.load(f)


if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", __file__]))
