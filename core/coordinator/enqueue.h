/*
 * enqueue.h — put every due message, batch and tracking copy on its lane's queue, exactly as
 * often as needed.
 *
 * Layer: core, above db, sqs and contract; used by the coordinator on every tick. The durable
 * marker is sender_enqueue (db/migrations/0005): a message gets its marker in the transaction
 * that creates it (escalate.c) or, for messages the API created, when this pass first sees it;
 * aggregate.c chooses its lane (or holds it for a batch). Due markers go out with
 * SendMessageBatch (10 a call), several calls in flight at once (`parallel`, one SQS client
 * per sending thread, kept warm across ticks); an accepted entry becomes `enqueued` and is due
 * again after `redrive_seconds` unless the sender settled it meanwhile — so an envelope lost
 * between SQS and the sender is sent again, and the sender's claim makes the copy harmless.
 * A crash between SQS accepting and the marker update sends a copy too, never nothing.
 * Markers of messages that went inactive (claimed incidents) are settled here.
 * The pass is a pipeline of pages (`page` entries): while one page's calls are in flight, the
 * calling thread reads and encodes the next (leaving out the entries in flight) and marks the
 * page that came back, so SQS is kept busy and an entry goes out once per pass.
 */
#ifndef IRIS_ENQUEUE_H
#define IRIS_ENQUEUE_H

#include <jansson.h>
#include <stdint.h>

#include "aws.h"
#include "db.h"
#include "err.h"

struct iris_enqueue_stats {
  int adopted;  /* API-created messages given a marker */
  int enqueued; /* entries accepted by SQS */
  int failed;   /* entries refused or not sent (retried later) */
  int settled;  /* markers closed because the message went inactive */
  int calls;    /* SendMessageBatch calls */
  int pages;    /* pages of due entries sent */
  /* where the pass's time went (ms): adopting and settling markers, reading the due entries and
   * encoding their envelopes, the SendMessageBatch calls, marking what SQS accepted */
  int64_t ms_upkeep, ms_collect, ms_send, ms_mark;
};

struct iris_enqueue_opts {
  json_t *queues;                  /* borrowed: lane → queue URL; "notifications" for the rest */
  int64_t redrive_seconds;         /* an enqueued entry not settled by then is sent again */
  int parallel;                    /* SendMessageBatch calls in flight (1-32; 0: 4) */
  int page;                        /* due entries read per page (10-2000; 0: 2000) */
  const struct iris_aws_opts *aws; /* borrowed: how to open the SQS clients */
};

struct iris_enqueue; /* opaque: options and one SQS client per sending thread */

/* *out owned by the caller (iris_enqueue_free). The borrowed options must outlive it.
 * IRIS_EINVAL (no queues, bad parallel), IRIS_ENOMEM; clients open on first use. */
int iris_enqueue_new(const struct iris_enqueue_opts *opts, struct iris_enqueue **out,
                     struct iris_err *err) IRIS_WARN_UNUSED;
void iris_enqueue_free(struct iris_enqueue *q);

/* One pass: adopt and settle markers, then send everything due, page after page, until
 * nothing is due or iris_clock_mono_ms() passes `deadline_ms` (0: none). SQS failures are
 * counted (st->failed) and retried later; the return value is an error only for IRIS_ENOMEM
 * and database failures. */
int iris_enqueue_tick(struct iris_enqueue *q, struct iris_db *db, int64_t deadline_ms,
                      struct iris_enqueue_stats *stats, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_ENQUEUE_H */
