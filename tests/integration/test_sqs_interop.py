"""Interoperability with boto3, the reference client: a message boto3 sends is read by our C
client with the same body and attributes, and a message we send is read by boto3 (which also
verifies the body and attribute MD5s moto computes)."""
import base64

from sqs_cli import boto_sqs, cli, new_queue

BODY = 'incident 42 ⚠ "quoted" <xml> & émoji 🚨\nline2\ttab'


def test_boto3_sends_we_receive():
    url = new_queue("interop")
    sqs = boto_sqs()
    sent = sqs.send_message(QueueUrl=url, MessageBody=BODY, MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "notification"},
        "version": {"DataType": "Number", "StringValue": "1"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xffbin"},
        "custom": {"DataType": "Number.int", "StringValue": "7"},
    })
    got = cli("receive", url, "1", "1", "30")
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == BODY
    assert m["Attributes"]["kind"] == {"DataType": "String", "Value": "notification"}
    assert m["Attributes"]["version"] == {"DataType": "Number", "Value": "1"}
    assert m["Attributes"]["custom"] == {"DataType": "Number.int", "Value": "7"}
    assert base64.b64decode(m["Attributes"]["raw"]["Value"]) == b"\x00\x01\xffbin"
    cli("delete", url, m["ReceiptHandle"])


def test_we_send_boto3_receives():
    url = new_queue("interop")
    raw = base64.b64encode(b"\x10\x20bytes").decode()
    sent = cli("send", url, BODY, "kind:String:message", "attempt:Number:3", f"raw:Binary:{raw}")
    sqs = boto_sqs()
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                              MessageAttributeNames=["All"], AttributeNames=["All"])
    [m] = got["Messages"]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == BODY
    attrs = m["MessageAttributes"]
    assert attrs["kind"] == {"DataType": "String", "StringValue": "message"}
    assert attrs["attempt"] == {"DataType": "Number", "StringValue": "3"}
    assert attrs["raw"] == {"DataType": "Binary", "BinaryValue": b"\x10\x20bytes"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_batch_both_ways():
    url = new_queue("interop")
    import json
    entries = [{"id": f"m{i}", "body": f"{BODY} #{i}", "attrs": [["i", "Number", str(i)]]}
               for i in range(10)]
    res = cli("send-batch", url, stdin=json.dumps(entries))
    assert len(res["ok"]) == 10
    sqs = boto_sqs()
    seen = {}
    for _ in range(10):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            seen[m["Body"]] = m["MessageAttributes"]["i"]["StringValue"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(seen) == 10:
            break
    assert seen == {f"{BODY} #{i}": str(i) for i in range(10)}
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"b{i}", "MessageBody": f"boto {i}"} for i in range(10)])
    assert len(r["Successful"]) == 10
    bodies = set()
    for _ in range(10):
        bodies |= {m["Body"] for m in cli("receive", url, "10", "0", "30")}
        if len(bodies) == 10:
            break
    assert bodies == {f"boto {i}" for i in range(10)}
