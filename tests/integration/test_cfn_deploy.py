"""The template deploys on the local stack (moto's CloudFormation) and what it created carries a
page: the queues, the roles and the three functions are created from cloudformation/iris-sender.json
with a configuration secret and the zips uploaded to S3, then the real coordinator and sender
bootstraps run with the environment the stack gave its functions (read back from moto's
Lambda), and an incident is escalated, enqueued on the stack's lanes, delivered and recorded.

What moto does not model is left out of the deployed copy, and only that (MOTO_LACKS below):
moto's CloudFormation skips types it does not know, and would invoke a custom resource's
function in Docker, which this machine does not have. The parts left out are covered in
tests/integration/test_cfn.py instead (the budget check's code runs there against a stand-in
for CloudFormation's response URL; alarms, routes, schedule and roles are checked as data and
by cfn-lint). Moto does not run the functions either (that needs Docker too): the bootstraps
run here, as the fake Runtime API and the worker mode run them everywhere else in the tests.
"""
import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile

import boto3
import pytest

SRC = os.environ.get("IRIS_SOURCE_DIR", ".")
BUILD = os.environ.get("IRIS_BUILD_DIR", "build/release")
ENDPOINT = os.environ.get("IRIS_TEST_AWS_ENDPOINT")
HOST = os.environ.get("IRIS_TEST_MYSQL_HOST", "127.0.0.1")
PORT = os.environ.get("IRIS_TEST_MYSQL_PORT", "3306")
sys.path.insert(0, os.path.join(SRC, "tests", "fakes"))
from fake_runtime import FakeRuntime  # noqa: E402
import irisstack  # noqa: E402  (tests/support: the stack helpers tests, benches and the demo share)

TEMPLATE = os.path.join(SRC, "cloudformation", "iris-sender.json")
# Resource types moto's CloudFormation cannot create (skipped or Docker-only), and the
# resources that exist only to serve them.
MOTO_LACKS = {"AWS::CloudFormation::CustomResource", "AWS::Lambda::EventInvokeConfig",
              "AWS::Scheduler::Schedule", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Integration",
              "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage", "AWS::CloudWatch::Alarm"}
SERVING_THEM = {"DbConnectionBudgetFunction", "DbConnectionBudgetRole", "NotifyApiPermission",
                "SchedulerRole"}
