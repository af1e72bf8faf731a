#!/usr/bin/env python3
"""Generate cloudformation/iris-sender.json, the deployment template.

The template repeats one block per delivery lane (queue, dead-letter queue, event source
mapping, alarms); generating it keeps the lanes identical. tests/integration/test_cfn.py
checks that the committed template matches this generator, passes cfn-lint and references
only artifacts scripts/package.sh produces; tests/integration/test_cfn_deploy.py deploys it
on the local stack (moto's CloudFormation) and runs a page through what it created.

Usage: python3 cloudformation/generate.py > cloudformation/iris-sender.json
"""
import json
import sys

# One lane per Iris mode so a slow or failing vendor never holds back another mode,
# plus one lane for out-of-band notifications from the API (mode resolved by the sender).
# (lane, default maximum concurrency of its event source mapping)
LANES = [
    ("Email", 20), ("Sms", 5), ("Call", 5), ("Im", 5), ("Slack", 5), ("Hipchat", 2),
    ("Notifications", 10),
]

# The zips scripts/package.sh writes (one per lambda/<function>, plus the layer). The
# template's default S3 keys are these names; test_cfn.py checks both sides.
ARTIFACTS = {"LayerKey": "iris-layer.zip", "CoordinatorKey": "iris-coordinator.zip",
             "SenderKey": "iris-sender.zip", "NotifyKey": "iris-notify.zip"}

# The notify function's routes (Iris's API paths it takes over).
NOTIFY_ROUTES = ["POST /v0/notifications", "GET /v0/notifications/{id}",
                 "POST /v0/twilio/messages/status", "POST /v0/twilio/calls/status"]

FUNCTIONS = ("Coordinator", "Sender", "Notify")

# The deploy-time check of the database connection budget (a custom resource). Inline so
# the template stays one file; it answers CloudFormation itself (no cfnresponse module) so
# tests can run it against a local HTTP server.
BUDGET_CHECK_CODE = '''\
import json
import urllib.request


def check(props):
    budget = int(props["Budget"])
    lanes = {k: int(v) for k, v in props["Lanes"].items()}
    coordinator, notify = int(props["Coordinator"]), int(props["Notify"])
    total = sum(lanes.values()) + coordinator + notify
    if total > budget:
        detail = " + ".join(f"{k} {v}" for k, v in sorted(lanes.items()))
        return total, (f"database connections: lanes ({detail}) + coordinator {coordinator}"
                       f" + notify {notify} = {total}, over DbConnectionBudget {budget}; lower"
                       f" the lanes' *Concurrency or NotifyConcurrency, or raise the budget")
    return total, None


def handler(event, context):
    total, reason, status = 0, None, "SUCCESS"
    if event["RequestType"] != "Delete":
        try:
            total, reason = check(event["ResourceProperties"])
        except (KeyError, TypeError, ValueError) as e:
            reason = f"connection budget check: bad properties ({e!r})"
        status = "FAILED" if reason else "SUCCESS"
    body = json.dumps({
        "Status": status, "Reason": reason or f"{total} connections at most",
        "PhysicalResourceId": "db-connection-budget", "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Total": str(total)}}).encode()
    req = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                 headers={"Content-Type": ""})
    urllib.request.urlopen(req, timeout=10).close()
'''


def sub(s):
    return {"Fn::Sub": s}


def ref(s):
    return {"Ref": s}


def getatt(r, a):
    return {"Fn::GetAtt": [r, a]}


def if_(cond, yes, no=None):
    return {"Fn::If": [cond, yes, no if no is not None else ref("AWS::NoValue")]}


def alarm_actions():
    return if_("HasAlarmTopic", [ref("AlarmTopicArn")])


def alarm(description, namespace, metric, dimensions, statistic, threshold, comparison,
          periods=1, period=60, missing="notBreaching"):
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
            "Statistic": statistic, "Period": period, "EvaluationPeriods": periods,
            "Threshold": threshold, "ComparisonOperator": comparison,
            "TreatMissingData": missing, "AlarmActions": alarm_actions(),
            "OKActions": alarm_actions(),
        },
    }


