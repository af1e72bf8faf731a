"""The deployment template: generated from cloudformation/generate.py, valid per cfn-lint,
referencing only artifacts scripts/package.sh produces, and wired the way the guarantees need
(one lane per mode with a DLQ and partial batch responses, a single-instance coordinator with
no async retries, one least-privilege role per function, a connection budget checked at deploy
time, the alarms and the dashboard docs/operations.md describes)."""
import http.server
import json
import os
import re
import subprocess
import sys
import threading

import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(SRC, "cloudformation", "iris-sender.json")


BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(SRC, "cloudformation"))
import generate  # noqa: E402


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
        conc = load()["Parameters"][esm["ScalingConfig"]["MaximumConcurrency"]["Ref"]]
        assert conc["MinValue"] >= 2 and conc["Default"] >= 2  # Lambda's lower bound
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


def test_every_artifact_the_template_references_is_packaged(tmp_path):
    """Build the zips exactly as docs/deployment.md does and compare with every S3 key the
    template names (layer and function code; the inline budget check has no artifact)."""
    cache = open(os.path.join(BUILD, "CMakeCache.txt")).read()
    if "IRIS_SANITIZE:BOOL=ON" in cache:
        pytest.skip("packaging is for release builds")
    r = subprocess.run([os.path.join(SRC, "scripts", "package.sh"), BUILD, str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    produced = sorted(p.name for p in tmp_path.glob("*.zip"))
    referenced = []
    for name, r_ in load()["Resources"].items():
        props = r_["Properties"]
        code = props.get("Code") or props.get("Content")
        if not code or "ZipFile" in code:
            continue
        key = code["S3Key"]
        assert key.get("Fn::Sub", "").startswith("${ArtifactPrefix}"), (name, key)
        referenced.append((name, key["Fn::Sub"][len("${ArtifactPrefix}"):]))
    assert {n for n, _ in referenced} >= {"PluginLayer", "CoordinatorFunction", "SenderFunction",
                                          "NotifyFunction"}
    missing = [f"{name} references {key}, which scripts/package.sh did not produce"
               for name, key in referenced if key not in produced]
    assert not missing, "; ".join(missing) + f" (produced: {', '.join(produced)})"


def statements(res, role):
    return [s for p in res[role]["Properties"]["Policies"]
            for s in p["PolicyDocument"]["Statement"]]


def plain(stmts):
    """The statements that are not conditional (Fn::If)."""
    return [s for s in stmts if "Fn::If" not in s]


def test_one_least_privilege_role_per_function():
    res = load()["Resources"]
    lanes = [f"{lane}Queue" for lane, _ in generate.LANES]
    for fn, role in (("Coordinator", "CoordinatorRole"), ("Sender", "SenderRole"),
                     ("Notify", "NotifyRole")):
        assert res[f"{fn}Function"]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
        stmts = statements(res, role)
        # secrets: only its own list and the config secret, each under a condition
        cond = [s["Fn::If"][1] for s in stmts if "Fn::If" in s]
        assert [s["Action"] for s in cond] == ["secretsmanager:GetSecretValue", "kms:Decrypt"]
        assert f"{fn}SecretArns" in json.dumps(cond[0]["Resource"])
        assert cond[1]["Condition"]["StringEquals"]["kms:ViaService"]
        for s in plain(stmts):
            assert "*" not in json.dumps(s["Resource"]), (role, s)
    co = plain(statements(res, "CoordinatorRole"))
    assert co == [{"Sid": "EnqueueToTheLanes", "Effect": "Allow", "Action": "sqs:SendMessage",
                   "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in lanes]}]
    se = {s["Sid"]: s for s in plain(statements(res, "SenderRole"))}
    assert set(se) == {"ConsumeTheLanes", "DeadLetter"}
    assert "sqs:SendMessage" not in se["ConsumeTheLanes"]["Action"]
    assert se["ConsumeTheLanes"]["Resource"] == [{"Fn::GetAtt": [q, "Arn"]} for q in lanes]
    assert se["DeadLetter"]["Action"] == "sqs:SendMessage"
    assert all("DeadLetterQueue" in r["Fn::GetAtt"][0] for r in se["DeadLetter"]["Resource"])
    no = plain(statements(res, "NotifyRole"))
    assert no == [{"Sid": "EnqueueNotifications", "Effect": "Allow", "Action": "sqs:SendMessage",
                   "Resource": {"Fn::GetAtt": ["NotificationsQueue", "Arn"]}}]
    # the sender knows its own dead-letter queue; notify knows only its lane
    env = res["SenderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["IRIS__QUEUES__DEAD_LETTER"] == {"Ref": "SenderDeadLetterQueue"}
    nenv = res["NotifyFunction"]["Properties"]["Environment"]["Variables"]
    assert [k for k in nenv if k.startswith("IRIS_QUEUE_")] == ["IRIS_QUEUE_NOTIFICATIONS"]


def test_notify_routes_behind_the_http_api():
    res = load()["Resources"]
    routes = sorted(r["Properties"]["RouteKey"] for r in res.values()
                    if r["Type"] == "AWS::ApiGatewayV2::Route")
    assert routes == sorted(["POST /v0/notifications", "GET /v0/notifications/{id}",
                             "POST /v0/twilio/messages/status", "POST /v0/twilio/calls/status"])
    integ = res["NotifyApiIntegration"]["Properties"]
    assert integ["IntegrationUri"] == {"Fn::GetAtt": ["NotifyFunction", "Arn"]}


def test_alarms_and_dashboard():
    res = load()["Resources"]
    alarms = {k: v["Properties"] for k, v in res.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    metrics = {(a["Namespace"] if isinstance(a["Namespace"], str) else "ns", a["MetricName"])
               for a in alarms.values()}
    assert {("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"), ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "Invocations"),
            ("ns", "escalation_lag"), ("ns", "enqueue_lag")} <= metrics
    for lane, _ in generate.LANES:
        assert f"{lane}DeadLetterAlarm" in alarms and f"{lane}AgeAlarm" in alarms
    stopped = alarms["CoordinatorStoppedAlarm"]
    assert stopped["TreatMissingData"] == "breaching" and stopped["ComparisonOperator"] == "LessThanThreshold"
    body = res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for needle in ('MetricName=\\"sent\\"', 'MetricName=\\"failed\\"', "escalation_lag",
                   "enqueue_lag", '"Duration"', "@initDuration"):
        assert needle in body, needle
    widgets = json.loads(body)["widgets"]  # still JSON once CloudFormation substitutes the names
    for w in widgets:  # every metrics entry is a row (a list), expressions included
        assert all(isinstance(m, list) for m in w["properties"].get("metrics", [])), w


class _Capture(http.server.BaseHTTPRequestHandler):
    got = []

    def do_PUT(self):
        _Capture.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def run_budget_check(props, request="Create"):
    """Run the template's inline custom-resource code as Lambda would, answering a local
    stand-in for CloudFormation's pre-signed response URL."""
    code = load()["Resources"]["DbConnectionBudgetFunction"]["Properties"]["Code"]["ZipFile"]
    scope = {}
    exec(compile(code, "index.py", "exec"), scope)
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Capture)
    t = threading.Thread(target=srv.handle_request)
    t.start()
    _Capture.got = []
    scope["handler"]({"RequestType": request, "ResponseURL": f"http://127.0.0.1:{srv.server_port}/r",
                      "StackId": "s", "RequestId": "r", "LogicalResourceId": "DbConnectionBudgetCheck",
                      "ResourceProperties": props}, None)
    t.join(10)
    srv.server_close()
    return _Capture.got[0]


def test_connection_budget_is_checked_at_deploy_time():
    res = load()["Resources"]
    props = res["DbConnectionBudgetCheck"]["Properties"]
    assert props["Budget"] == {"Ref": "DbConnectionBudget"} and props["Coordinator"] == 1
    assert props["Notify"] == {"Ref": "NotifyConcurrency"}
    assert props["Lanes"] == {lane.lower(): {"Ref": f"{lane}Concurrency"} for lane, _ in generate.LANES}
    for lane, _ in generate.LANES:  # nothing consumes before the check passed
        assert res[f"{lane}EventSourceMapping"]["DependsOn"] == "DbConnectionBudgetCheck"
        assert res[f"{lane}EventSourceMapping"]["Properties"]["ScalingConfig"] == {
            "MaximumConcurrency": {"Ref": f"{lane}Concurrency"}}
    assert res["NotifyFunction"]["Properties"]["ReservedConcurrentExecutions"] == {"Ref": "NotifyConcurrency"}
    # the defaults fit the default budget; CloudFormation hands numbers over as strings
    params = load()["Parameters"]
    dflt = {k: str(params[v["Ref"]]["Default"]) for k, v in props["Lanes"].items()}
    ok = run_budget_check({"Budget": str(params["DbConnectionBudget"]["Default"]), "Lanes": dflt,
                           "Coordinator": "1", "Notify": str(params["NotifyConcurrency"]["Default"])})
    assert ok["Status"] == "SUCCESS" and int(ok["Data"]["Total"]) <= params["DbConnectionBudget"]["Default"]
    over = run_budget_check({"Budget": "20", "Lanes": dflt, "Coordinator": "1", "Notify": "5"})
    assert over["Status"] == "FAILED"
    assert re.search(r"= \d+, over DbConnectionBudget 20", over["Reason"]), over["Reason"]
    assert "email 20" in over["Reason"]
    bad = run_budget_check({"Budget": "x", "Lanes": dflt, "Coordinator": "1", "Notify": "5"})
    assert bad["Status"] == "FAILED" and "bad properties" in bad["Reason"]
    # deleting the stack never fails on the check
    assert run_budget_check({"Budget": "1", "Lanes": dflt, "Coordinator": "1", "Notify": "5"},
                            request="Delete")["Status"] == "SUCCESS"
