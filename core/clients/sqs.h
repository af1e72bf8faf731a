/*
 * sqs.h — Amazon SQS client over the JSON protocol (AmazonSQS.*, application/x-amz-json-1.0).
 *
 * Layer: core, above aws.c (signing, retries, AWS error parsing). Used by the coordinator
 * (enqueue), the notify function (enqueue), the sender's worker mode (receive, delete,
 * change visibility) and tooling. One struct iris_sqs per thread.
 *
 * Limits checked before any call (so a bad request never half-succeeds): batches hold
 * 1-10 entries with unique ids of 1-80 [A-Za-z0-9_-]; a body is 1 byte to 1 MiB of XML-legal
 * Unicode (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF) in valid UTF-8; a
 * batch's bodies together stay within 1 MiB; at most 10 message attributes.
 * Result strings are owned by the result structs and released by their _cleanup.
 */
#ifndef IRIS_SQS_H
#define IRIS_SQS_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "err.h"

#define IRIS_SQS_MAX_BATCH 10
#define IRIS_SQS_MAX_BODY ((size_t)1024 * 1024)
#define IRIS_SQS_MAX_ATTRS 10

struct iris_sqs; /* opaque */

/* Same fields as struct iris_aws_opts (region, endpoint, creds, timeouts, attempts). */
int iris_sqs_new(const struct iris_aws_opts *opts, struct iris_sqs **out,
                 struct iris_err *err) IRIS_WARN_UNUSED;
void iris_sqs_free(struct iris_sqs *sqs);

/* One message attribute. type is "String", "Number" or "Binary" (optionally with a custom
 * label, "Number.int"); for Binary, value is the base64 text as it travels on the wire. */
struct iris_sqs_attr {
  const char *name;
  const char *type;
  const char *value;
};

/* A message to send (every pointer borrowed for the duration of the call). */
struct iris_sqs_out {
  const char *id;    /* batch entry id; ignored by iris_sqs_send */
  const char *body;  /* NUL-terminated UTF-8 */
  int delay_seconds; /* 0-900; -1 or 0 for the queue default */
  const struct iris_sqs_attr *attrs;
  size_t nattrs;
  const char *group_id; /* FIFO only, else NULL */
  const char *dedup_id; /* FIFO only, else NULL */
};

/* SendMessage. *message_id (may be NULL) receives the SQS MessageId; caller frees. */
int iris_sqs_send(struct iris_sqs *sqs, const char *queue_url, const struct iris_sqs_out *msg,
                  char **message_id, struct iris_err *err) IRIS_WARN_UNUSED;

/* Per-entry outcome of a batch call. */
struct iris_sqs_entry_result {
  char *id;         /* the entry id we sent */
  char *message_id; /* SendMessageBatch successes only, else NULL */
  char *code;       /* failures only: "InvalidParameterValue"... else NULL */
  char *message;    /* failures only */
  int sender_fault; /* failures only: 1 = our request was wrong, do not retry as is */
};
struct iris_sqs_batch_result {
  struct iris_sqs_entry_result *ok;
  size_t nok;
  struct iris_sqs_entry_result *failed;
  size_t nfailed;
};
void iris_sqs_batch_result_cleanup(struct iris_sqs_batch_result *res);

/*
 * SendMessageBatch of 1-10 messages with unique ids. IRIS_OK means the call succeeded;
 * individual entries may still have failed: check res->nfailed (each failure names its id).
 */
int iris_sqs_send_batch(struct iris_sqs *sqs, const char *queue_url,
                        const struct iris_sqs_out *msgs, size_t n,
                        struct iris_sqs_batch_result *res, struct iris_err *err) IRIS_WARN_UNUSED;

/* A received message; all strings owned (iris_sqs_received_cleanup). */
struct iris_sqs_owned_attr {
  char *name;
  char *type;
  char *value; /* Binary: base64 text */
};
struct iris_sqs_msg {
  char *message_id;
  char *receipt_handle;
  char *body;
  size_t body_len;
  char *md5_of_body;
  long receive_count;        /* ApproximateReceiveCount, 0 if not returned */
  int64_t sent_timestamp_ms; /* SentTimestamp, 0 if not returned */
  int64_t first_receive_ms;  /* ApproximateFirstReceiveTimestamp, 0 if not returned */
  struct iris_sqs_owned_attr *attrs;
  size_t nattrs;
};
struct iris_sqs_received {
  struct iris_sqs_msg *msgs;
  size_t n;
};
void iris_sqs_received_cleanup(struct iris_sqs_received *r);

/*
 * ReceiveMessage: up to max_messages (1-10), long-polling wait_seconds (0-20); visibility
 * timeout in seconds or -1 for the queue's. Requests all system and message attributes.
 * Each body's MD5 is checked against MD5OfBody (IRIS_EPARSE on mismatch).
 */
int iris_sqs_receive(struct iris_sqs *sqs, const char *queue_url, int max_messages,
                     int wait_seconds, int visibility_timeout, struct iris_sqs_received *out,
                     struct iris_err *err) IRIS_WARN_UNUSED;

int iris_sqs_delete(struct iris_sqs *sqs, const char *queue_url, const char *receipt_handle,
                    struct iris_err *err) IRIS_WARN_UNUSED;
/* DeleteMessageBatch of 1-10 receipt handles; entry ids are "0".."9" (index in the array). */
int iris_sqs_delete_batch(struct iris_sqs *sqs, const char *queue_url,
                          const char *const *receipt_handles, size_t n,
                          struct iris_sqs_batch_result *res,
                          struct iris_err *err) IRIS_WARN_UNUSED;

/* ChangeMessageVisibility(Batch): timeouts in seconds, 0-43200. Batch ids as above. */
int iris_sqs_change_visibility(struct iris_sqs *sqs, const char *queue_url,
                               const char *receipt_handle, int timeout_seconds,
                               struct iris_err *err) IRIS_WARN_UNUSED;
int iris_sqs_change_visibility_batch(struct iris_sqs *sqs, const char *queue_url,
                                     const char *const *receipt_handles,
                                     const int *timeout_seconds, size_t n,
                                     struct iris_sqs_batch_result *res,
                                     struct iris_err *err) IRIS_WARN_UNUSED;

/* GetQueueUrl: *url owned by the caller. IRIS_EAWS with code QueueDoesNotExist if absent. */
int iris_sqs_get_queue_url(struct iris_sqs *sqs, const char *queue_name, char **url,
                           struct iris_err *err) IRIS_WARN_UNUSED;

/* Tooling and tests: CreateQueue with attribute name/value pairs (may be NULL/0), DeleteQueue,
 * and GetQueueAttributes of one attribute (*value owned by the caller, NULL if absent). */
int iris_sqs_create_queue(struct iris_sqs *sqs, const char *queue_name,
                          const char *const *attr_names, const char *const *attr_values,
                          size_t nattrs, char **url, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_sqs_delete_queue(struct iris_sqs *sqs, const char *queue_url,
                          struct iris_err *err) IRIS_WARN_UNUSED;
int iris_sqs_get_queue_attribute(struct iris_sqs *sqs, const char *queue_url, const char *name,
                                 char **value, struct iris_err *err) IRIS_WARN_UNUSED;

/* Validation used before sending (exposed for producers that build envelopes). */
int iris_sqs_check_body(const char *body, size_t len, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_SQS_H */
