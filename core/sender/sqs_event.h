/*
 * sqs_event.h — reading a Lambda SQS event ({"Records": [...]}) into records the sender can
 * handle, and matching each record's event source ARN to a configured queue.
 *
 * Layer: core/sender, above base only (jansson, err, alloc); called by sender.c
 * (iris_sender_handle_event). Kept apart from the delivery pipeline so that it can be
 * fuzzed on its own (tests/fuzz/fuzz_sqs_event.c): the event is the one document the sender
 * reads that nobody validated before it.
 */
#ifndef IRIS_SQS_EVENT_H
#define IRIS_SQS_EVENT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* One record of the event. Every pointer is borrowed from the event (iris_sqs_event_cleanup
 * ends it) or, for queue_url and lane, from the `queues` object given to the reader. */
struct iris_sqs_event_record {
  const char *message_id;     /* messageId; NULL when missing, empty or not a string */
  const char *receipt_handle; /* receiptHandle, NULL when missing */
  const char *body;           /* body, never NULL ("" when missing), NUL-terminated */
  size_t body_len;            /* strlen(body): JSON strings in the event cannot hold NUL */
  long receive_count;         /* attributes.ApproximateReceiveCount in [0, INT_MAX]; 0 when
                               * missing or not a decimal number, INT_MAX when larger */
  const char *arn;            /* eventSourceARN, NULL when missing */
  const char *queue_url;      /* the configured queue the ARN names, NULL when none does */
  const char *lane;           /* that queue's lane (its key in `queues`), NULL with it */
};

struct iris_sqs_event {
  json_t *doc;                           /* the parsed event (owned) */
  struct iris_sqs_event_record *records; /* n records in the event's order (owned) */
  size_t n;
};

/*
 * Parse `event` (len bytes) and read its records. `queues` is the configuration's `queues`
 * object (lane → queue URL; borrowed, must outlive `out`); the key "dead_letter" is never a
 * lane. A queue URL names the ARN arn:<partition>:sqs:<region>:<account>:<name> when its path
 * is /<account>/<name> and its host's region (sqs.<region>.amazonaws.com,
 * <region>.queue.amazonaws.com) is the ARN's — or, for a host without one (moto, a VPC
 * endpoint), when `default_region` (aws.region, may be NULL) is. Records that cannot be
 * handled (no messageId, no matching queue) are still returned, for the caller to report.
 * Returns IRIS_OK (free `out` with iris_sqs_event_cleanup), IRIS_EPARSE when the event is not
 * JSON or has no "Records" array (the reason in err), IRIS_ENOMEM.
 */
int iris_sqs_event_read(const char *event, size_t len, json_t *queues, const char *default_region,
                        struct iris_sqs_event *out, struct iris_err *err) IRIS_WARN_UNUSED;

/* Release what iris_sqs_event_read gave; accepts a zeroed or cleaned-up event. */
void iris_sqs_event_cleanup(struct iris_sqs_event *ev);

#endif /* IRIS_SQS_EVENT_H */
