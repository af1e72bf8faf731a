"""The queue contract: the JSON Schema in docs/ and the C parser agree on every example —
valid envelopes (including what the C encoder produces) pass both, invalid ones fail both,
each with a specific reason from the C side — and on thousands of generated envelopes (nulls,
floats, booleans, lengths in multi-byte text, missing and extra fields, every kind)."""
import json
import os
import random
import subprocess

import jsonschema
import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
TOOL = os.path.join(BUILD, "tests", "tools", "iris-envelope")
SCHEMA = json.load(open(os.path.join(SRC, "docs", "message-contract.schema.json")))

VALID = [
    {"v": 1, "kind": "message", "message_id": 9101},
    {"v": 1, "kind": "batch", "batch_id": "0123456789abcdef0123456789abcdef", "message_ids": [1, 2, 3]},
    {"v": 1, "kind": "tracking", "incident_id": 42},
    {"v": 1, "kind": "notification", "notification_id": "n-1", "application": "Autoalerts",
     "target": "storage-oncall", "role": "team", "priority": "high", "subject": "s", "body": "b"},
    {"v": 1, "kind": "notification", "notification_id": "n-2", "application": "a", "target": "x@y",
     "role": "literal_target", "mode": "email", "email_html": "<p>x</p>"},
    {"v": 1, "kind": "notification", "notification_id": "n-3", "application": "a", "target": "ada",
     "role": "user", "category": "deploys", "template": "t", "context": {"k": 1}},
    # Iris's API takes priority and mode together (its own tests send both): priority wins
    {"v": 1, "kind": "notification", "notification_id": "n-4", "application": "a", "target": "ada",
     "role": "user", "priority": "high", "mode": "sms", "body": "b"},
]
INVALID = [
    ({"v": 2, "kind": "message", "message_id": 1}, "unsupported version 2"),
    ({"v": 1, "kind": "gossip"}, "unknown kind 'gossip'"),
    ({"v": 1, "kind": "message", "message_id": 0}, "must be a positive integer"),
    ({"v": 1, "kind": "message", "message_id": "7"}, "must be a positive integer"),
    ({"v": 1, "kind": "message", "message_id": 7, "destination": "+1"}, "unknown field 'destination'"),
    ({"v": 1, "kind": "batch", "batch_id": "XYZ", "message_ids": [1]}, "32 lower-case hex"),
    ({"v": 1, "kind": "batch", "batch_id": "a" * 32, "message_ids": []}, "must list 1-"),
    ({"v": 1, "kind": "tracking", "incident_id": 0}, "'incident_id' must be a positive integer"),
    ({"v": 1, "kind": "tracking", "incident_id": 4, "destination": "x@y"}, "unknown field 'destination' in a tracking"),
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "body": "b"}, "needs one of priority, mode, category"),
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "priority": "high"}, "needs a body, a template or email_html"),
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "priority": "high", "body": "b", "message_id": 5}, "unknown field 'message_id'"),
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "priority": "high", "template": "x"}, "needs a context"),
    # #14.5: null is not a value: it neither counts as the one of priority/mode/category nor
    # sends an empty body.
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "priority": None, "mode": "email", "body": "b"},
     "field 'priority' must be a string, not null"),
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "mode": "email", "body": None}, "field 'body' must be a string, not null"),
    ({"v": 1, "kind": "notification", "notification_id": "", "application": "a", "target": "t",
      "role": "user", "mode": "email", "body": "b"}, "'notification_id' must not be empty"),
    # #14.10: lengths count characters; 1.0 is 1.
    ({"v": 1, "kind": "notification", "notification_id": "n", "application": "a", "target": "t",
      "role": "user", "mode": "email", "body": "b", "subject": "\u00e9" * 256},
     "field 'subject' is longer than 255 characters"),
    ({"v": 1, "kind": "notification", "notification_id": "\u2603", "application": "a",
      "target": "t", "role": "user", "mode": "email", "body": "b"},
     "field 'notification_id' must be printable ASCII"),
    ({"v": 1, "kind": "notification", "notification_id": "a b", "application": "a",
      "target": "t", "role": "user", "mode": "email", "body": "b"},
     "field 'notification_id' must be printable ASCII"),
    ({"v": 1.5, "kind": "message", "message_id": 1}, "unsupported version 1.5"),
    ({"v": 1, "kind": "message", "message_id": 2.5}, "must be a positive integer"),
]

