#!/usr/bin/env python3
"""Generate cloudformation/iris-sender.json, the deployment template.

The template repeats one block per delivery lane (queue + dead-letter queue + event source
mapping + alarm); generating it keeps the lanes identical. tests/integration/test_cfn.py
checks that the committed template matches this generator and passes cfn-lint.

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


def sub(s):
    return {"Fn::Sub": s}


def ref(s):
    return {"Ref": s}


def getatt(r, a):
    return {"Fn::GetAtt": [r, a]}


def template():
    params = {
        "ArtifactBucket": {"Type": "String", "Description": "S3 bucket holding the zips built by `cmake --build build --target lambda-zips`."},
        "LayerKey": {"Type": "String", "Default": "iris-sender/layer.zip"},
        "CoordinatorKey": {"Type": "String", "Default": "iris-sender/coordinator.zip"},
        "SenderKey": {"Type": "String", "Default": "iris-sender/sender.zip"},
        "NotifyKey": {"Type": "String", "Default": "iris-sender/notify.zip"},
        "ExtraPluginLayerArns": {"Type": "CommaDelimitedList", "Default": "",
                                 "Description": "Third-party vendor plugin layers, stacked after ours."},
        "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "Private subnets that reach the Iris MySQL database."},
        "SecurityGroupIds": {"Type": "List<AWS::EC2::SecurityGroup::Id>"},
        "ConfigSecretArn": {"Type": "String", "Description": "Secrets Manager secret holding DB password and vendor credentials."},
        "ConfigJson": {"Type": "String", "Default": "{}", "Description": "Non-secret JSON configuration (IRIS_CONFIG_JSON); secrets are referenced, never inlined."},
        "TickSeconds": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 30},
        "MaxReceiveCount": {"Type": "Number", "Default": 5, "MinValue": 5,
                            "Description": "Deliveries before a record goes to its lane's dead-letter queue (>= 5 so throttling never dead-letters)."},
        "SenderTimeout": {"Type": "Number", "Default": 60, "MinValue": 10, "MaxValue": 60,
                          "Description": "Sender timeout; lane visibility timeouts are 6x the maximum (360 s)."},
        "AlarmTopicArn": {"Type": "String", "Default": "", "Description": "SNS topic for alarms (empty: no actions)."},
    }
    conditions = {
        "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]},
        "HasExtraLayers": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref("ExtraPluginLayerArns")]}, ""]}]},
    }
    res = {}
    res["PluginLayer"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {
            "Description": "the libiris-* core libraries, vendor plugins (/opt/lib/iris-plugins) and their shared libraries",
            "Content": {"S3Bucket": ref("ArtifactBucket"), "S3Key": ref("LayerKey")},
            "CompatibleRuntimes": ["provided.al2023"],
            "CompatibleArchitectures": ["x86_64"],
        },
    }
    layers = {"Fn::If": ["HasExtraLayers",
                         {"Fn::Split": [",", {"Fn::Join": [",", [ref("PluginLayer"), {"Fn::Join": [",", ref("ExtraPluginLayerArns")]}]]}]},
                         [ref("PluginLayer")]]}
    queue_arns = []
    queue_urls = []
    env_vars = {"IRIS_CONFIG_JSON": ref("ConfigJson"), "IRIS_CONFIG_SECRET": ref("ConfigSecretArn"),
                "IRIS_PLUGIN_DIR": "/opt/lib/iris-plugins",
                # The layer ships its own CA bundle (AL2023 keeps certificates elsewhere).
                "IRIS_CA_FILE": "/opt/etc/ssl/ca-certificates.crt"}
    for lane, conc in LANES:
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
            "Properties": {
                "EventSourceArn": getatt(q, "Arn"),
                "FunctionName": ref("SenderFunction"),
                "BatchSize": 10,
                "MaximumBatchingWindowInSeconds": 0,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": conc},
            },
        }
        res[f"{lane}DeadLetterAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Records of the {lane} lane reached the dead-letter queue: pages were not delivered.",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": getatt(dlq, "QueueName")}],
                "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1,
                "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], {"Ref": "AWS::NoValue"}]},
            },
        }
        queue_arns += [getatt(q, "Arn"), getatt(dlq, "Arn")]
        queue_urls.append(ref(q))
        env_vars[f"IRIS_QUEUE_{lane.upper()}"] = ref(q)

    res["FunctionRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"],
            "Policies": [{"PolicyName": "iris-sender", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                                               "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                 "Resource": queue_arns},
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ref("ConfigSecretArn")},
            ]}}],
        },
    }
    vpc = {"SubnetIds": ref("SubnetIds"), "SecurityGroupIds": ref("SecurityGroupIds")}

    def function(name, key, handler, timeout, memory, extra=None):
        props = {
            "Description": f"Iris sender: {name}",
            "Runtime": "provided.al2023", "Handler": handler, "Architectures": ["x86_64"],
            "Code": {"S3Bucket": ref("ArtifactBucket"), "S3Key": ref(key)},
            "Role": getatt("FunctionRole", "Arn"), "Timeout": timeout, "MemorySize": memory,
            "Layers": layers, "VpcConfig": vpc,
            "Environment": {"Variables": dict(env_vars)},
            "RecursiveLoop": "Terminate",
        }
        props.update(extra or {})
        return {"Type": "AWS::Lambda::Function", "Properties": props}

    res["CoordinatorFunction"] = function(
        "coordinator (escalation, aggregation, enqueueing; single instance)", "CoordinatorKey",
        "coordinator", 75, 512,
        {"ReservedConcurrentExecutions": 1,
         "Environment": {"Variables": {**env_vars, "IRIS_TICK_SECONDS": {"Fn::Sub": "${TickSeconds}"}}}})
    res["SenderFunction"] = function(
        "sender (SQS-triggered delivery)", "SenderKey", "sender", ref("SenderTimeout"), 512,
        # The sender must know which receive is a record's last before the redrive (it then
        # records the failure and logs the reason): the same number as the lanes' policies.
        {"Environment": {"Variables": {**env_vars,
                                       "IRIS__SENDER__MAX_RECEIVES": {"Fn::Sub": "${MaxReceiveCount}"}}}})
    res["NotifyFunction"] = function("notify (POST /v0/notifications -> SQS)", "NotifyKey", "notify", 15, 256)
    res["CoordinatorInvokeConfig"] = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {"FunctionName": ref("CoordinatorFunction"), "Qualifier": "$LATEST",
                       # A late or retried tick is worthless: the next one comes within a minute.
                       "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
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
        "Properties": {
            "Description": "Starts the coordinator every minute; it loops on a short tick inside the invocation.",
            "ScheduleExpression": "rate(1 minute)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": getatt("CoordinatorFunction", "Arn"), "RoleArn": getatt("SchedulerRole", "Arn"),
                       "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}},
        },
    }
    res["NotifyApi"] = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"Name": sub("${AWS::StackName}-notify"), "ProtocolType": "HTTP",
                       "Target": getatt("NotifyFunction", "Arn"),
                       "RouteKey": "POST /v0/notifications"},
    }
    res["NotifyApiPermission"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": ref("NotifyFunction"),
                       "Principal": "apigateway.amazonaws.com",
                       "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${NotifyApi}/*/*/v0/notifications")},
    }
    for fn in ("Coordinator", "Sender", "Notify"):
        res[f"{fn}ErrorAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"The {fn.lower()} function reports errors.",
                "Namespace": "AWS/Lambda", "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": ref(f"{fn}Function")}],
                "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 3, "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
                "AlarmActions": {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], {"Ref": "AWS::NoValue"}]},
            },
        }
    outputs = {
        "NotifyUrl": {"Value": sub("https://${NotifyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v0/notifications")},
        "PluginLayerArn": {"Value": ref("PluginLayer")},
    }
    for lane, _ in LANES:
        outputs[f"{lane}QueueUrl"] = {"Value": ref(f"{lane}Queue")}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Iris serverless sender: coordinator, sender and notify Lambda functions, one SQS lane per mode.",
        "Parameters": params, "Conditions": conditions, "Resources": res, "Outputs": outputs,
    }


if __name__ == "__main__":
    # JSON is valid YAML; emitting JSON keeps the generator free of a YAML dependency.
    json.dump(template(), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