def lambda_role(name, statements):
    """An execution role: logs, VPC networking, and only the statements given."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Iris sender: the {name} function's execution role (least privilege)",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [
                sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
                sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")],
            "Policies": [{"PolicyName": f"iris-{name}",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


def secret_statements(fn):
    """Read the configuration secret and this function's own secrets; decrypt with the key."""
    return [
        if_(f"{fn}ReadsSecrets", {
            "Sid": "ReadItsSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
            "Resource": if_(f"{fn}HasSecretArns",
                            if_("HasConfigSecret",
                                {"Fn::Split": [",", {"Fn::Join": [",", [
                                    ref("ConfigSecretArn"), {"Fn::Join": [",", ref(f"{fn}SecretArns")]}]]}]},
                                ref(f"{fn}SecretArns")),
                            [ref("ConfigSecretArn")])}),
        if_("HasSecretsKmsKey", {
            "Sid": "DecryptItsSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
            "Resource": ref("SecretsKmsKeyArn"),
            "Condition": {"StringEquals": {
                "kms:ViaService": sub("secretsmanager.${AWS::Region}.${AWS::URLSuffix}")}}}),
    ]


def dashboard_body():
    """The CloudWatch dashboard, as a Fn::Sub string (namespace, region, function names)."""
    def metric_widget(title, metrics, x, y, stat="Sum", w=12, h=6):
        return {"type": "metric", "x": x, "y": y, "width": w, "height": h,
                "properties": {"title": title, "region": "${AWS::Region}", "stat": stat,
                               "period": 60, "view": "timeSeries", "metrics": metrics}}

    def search(expr, stat, label_id):
        # a metrics array of one row holding one expression (the dashboard body's syntax)
        return [[{"expression": f"SEARCH('{expr}', '{stat}', 60)", "id": label_id}]]

    ns = "${MetricsNamespace}"
    lanes = [[ "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"${{{lane}Queue.QueueName}}"]
             for lane, _ in LANES]
    widgets = [
        metric_widget("Pages sent per mode and vendor",
                      search(f"{{{ns},Function,Mode,Vendor}} Function=\"sender\" MetricName=\"sent\"",
                             "Sum", "sent"), 0, 0),
        metric_widget("Pages failed per mode and vendor",
                      search(f"{{{ns},Function,Mode,Vendor}} Function=\"sender\" MetricName=\"failed\"",
                             "Sum", "failed"), 12, 0),
        metric_widget("Coordinator lag (ms): oldest due escalation, oldest due enqueue", [
            [ns, "escalation_lag", "Function", "coordinator"],
            [ns, "enqueue_lag", "Function", "coordinator"]], 0, 6, stat="Maximum"),
        metric_widget("Oldest message per lane (s)", lanes, 12, 6, stat="Maximum"),
        metric_widget("Function durations (ms, p99)", [
            ["AWS/Lambda", "Duration", "FunctionName", f"${{{fn}Function}}"] for fn in FUNCTIONS],
            0, 12, stat="p99"),
        metric_widget("Vendor latency per mode and vendor (ms, p99)",
                      search(f"{{{ns},Function,Mode,Vendor}} MetricName=\"vendor_latency\"",
                             "p99", "latency"), 12, 12, stat="p99"),
        metric_widget("Errors and throttles", [
            ["AWS/Lambda", m, "FunctionName", f"${{{fn}Function}}"]
            for fn in FUNCTIONS for m in ("Errors", "Throttles")], 0, 18),
        {"type": "log", "x": 12, "y": 18, "width": 12, "height": 6,
         "properties": {"title": "Cold starts (init duration, ms)", "region": "${AWS::Region}",
                        "view": "timeSeries",
                        "query": ("SOURCE '/aws/lambda/${CoordinatorFunction}' | SOURCE "
                                  "'/aws/lambda/${SenderFunction}' | SOURCE '/aws/lambda/${NotifyFunction}'"
                                  " | filter @type = \"REPORT\" and ispresent(@initDuration)"
                                  " | stats count() as cold_starts, avg(@initDuration) as init_ms by bin(5m)")}},
    ]
    return sub(json.dumps({"widgets": widgets}, separators=(",", ":")))


def template():
    params = {
        "ArtifactBucket": {"Type": "String", "Description": "S3 bucket holding the zips scripts/package.sh writes (docs/deployment.md)."},
        "ArtifactPrefix": {"Type": "String", "Default": "",
                           "Description": "Key prefix of the zips in ArtifactBucket, e.g. 'iris/1.4.0/' (empty: the bucket's root)."},
        "ExtraPluginLayerArns": {"Type": "CommaDelimitedList", "Default": "",
                                 "Description": "Third-party vendor plugin layers, stacked after ours."},
        "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "Private subnets that reach the Iris MySQL database (or its RDS Proxy) and SQS/Secrets Manager."},
        "SecurityGroupIds": {"Type": "List<AWS::EC2::SecurityGroup::Id>"},
        "ConfigSecretArn": {"Type": "String", "Default": "",
                            "Description": "Optional secret whose JSON object is merged into every function's configuration (IRIS_CONFIG_SECRET)."},
        "CoordinatorSecretArns": {"Type": "CommaDelimitedList", "Default": "",
                                  "Description": "ARNs (or ARN patterns ending in -??????) of the secrets the coordinator's configuration references (db.password, oncall.key)."},
        "SenderSecretArns": {"Type": "CommaDelimitedList", "Default": "",
                             "Description": "Secrets the sender's configuration references (db.password, oncall.key, oneclick.key, vendors' credentials)."},
        "NotifySecretArns": {"Type": "CommaDelimitedList", "Default": "",
                             "Description": "Secrets the notify function's configuration references (db.password, the Twilio auth tokens)."},
        "SecretsKmsKeyArn": {"Type": "String", "Default": "",
                             "Description": "Customer-managed KMS key encrypting those secrets (empty: the AWS-managed key, no kms:Decrypt grant needed)."},
        "ConfigJson": {"Type": "String", "Default": "{}", "Description": "Non-secret JSON configuration (IRIS_CONFIG_JSON, see docs/config.md); secrets are referenced, never inlined. Queue URLs come from the stack."},
        "DbHost": {"Type": "String", "Default": "",
                   "Description": "MySQL endpoint: the Iris database or its RDS Proxy endpoint (sets db.host; empty: ConfigJson's)."},
        "DbConnectionBudget": {"Type": "Number", "Default": 60, "MinValue": 4,
                               "Description": "Most MySQL connections this stack may hold: the lanes' concurrencies + 1 (coordinator) + NotifyConcurrency must fit; checked at deploy time."},
        "NotifyConcurrency": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 1000,
                              "Description": "Reserved (and maximum) concurrency of the notify function."},
        "MetricsNamespace": {"Type": "String", "Default": "Iris/Sender",
                             "Description": "CloudWatch namespace of the functions' EMF metrics (metrics.namespace)."},
        "TickSeconds": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 30},
        "CoordinatorScheduleState": {"Type": "String", "Default": "ENABLED", "AllowedValues": ["ENABLED", "DISABLED"],
                                "Description": "DISABLED deploys everything but does not start the coordinator (cutting over from the old sender: docs/deployment.md)."},
        "MaxReceiveCount": {"Type": "Number", "Default": 5, "MinValue": 5,
                            "Description": "Deliveries before a record goes to its lane's dead-letter queue (>= 5 so throttling never dead-letters)."},
        "SenderTimeout": {"Type": "Number", "Default": 60, "MinValue": 10, "MaxValue": 60,
                          "Description": "Sender timeout; lane visibility timeouts are 6x the maximum (360 s)."},
        "LaneAgeAlarmSeconds": {"Type": "Number", "Default": 120, "MinValue": 10,
                                "Description": "Alarm when a lane's oldest message is older than this (pages are late)."},
        "CoordinatorLagAlarmMs": {"Type": "Number", "Default": 60000, "MinValue": 1000,
                                  "Description": "Alarm when the coordinator's escalation or enqueue lag exceeds this."},
        "AlarmTopicArn": {"Type": "String", "Default": "", "Description": "SNS topic for alarms (empty: no actions)."},
    }
    for lane, conc in LANES:
        params[f"{lane}Concurrency"] = {
            "Type": "Number", "Default": conc, "MinValue": 2, "MaxValue": 1000,
            "Description": f"Maximum concurrency of the {lane.lower()} lane's event source mapping (its vendor's rate and the connection budget bound it)."}
    conditions = {
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]},
        "HasExtraLayers": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref("ExtraPluginLayerArns")]}, ""]}]},
        "HasConfigSecret": {"Fn::Not": [{"Fn::Equals": [ref("ConfigSecretArn"), ""]}]},
        "HasSecretsKmsKey": {"Fn::Not": [{"Fn::Equals": [ref("SecretsKmsKeyArn"), ""]}]},
        "HasDbHost": {"Fn::Not": [{"Fn::Equals": [ref("DbHost"), ""]}]},
    }
    for fn in FUNCTIONS:
        conditions[f"{fn}HasSecretArns"] = {
            "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref(f"{fn}SecretArns")]}, ""]}]}
        conditions[f"{fn}ReadsSecrets"] = {
            "Fn::Or": [{"Condition": "HasConfigSecret"}, {"Condition": f"{fn}HasSecretArns"}]}

    res = {}
    res["PluginLayer"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {
            "Description": "the libiris-* core libraries, vendor plugins (/opt/lib/iris-plugins) and their shared libraries",
            "Content": {"S3Bucket": ref("ArtifactBucket"), "S3Key": sub("${ArtifactPrefix}" + ARTIFACTS["LayerKey"])},
            "CompatibleRuntimes": ["provided.al2023"],
            "CompatibleArchitectures": ["x86_64"],
        },
    }
    layers = {"Fn::If": ["HasExtraLayers",
                         {"Fn::Split": [",", {"Fn::Join": [",", [ref("PluginLayer"), {"Fn::Join": [",", ref("ExtraPluginLayerArns")]}]]}]},
                         [ref("PluginLayer")]]}

    # The sender's own dead-letter queue: records it gives up on or rejects, sent with their
    # reason, lane and receive count as message attributes (docs/sender.md).
    res["SenderDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
    }
    lane_arns, dlq_arns = [], [getatt("SenderDeadLetterQueue", "Arn")]
    lane_env = {}
    for lane, _ in LANES:
        q, dlq = f"{lane}Queue", f"{lane}DeadLetterQueue"
        res[dlq] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True},
        }
        res[q] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                # Lambda's guidance: at least 6x the function timeout (SenderTimeout <= 60 s).
                "VisibilityTimeout": 360,
                "MessageRetentionPeriod": 86400,
                "ReceiveMessageWaitTimeSeconds": 20,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {"deadLetterTargetArn": getatt(dlq, "Arn"),
                                  "maxReceiveCount": ref("MaxReceiveCount")},
            },
        }
        res[f"{lane}EventSourceMapping"] = {
            "Type": "AWS::Lambda::EventSourceMapping",
            # Nothing is delivered before the connection budget is known to hold.
            "DependsOn": "DbConnectionBudgetCheck",
            "Properties": {
                "EventSourceArn": getatt(q, "Arn"),
                "FunctionName": ref("SenderFunction"),
                "BatchSize": 10,
                "MaximumBatchingWindowInSeconds": 0,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": ref(f"{lane}Concurrency")},
            },
        }
        res[f"{lane}DeadLetterAlarm"] = alarm(
            f"Records of the {lane} lane reached its dead-letter queue: pages were not delivered "
            "(docs/operations.md, 'A dead-letter queue filling').",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", [("QueueName", getatt(dlq, "QueueName"))],
            "Maximum", 0, "GreaterThanThreshold")
        res[f"{lane}AgeAlarm"] = alarm(
            f"The {lane} lane's oldest record waits longer than LaneAgeAlarmSeconds: pages are late "
            "(a vendor down or the lane's concurrency too low; docs/operations.md).",
            "AWS/SQS", "ApproximateAgeOfOldestMessage", [("QueueName", getatt(q, "QueueName"))],
            "Maximum", ref("LaneAgeAlarmSeconds"), "GreaterThanThreshold", periods=3)
        lane_arns.append(getatt(q, "Arn"))
        dlq_arns.append(getatt(dlq, "Arn"))
        lane_env[f"IRIS_QUEUE_{lane.upper()}"] = ref(q)
    res["SenderDeadLetterAlarm"] = alarm(
        "The sender rejected or gave up on records (sent with their reason to its dead-letter queue).",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible",
        [("QueueName", getatt("SenderDeadLetterQueue", "QueueName"))], "Maximum", 0, "GreaterThanThreshold")

    res["CoordinatorRole"] = lambda_role("coordinator", [
        {"Sid": "EnqueueToTheLanes", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": lane_arns},
        *secret_statements("Coordinator")])
    res["SenderRole"] = lambda_role("sender", [
        {"Sid": "ConsumeTheLanes", "Effect": "Allow",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes"],
         "Resource": lane_arns},
        {"Sid": "DeadLetter", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arns},
        *secret_statements("Sender")])
    res["NotifyRole"] = lambda_role("notify", [
        {"Sid": "EnqueueNotifications", "Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": getatt("NotificationsQueue", "Arn")},
        *secret_statements("Notify")])

    vpc = {"SubnetIds": ref("SubnetIds"), "SecurityGroupIds": ref("SecurityGroupIds")}
    common_env = {
        "IRIS_CONFIG_JSON": ref("ConfigJson"), "IRIS_CONFIG_SECRET": ref("ConfigSecretArn"),
        "IRIS_PLUGIN_DIR": "/opt/lib/iris-plugins",
        "IRIS__METRICS__NAMESPACE": ref("MetricsNamespace"),
        "IRIS__DB__HOST": if_("HasDbHost", ref("DbHost")),
        # The layer ships its own CA bundle (AL2023 keeps certificates elsewhere).
        "IRIS_CA_FILE": "/opt/etc/ssl/ca-certificates.crt"}

    def function(name, key, role, timeout, memory, env, extra=None):
        props = {
            "Description": f"Iris sender: {name}",
            "Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": ["x86_64"],
            "Code": {"S3Bucket": ref("ArtifactBucket"), "S3Key": sub("${ArtifactPrefix}" + ARTIFACTS[key])},
            "Role": getatt(role, "Arn"), "Timeout": timeout, "MemorySize": memory,
            "Layers": layers, "VpcConfig": vpc,
            "Environment": {"Variables": {**common_env, **env}},
            "RecursiveLoop": "Terminate",
        }
        props.update(extra or {})
        return {"Type": "AWS::Lambda::Function", "Properties": props}

    res["CoordinatorFunction"] = function(
        "coordinator (escalation, aggregation, enqueueing; single instance)", "CoordinatorKey",
        "CoordinatorRole", 75, 512,
        {**lane_env, "IRIS_TICK_SECONDS": sub("${TickSeconds}")},
        {"ReservedConcurrentExecutions": 1})
    res["SenderFunction"] = function(
        "sender (SQS-triggered delivery)", "SenderKey", "SenderRole", ref("SenderTimeout"), 512,
        # The sender must know which receive is a record's last before the redrive (it then
        # records the failure and logs the reason): the same number as the lanes' policies.
        # It maps a record's queue ARN to its lane through the lanes' URLs.
        {**lane_env, "IRIS__SENDER__MAX_RECEIVES": sub("${MaxReceiveCount}"),
         "IRIS__QUEUES__DEAD_LETTER": ref("SenderDeadLetterQueue")})
    res["NotifyFunction"] = function(
        "notify (Iris's POST /v0/notifications and Twilio status callbacks -> SQS)", "NotifyKey",
        "NotifyRole", 15, 256, {"IRIS_QUEUE_NOTIFICATIONS": ref("NotificationsQueue")},
        {"ReservedConcurrentExecutions": ref("NotifyConcurrency")})
    res["CoordinatorInvokeConfig"] = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {"FunctionName": ref("CoordinatorFunction"), "Qualifier": "$LATEST",
                       # A late or retried tick is worthless: the next one comes within a minute.
                       "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
    }

    # Connection budget: each sender, coordinator and notify execution holds one MySQL
    # connection; the event source mappings bound the sender per lane.
    res["DbConnectionBudgetRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Iris sender: the deploy-time connection budget check (logs only)",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [
                sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")],
        },
    }
    res["DbConnectionBudgetFunction"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Description": "Iris sender: fails the deployment when the lanes + coordinator + notify exceed DbConnectionBudget",
            "Runtime": "python3.12", "Handler": "index.handler", "Timeout": 30, "MemorySize": 128,
            "Role": getatt("DbConnectionBudgetRole", "Arn"),
            "Code": {"ZipFile": BUDGET_CHECK_CODE},
        },
    }
    res["DbConnectionBudgetCheck"] = {
        "Type": "AWS::CloudFormation::CustomResource",
        "Properties": {
            "ServiceToken": getatt("DbConnectionBudgetFunction", "Arn"),
            "Budget": ref("DbConnectionBudget"),
            "Lanes": {lane.lower(): ref(f"{lane}Concurrency") for lane, _ in LANES},
            "Coordinator": 1,
            "Notify": ref("NotifyConcurrency"),
        },
    }

    res["SchedulerRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "invoke-coordinator", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": getatt("CoordinatorFunction", "Arn")}]}}],
        },
    }
    res["CoordinatorSchedule"] = {
        "Type": "AWS::Scheduler::Schedule",
        "DependsOn": "DbConnectionBudgetCheck",
        "Properties": {
            "Description": "Starts the coordinator every minute; it loops on a short tick inside the invocation.",
            "ScheduleExpression": "rate(1 minute)",
            "State": ref("CoordinatorScheduleState"),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": getatt("CoordinatorFunction", "Arn"), "RoleArn": getatt("SchedulerRole", "Arn"),
                       "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}},
        },
    }

    # The HTTP API in front of notify: Iris's notification route and the Twilio callbacks.
    res["NotifyApi"] = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"Name": sub("${AWS::StackName}-notify"), "ProtocolType": "HTTP",
                       "Description": "Iris notifications and Twilio delivery-status callbacks"},
    }
    res["NotifyApiIntegration"] = {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {"ApiId": ref("NotifyApi"), "IntegrationType": "AWS_PROXY",
                       "IntegrationUri": getatt("NotifyFunction", "Arn"),
                       "PayloadFormatVersion": "2.0", "TimeoutInMillis": 15000},
    }
    for i, route in enumerate(NOTIFY_ROUTES):
        res[f"NotifyApiRoute{i}"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {"ApiId": ref("NotifyApi"), "RouteKey": route,
                           "Target": sub("integrations/${NotifyApiIntegration}")},
        }
    res["NotifyApiStage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": ref("NotifyApi"), "StageName": "$default", "AutoDeploy": True,
                       "DefaultRouteSettings": {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100}},
    }
    res["NotifyApiPermission"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": ref("NotifyFunction"),
                       "Principal": "apigateway.amazonaws.com",
                       "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${NotifyApi}/*/*/v0/*")},
    }

    for fn in FUNCTIONS:
        res[f"{fn}ErrorAlarm"] = alarm(
            f"The {fn.lower()} function reports errors (its log names each; docs/operations.md).",
            "AWS/Lambda", "Errors", [("FunctionName", ref(f"{fn}Function"))], "Sum", 0,
            "GreaterThanThreshold", periods=3)
        res[f"{fn}ThrottleAlarm"] = alarm(
            f"The {fn.lower()} function is throttled (account concurrency exhausted, or its reserved concurrency too low).",
            "AWS/Lambda", "Throttles", [("FunctionName", ref(f"{fn}Function"))], "Sum", 0,
            "GreaterThanThreshold", periods=3)
    res["CoordinatorStoppedAlarm"] = alarm(
        "The coordinator has not run for 5 minutes: no escalation, no enqueueing (schedule disabled, "
        "function failing at start-up, or throttled).",
        "AWS/Lambda", "Invocations", [("FunctionName", ref("CoordinatorFunction"))], "Sum", 1,
        "LessThanThreshold", periods=5, missing="breaching")
    for lag in ("escalation_lag", "enqueue_lag"):
        res["Coordinator" + "".join(w.title() for w in lag.split("_")) + "Alarm"] = alarm(
            f"The coordinator's {lag} (how late the oldest due item is) exceeds CoordinatorLagAlarmMs.",
            ref("MetricsNamespace"), lag, [("Function", "coordinator")], "Maximum",
            ref("CoordinatorLagAlarmMs"), "GreaterThanThreshold", periods=3)
    res["Dashboard"] = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": sub("${AWS::StackName}-iris-sender"),
                       "DashboardBody": dashboard_body()},
    }

    outputs = {
        "NotifyApiUrl": {"Description": "Base URL of the notify API (append /v0/notifications).",
                         "Value": sub("https://${NotifyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}")},
        "PluginLayerArn": {"Value": ref("PluginLayer")},
        "CoordinatorFunctionName": {"Value": ref("CoordinatorFunction")},
        "SenderFunctionName": {"Value": ref("SenderFunction")},
        "NotifyFunctionName": {"Value": ref("NotifyFunction")},
        "SenderDeadLetterQueueUrl": {"Value": ref("SenderDeadLetterQueue")},
        "DbConnections": {"Description": "Connections the stack may hold at most (checked against DbConnectionBudget).",
                          "Value": getatt("DbConnectionBudgetCheck", "Total")},
    }
    for lane, _ in LANES:
        outputs[f"{lane}QueueUrl"] = {"Value": ref(f"{lane}Queue")}
        outputs[f"{lane}DeadLetterQueueUrl"] = {"Value": ref(f"{lane}DeadLetterQueue")}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Iris serverless sender: coordinator, sender and notify Lambda functions, one SQS lane per mode.",
        "Parameters": params, "Conditions": conditions, "Resources": res, "Outputs": outputs,
    }


if __name__ == "__main__":
    # JSON is valid YAML; emitting JSON keeps the generator free of a YAML dependency.
    json.dump(template(), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