VALID += [
    # 255 characters of 2, 3 and 4 bytes each are 255 characters, not 510-1020 bytes.
    {"v": 1, "kind": "notification", "notification_id": "~" * 64, "application": "a",
     "target": "t", "role": "user", "mode": "email", "subject": ch * 255, "body": "b"}
    for ch in ("\u00e9", "\u2603", "\U0001F600")
] + [
    {"v": 1.0, "kind": "message", "message_id": 7.0},
    {"v": 1, "kind": "batch", "batch_id": "a" * 32, "message_ids": [1.0, 2]},
]


def c_parse(doc):
    r = subprocess.run([TOOL, "parse"], input=doc if isinstance(doc, str) else json.dumps(doc),
                       capture_output=True, text=True)
    return r.returncode, r.stdout.strip()


@pytest.mark.parametrize("doc", VALID)
def test_valid_examples(doc):
    jsonschema.validate(doc, SCHEMA)
    rc, out = c_parse(doc)
    assert rc == 0, out


@pytest.mark.parametrize("doc,reason", INVALID)
def test_invalid_examples(doc, reason):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    rc, out = c_parse(doc)
    assert rc == 1 and reason in out, out


def test_encoder_output_matches_the_schema():
    for args in (["message", "42"], ["tracking", "7"], ["batch", "f" * 32, "1", "2", "3"]):
        out = subprocess.run([TOOL, *args], capture_output=True, text=True, check=True).stdout
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        assert c_parse(out)[0] == 0


def test_not_json():
    assert c_parse("not json")[0] == 1 and "not valid JSON" in c_parse("not json")[1]
    assert "not a JSON object" in c_parse("[1]")[1]


# ---- generated cases ---------------------------------------------------------------------

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
NOTIFICATION = next(s for s in SCHEMA["oneOf"] if s["title"] == "notification")
LIMITS = {k: (v.get("minLength", 0), v.get("maxLength"))
          for k, v in NOTIFICATION["properties"].items() if "maxLength" in v}
ALPHABET = ["a", "Z", " ", "\u00e9", "\u00ff", "\u2603", "\u20ac", "\U0001F600", "\n", "\"", "\\"]


def text(rng, n):
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def scalar(rng):
    return rng.choice([None, True, False, 0, 1, -1, 2, 1.0, 1.5, -0.0, 1e3, 0.5,
                       9223372036854775807, 9223372036854775808, "", "1", "x", [], [1], {},
                       {"k": "v"}, text(rng, 3)])


def base(rng):
    kind = rng.choice(["message", "batch", "tracking", "notification"])
    if kind == "message":
        return {"v": 1, "kind": kind, "message_id": rng.randint(1, 10**6)}
    if kind == "tracking":
        return {"v": 1, "kind": kind, "incident_id": rng.randint(1, 10**6)}
    if kind == "batch":
        return {"v": 1, "kind": kind, "batch_id": "%032x" % rng.getrandbits(128),
                "message_ids": [rng.randint(1, 10**6) for _ in range(rng.randint(1, 4))]}
    # Mostly ids as producers mint them (printable ASCII), sometimes any text.
    nid = (text(rng, rng.randint(1, 8)) if rng.random() < 0.2 else
           "".join(rng.choice("az09-_.~!\x7e") for _ in range(rng.randint(1, 8))))
    d = {"v": 1, "kind": kind, "notification_id": nid,
         "application": "Autoalerts", "target": text(rng, 4), "role": "user"}
    d[rng.choice(["priority", "mode", "category"])] = text(rng, 4)
    which = rng.choice(["body", "template", "email_html"])
    d[which] = text(rng, 10)
    if which == "template":
        d["context"] = {"host": text(rng, 5), "n": rng.randint(0, 9), "l": [1.5, None, True]}
    if rng.random() < 0.5:
        d["subject"] = text(rng, 6)
    return d


