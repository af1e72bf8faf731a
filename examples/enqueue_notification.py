#!/usr/bin/env python3
"""Enqueue one out-of-band notification straight onto the notifications lane with boto3,
for producers that run inside the deployment's trust boundary and skip the notify API.

The envelope is the queue contract's `notification` kind (docs/message-contract.md): version
1, a fresh notification id (the sender's idempotency key: sending the same envelope twice
delivers once), the application name, one role and target, one of priority / mode /
category, and a body, a template with its context, or email_html. Nothing else is allowed:
the sender dead-letters an envelope with any other field.

    enqueue_notification.py --queue-url URL --application NAME --role user --target jdoe \
        --mode email --subject "wake up" --body "something is on fire" [--endpoint-url URL]

Prints the notification id. No checks of the application or the target happen here: the
sender refuses what it cannot deliver (see GET /v0/notifications/{id} for requests that went
through the API, or the sender_notification table for these).
"""
import argparse
import json
import uuid

import boto3


def envelope(args):
    doc = {"v": 1, "kind": "notification", "notification_id": str(uuid.uuid4()),
           "application": args.application, "role": args.role, "target": args.target}
    for name in ("priority", "mode", "category", "subject", "body", "template", "email_html"):
        value = getattr(args, name)
        if value is not None:
            doc[name] = value
    if args.context is not None:
        doc["context"] = json.loads(args.context)
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queue-url", required=True, help="the notifications lane's queue URL")
    ap.add_argument("--endpoint-url", help="another SQS endpoint (a local moto server)")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--application", required=True)
    ap.add_argument("--role", required=True, help="user, team, manager, mailing-list, literal_target")
    ap.add_argument("--target", required=True)
    for name in ("priority", "mode", "category", "subject", "body", "template", "email_html", "context"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name)
    args = ap.parse_args()
    if not (args.priority or args.mode or args.category):
        ap.error("one of --priority, --mode, --category is required")
    if not (args.body or args.template or args.email_html):
        ap.error("one of --body, --template (with --context), --email-html is required")
    doc = envelope(args)
    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint_url)
    sqs.send_message(QueueUrl=args.queue_url, MessageBody=json.dumps(doc, ensure_ascii=False))
    print(doc["notification_id"])


if __name__ == "__main__":
    main()
