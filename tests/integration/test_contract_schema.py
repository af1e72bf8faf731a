"""The queue contract: the JSON Schema in docs/ and the C parser agree on every example —
valid envelopes (including what the C encoder produces) pass both, invalid ones fail both,
each with a specific reason from the C side."""
import json
import os
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
