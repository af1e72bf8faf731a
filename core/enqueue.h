/*
 * enqueue.h — put every due message on its lane's queue, exactly as often as needed.
 *
 * Layer: core, above db, sqs and contract; used by the coordinator on every tick. The durable
 * marker is sender_enqueue (db/migrations/0005): a message gets its marker in the transaction
 * that creates it (escalate.c) or, for messages the API created, when this pass first sees it.
 * Due markers are sent with SendMessageBatch (10 per call) on the lane of the message's
 * likely mode (the priority's default; the sender resolves the real mode); an accepted entry
 * becomes `enqueued` and is due again after `redrive_seconds` unless the sender settled it
 * meanwhile — so a message lost between SQS and the sender is enqueued again, and the
 * sender's claim makes the copy harmless. Markers of messages that went inactive (claimed
 * incidents) are settled here.
 */
#ifndef IRIS_ENQUEUE_H
#define IRIS_ENQUEUE_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "sqs.h"

struct iris_enqueue_stats {
  int adopted;  /* API-created messages given a marker */
  int enqueued; /* accepted by SQS */
  int failed;   /* refused by SQS (retried later) */
  int settled;  /* markers closed because the message went inactive */
};

int iris_enqueue_tick(struct iris_db *db, struct iris_sqs *sqs, json_t *queues,
                      int64_t redrive_seconds, struct iris_enqueue_stats *stats,
                      struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_ENQUEUE_H */