def mutate(rng, d):
    keys = list(d) + ["destination", "message_ids", "batch_id", "context", "v", "kind",
                      "priority", "mode", "category", "body", "template", "email_html"]
    r = rng.random()
    k = rng.choice(keys)
    if r < 0.25:
        d.pop(k, None)
    elif r < 0.55:
        d[k] = scalar(rng)
    elif r < 0.85 and LIMITS:
        # Lengths at the limit, in characters of 1 to 4 bytes.
        k = rng.choice(sorted(LIMITS))
        lo, hi = LIMITS[k]
        if hi > 4096:
            hi = rng.choice([0, 1, 17])  # the 1 MiB fields: short, the limit is checked below
        chars = ["a", "~", "\u00e9"] if k == "notification_id" else ALPHABET[3:8]  # (ASCII)
        d[k] = rng.choice(chars) * max(0, rng.choice([lo - 1, lo, hi - 1, hi, hi + 1]))
    else:
        d["v"] = rng.choice([1, 1.0, 2, "1", True, None, 0.9999999999999999, 1.0000001])
    return d


def generated(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        d = base(rng)
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            d = mutate(rng, d)
        out.append(d)
    return out


def c_parse_many(docs):
    lines = "".join(json.dumps(d, ensure_ascii=bool(i % 2)) + "\n" for i, d in enumerate(docs))
    r = subprocess.run([TOOL, "parse-lines"], input=lines.encode(), capture_output=True,
                       check=True)
    # Every reason the parser gives is valid UTF-8 (#14.4): decode strictly.
    return r.stdout.decode("utf-8", errors="strict").splitlines()


def test_parser_and_schema_agree_on_generated_envelopes():
    docs = generated(6000, seed=14)
    results = c_parse_many(docs)
    assert len(results) == len(docs)
    disagree = [(d, res) for d, res in zip(docs, results)
                if VALIDATOR.is_valid(d) != res.startswith("ok ")]
    kinds = {res.startswith("ok ") for res in results}
    assert kinds == {True, False}  # the generator reaches both sides
    assert not disagree, f"{len(disagree)} of {len(docs)} disagree, e.g. {disagree[:3]}"


def test_the_one_mebibyte_fields_count_characters():
    ok = {"v": 1, "kind": "notification", "notification_id": "n", "application": "a",
          "target": "t", "role": "user", "mode": "email"}
    docs = [dict(ok, body="\u2603" * 1048576), dict(ok, body="\u2603" * 1048577),
            dict(ok, email_html="\u00e9" * 1048576), dict(ok, email_html="\u00e9" * 1048577)]
    results = c_parse_many(docs)
    assert [VALIDATOR.is_valid(d) for d in docs] == [True, False, True, False]
    assert [r.startswith("ok ") for r in results] == [True, False, True, False], results


def test_reasons_cut_inside_a_character_stay_valid_utf8():
    # #14.4: the unknown field's name is quoted up to 60 bytes, the kind up to 40; a cut in the
    # middle of a character made the dead-letter call (a UTF-8 message attribute) fail.
    for pad in range(56, 62):
        name = "x" * pad + "\u2603\U0001F600"
        [res] = c_parse_many([{"v": 1, "kind": "message", "message_id": 1, name: 1}])
        assert res.startswith("error: envelope: unknown field 'xxx")
    for pad in range(36, 42):
        [res] = c_parse_many([{"v": 1, "kind": "z" * pad + "\u2603\u2603"}])
        assert res.startswith("error: envelope: unknown kind 'zzz")


def test_duplicate_keys_are_refused():
    # Outside a schema's reach (a parsed document has no duplicates): the parser refuses them,
    # so a second "message_id" cannot smuggle a different id past a first reader.
    rc, out = c_parse('{"v": 1, "kind": "message", "message_id": 1, "message_id": 2}')
    assert rc == 1 and "not valid JSON" in out
