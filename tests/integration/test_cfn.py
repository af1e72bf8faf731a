"""The deployment template: generated from cloudformation/generate.py, valid per cfn-lint,
and wired the way the guarantees need (one lane per mode with a DLQ and partial batch
responses, a single-instance coordinator with no async retries)."""
import json
import os
import subprocess
import sys

SRC = os.environ.get("IRIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(SRC, "cloudformation", "iris-sender.json")


def load():
    with open(TEMPLATE) as f:
        return json.load(f)


def test_template_matches_generator():
    out = subprocess.run([sys.executable, os.path.join(SRC, "cloudformation", "generate.py")],
                         check=True, capture_output=True, text=True).stdout
    with open(TEMPLATE) as f:
        assert f.read() == out, "run: python3 cloudformation/generate.py > cloudformation/iris-sender.json"


def test_cfn_lint_passes():
    lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    r = subprocess.run([lint, TEMPLATE], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_lane_has_dlq_and_partial_batch_response():
    res = load()["Resources"]
    queues = [k for k, v in res.items() if v["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in v["Properties"]]
    assert len(queues) >= 7
    for q in queues:
        lane = q[: -len("Queue")]
        esm = res[lane + "EventSourceMapping"]["Properties"]
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert esm["ScalingConfig"]["MaximumConcurrency"] >= 2
        assert res[q]["Properties"]["VisibilityTimeout"] >= 6 * 60


def test_coordinator_is_single_instance_without_retries():
    res = load()["Resources"]
    assert res["CoordinatorFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert res["CoordinatorInvokeConfig"]["Properties"]["MaximumRetryAttempts"] == 0
    sched = res["CoordinatorSchedule"]["Properties"]
    assert sched["ScheduleExpression"] == "rate(1 minute)"
    assert sched["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_sender_knows_the_lanes_max_receive_count():
    # The sender records a failure and logs its reason on a record's last receive; it learns
    # which one that is from sender.max_receives, which must be the redrive policies' number.
    res = load()["Resources"]
    env = res["SenderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["IRIS__SENDER__MAX_RECEIVES"] == {"Fn::Sub": "${MaxReceiveCount}"}
    for k, v in res.items():
        if v["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in v["Properties"]:
            assert v["Properties"]["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}, k
