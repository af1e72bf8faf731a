/*
 * sender.h — the sender: deliver each queue record exactly once, with Iris's semantics.
 *
 * Layer: core, the top of the delivery path (contract, claim, contact, render, dispatch,
 * record, sqs, metrics); called by lambda/sender (SQS event source mapping and the
 * long-polling worker mode). Both hand it whole SQS batches: the batch's message and tracking
 * claims are taken in one statement, its records delivered, its sent outcomes recorded in one
 * transaction (docs/sender.md, "One SQS batch"); vendor calls run in a helper process, bounded
 * in time (vendor_call.h). What differs between record kinds is one table in sender.c. Per
 * record:
 *   1. parse and validate the envelope — a bad one is dead-lettered at once with its reason
 *      (or, without a dead-letter queue configured, left to SQS's redrive);
 *   2. claim it in MySQL — a duplicate or concurrent delivery sends nothing;
 *   3. re-read the message: gone, inactive, already sent or its incident claimed → recorded
 *      as suppressed, nothing sent;
 *   4. resolve mode and destination (contact.h), falling back to email as Iris does; no
 *      contact at all → the message is deactivated with Iris's changelog entry;
 *   5. render (render.h); an over-long body is dropped as Iris does; mode drop sends nothing;
 *   6. send through the mode's vendor instances (dispatch.h): sent → recorded; rate-limited
 *      → retried after the vendor's wait; retryable → retried with backoff, up to
 *      `sender.max_attempts`; permanent or exhausted → Iris's email fallback, else a recorded
 *      failure;
 *   7. report: records to retry get their visibility set to the backoff and are returned in
 *      batchItemFailures; everything else is acknowledged.
 * A record's last receive (ApproximateReceiveCount = `sender.max_receives`, the lanes'
 * maxReceiveCount) allows no retry: a retryable vendor failure gets Iris's email fallback at
 * once, an error of our own or of the infrastructure is recorded as the failure (while the
 * claim is held), and the record goes to the dead-letter queue with the reason — sent there
 * by the sender (attribute `reason`) when `queues.dead_letter` is set, else left to the
 * redrive policy; the reason is logged either way.
 */
#ifndef IRIS_SENDER_H
#define IRIS_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "err.h"

struct iris_sender; /* opaque */

/* Build from the application (borrowed; must outlive the sender): loads the plugins
 * (plugins.dir), creates the vendor instances (vendors), reads sender.* settings. */
int iris_sender_new(struct iris_app *app, struct iris_sender **out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
void iris_sender_free(struct iris_sender *s);

/* One SQS record as the sender sees it (borrowed). */
struct iris_sender_record {
  const char *sqs_message_id;
  const char *receipt_handle;
  const char *body;
  size_t body_len;
  long receive_count;
  const char *queue_url; /* where it came from (for visibility changes), NULL if unknown */
  const char *lane;      /* the queue's lane name ("email", "sms", ...) */
};

enum iris_sender_verdict {
  IRIS_SENDER_DONE = 0, /* acknowledge: delivered, suppressed, failed for good, dead-lettered */
  IRIS_SENDER_RETRY = 1 /* leave it on the queue; visible again after retry_after_s */
};

/*
 * Handle one record. `owner` identifies this attempt (request id + record; unique to the
 * process). Errors of the infrastructure (database down...) come back as IRIS_SENDER_RETRY
 * with the reason in err, *retry_after_s growing with the receive count; the function returns
 * IRIS_OK unless it ran out of memory.
 */
int iris_sender_handle(struct iris_sender *s, const char *owner,
                       const struct iris_sender_record *rec, enum iris_sender_verdict *verdict,
                       int *retry_after_s, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * A Lambda SQS event ({"Records": [...]}) → the partial batch response
 * {"batchItemFailures": [{"itemIdentifier": "<messageId>"}...]} appended to `response`.
 * deadline_ms: the invocation's deadline (epoch ms, Lambda-Runtime-Deadline-Ms), 0 for none.
 * With less than `sender.deadline_margin_ms` left no record is started and no vendor call is
 * made (claims already taken are given back); such records are batch item failures, visible
 * again after a second. Every vendor call is bounded by the time left (vendor_call.h).
 * IRIS_EPARSE if the event is not an SQS event at all.
 */
int iris_sender_handle_event(struct iris_sender *s, const char *request_id, int64_t deadline_ms,
                             const char *event, size_t len, struct iris_buf *response,
                             struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Worker mode (outside Lambda): long-poll the configured lanes' queues and handle what
 * arrives, deleting what is done, until `stop` becomes non-zero or max_idle_polls polls in a
 * row found nothing (0 = forever).
 */
int iris_sender_work(struct iris_sender *s, const char *const *lanes, size_t nlanes,
                     volatile int *stop, int max_idle_polls,
                     struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_SENDER_H */