# What the local run changes in a function's environment, and only this: the plugins and CA
# bundle live in the build tree instead of /opt, and AWS is moto.
LOCAL = {"IRIS_PLUGIN_DIR": os.path.join(BUILD, "plugins", "out"), "IRIS_CA_FILE": None,
         "IRIS__AWS__ENDPOINT": ENDPOINT, "AWS_ACCESS_KEY_ID": "testing",
         "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def aws(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def sql(db, text):
    return irisstack.sql(db, text, host=HOST, port=PORT)


def for_moto(template):
    """The template without what moto cannot create; everything else exactly as written."""
    res = template["Resources"]
    drop = {k for k, v in res.items() if v["Type"] in MOTO_LACKS} | SERVING_THEM

    def uses(o):
        s = json.dumps(o)
        return any(f'"{d}"' in s or "${" + d + "}" in s or "${" + d + "." in s for d in drop)

    for k in drop:
        del res[k]
    for k, v in res.items():
        if v.get("DependsOn") in drop:
            del v["DependsOn"]
        assert not uses(v), f"{k} needs a resource moto lacks"
    template["Outputs"] = {k: v for k, v in template["Outputs"].items() if not uses(v)}
    return template


def zip_of(path):
    """A function zip with the build's bootstrap (the packaged zips are checked in test_cfn)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if os.path.exists(path):
            z.write(path, "bootstrap")
        else:  # the notify bootstrap arrives with its own branch; the stack needs only a zip
            z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    return buf.getvalue()


@pytest.fixture
def stack(tmp_path):
    sfx = uuid.uuid4().hex[:8]
    db = f"iris_cfn_{sfx}"
    for cmd in ("load-iris", "migrate", "demo"):
        subprocess.run([os.path.join(SRC, "scripts", "db.sh"), cmd, db], check=True,
                       capture_output=True)
    s3, ec2, sm, cfn = aws("s3"), aws("ec2"), aws("secretsmanager"), aws("cloudformation")
    bucket = f"iris-artifacts-{sfx}"
    s3.create_bucket(Bucket=bucket)
    prefix = f"iris/{sfx}/"
    for fn in ("coordinator", "sender", "notify"):
        s3.put_object(Bucket=bucket, Key=f"{prefix}iris-{fn}.zip",
                      Body=zip_of(os.path.join(BUILD, "lambda", fn, f"iris-{fn}")))
    s3.put_object(Bucket=bucket, Key=f"{prefix}iris-layer.zip", Body=zip_of("/nonexistent"))
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"iris-{sfx}", Description="iris", VpcId=vpc)["GroupId"]
    # The whole-configuration secret carries the database account; a second secret holds the
    # password, which the configuration references by name (docs/config.md, "Secrets"); every
    # function connects to MySQL, so each role is given it.
    config_secret = sm.create_secret(Name=f"iris/{sfx}/config",
                                     SecretString=json.dumps({"db": {"user": "root"}}))["ARN"]
    db_secret = sm.create_secret(Name=f"iris/{sfx}/db",
                                     SecretString=json.dumps({"password": ""}))["ARN"]
    dummy = {"plugin": "dummy", "name": "dummy-1", "config": {"record_file": str(tmp_path / "sent.jsonl")}}
    config = {"db": {"host": HOST, "port": int(PORT), "database": db,
                     "password": f"secretsmanager:iris/{sfx}/db#password"},
              "vendors": {m: [dummy] for m in ("email", "sms", "call", "im", "slack", "hipchat")},
              "coordinator": {"margin_ms": 200}}
    params = {"ArtifactBucket": bucket, "ArtifactPrefix": prefix, "SubnetIds": subnet,
              "SecurityGroupIds": sg, "ConfigSecretArn": config_secret,
              "SenderSecretArns": db_secret, "CoordinatorSecretArns": db_secret,
              "NotifySecretArns": db_secret, "ConfigJson": json.dumps(config),
              "TickSeconds": "1", "MetricsNamespace": f"IrisTest/{sfx}"}
    with open(TEMPLATE) as f:
        body = json.dumps(for_moto(json.load(f)))
    name = f"iris-{sfx}"
    cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    for _ in range(120):
        st = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not st["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    failures = [(e["LogicalResourceId"], e.get("ResourceStatusReason"))
                for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
                if "FAILED" in e["ResourceStatus"]]
    assert st["StackStatus"] == "CREATE_COMPLETE", (st.get("StackStatusReason"), failures)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in st["Outputs"]}
    yield {"db": db, "name": name, "cfn": cfn, "outputs": outputs, "config_secret": config_secret,
           "db_secret": db_secret, "record": tmp_path / "sent.jsonl"}
    cfn.delete_stack(StackName=name)
    subprocess.run([os.path.join(SRC, "scripts", "db.sh"), "drop", db], capture_output=True)


def function_env(stack, fn):
    """The environment the stack gave a function, with the LOCAL changes applied."""
    cfg = aws("lambda").get_function_configuration(FunctionName=stack["outputs"][f"{fn}FunctionName"])
    env = dict(cfg["Environment"]["Variables"])
    for k, v in LOCAL.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def test_deployed_stack_carries_a_page(stack):
    out = stack["outputs"]
    lanes = [k[: -len("QueueUrl")] for k in out if k.endswith("QueueUrl") and "DeadLetter" not in k]
    assert sorted(lanes) == sorted(["Email", "Sms", "Call", "Im", "Slack", "Hipchat", "Notifications"])
    # the functions know the stack's queues; the sender also its dead-letter queue, notify only its lane
    coord_env, sender_env = function_env(stack, "Coordinator"), function_env(stack, "Sender")
    for lane in lanes:
        assert coord_env[f"IRIS_QUEUE_{lane.upper()}"] == out[f"{lane}QueueUrl"]
        assert sender_env[f"IRIS_QUEUE_{lane.upper()}"] == out[f"{lane}QueueUrl"]
    assert sender_env["IRIS__QUEUES__DEAD_LETTER"] == out["SenderDeadLetterQueueUrl"]
    assert sender_env["IRIS__SENDER__MAX_RECEIVES"] == "5"
    notify_env = function_env(stack, "Notify")
    assert [k for k in notify_env if k.startswith("IRIS_QUEUE_")] == ["IRIS_QUEUE_NOTIFICATIONS"]
    # each lane feeds the sender through its own event source mapping with its own cap
    esms = aws("lambda").list_event_source_mappings(FunctionName=out["SenderFunctionName"])["EventSourceMappings"]
    assert len(esms) == len(lanes)
    # each role may read the secrets given for its function (and no wildcard)
    iam = aws("iam")
    res = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in
           stack["cfn"].list_stack_resources(StackName=stack["name"])["StackResourceSummaries"]}
    def policy(role):
        [name] = iam.list_role_policies(RoleName=res[role])["PolicyNames"]
        return json.dumps(iam.get_role_policy(RoleName=res[role], PolicyName=name)["PolicyDocument"])
    for role in ("CoordinatorRole", "SenderRole", "NotifyRole"):
        doc = policy(role)
        assert stack["db_secret"] in doc and stack["config_secret"] in doc, doc
        assert '"*"' not in doc, doc

    # An incident of the demo's job-storm plan: linus and grace, both by slack for batchjobs.
    sql(stack["db"], "INSERT INTO incident (id, plan_id, created, context, application_id, current_step,"
                     " active) VALUES (900, 3, UTC_TIMESTAMP(), '{\"job\": \"etl\", \"status\": \"FAILED\"}',"
                     " 3, 0, 1)")
    with FakeRuntime() as rt:
        rid = rt.add_event({"source": "aws.scheduler"}, timeout_ms=2500)
        proc = rt.run_bootstrap(os.path.join(BUILD, "lambda", "coordinator", "iris-coordinator"),
                                env=coord_env)
        assert rt.init_error is None and proc.returncode == 0, proc.err
        assert rt.results[rid]["json"]["messages_enqueued"] == 2, rt.results[rid]
    sqs = aws("sqs")
    assert sqs.get_queue_attributes(QueueUrl=out["SlackQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "2"
    r = subprocess.run([os.path.join(BUILD, "lambda", "sender", "iris-sender"), "--worker", "--max-idle", "2"],
                       env=sender_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(stack["record"]), r.stderr
    sent = [json.loads(line) for line in stack["record"].read_text().splitlines()]
    assert sorted((s["mode"], s["destinations"][0]) for s in sent) == [("slack", "@grace"), ("slack", "@linus")]
    assert sql(stack["db"], "SELECT COUNT(*) FROM message WHERE incident_id = 900 AND sent IS NOT NULL") == [["2"]]
    for lane in lanes:
        attrs = sqs.get_queue_attributes(QueueUrl=out[f"{lane}QueueUrl"],
                                         AttributeNames=["ApproximateNumberOfMessages",
                                                         "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, lane
