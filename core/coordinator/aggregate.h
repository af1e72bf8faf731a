/*
 * aggregate.h — Iris's aggregation (the batching of src/iris/bin/sender.py's
 * fetch_and_prepare_message() and aggregate()), with its state in MySQL.
 *
 * Layer: core, above db; used by the coordinator on every tick, between escalation and the
 * enqueue pass. It decides, for every new enqueue marker (sender_enqueue, state 'pending',
 * lane not yet chosen), whether the message goes out on its own or is held for a batch:
 *
 *   key        (plan, application, priority, target), as in Iris;
 *   lane       the mode the key's target is paged by (Iris's chain, contact.h; email where
 *              Iris falls back to it), so each mode's queue carries only its own pages;
 *   threshold  more than plan.threshold_count messages of a key created within
 *              plan.threshold_window seconds put the key into aggregation mode: the messages
 *              up to the threshold go out one by one, the rest are held (state 'held') and
 *              Iris's changelog entry 'sent-change' "Aggregated with key (…)" is written for
 *              the first held message;
 *   flush      every plan.aggregation_window seconds a key in aggregation mode releases its
 *              held, still-active messages: one becomes a normal message, several become one
 *              batch (a random 32-hex batch id on every member, one envelope of kind batch);
 *   reset      a key with no new message for plan.aggregation_reset seconds leaves
 *              aggregation mode after its last flush.
 * Messages without a plan (created by the API) are never held. State (sender_aggregation,
 * sender_enqueue) survives invocations, so a coordinator restart neither loses held messages
 * nor re-sends them; Iris kept all of this in memory, so a restart dropped held messages
 * and a batch still in flight could be re-batched and sent twice. The clock is the
 * database's.
 *
 * A key with more than IRIS_CONTRACT_MAX_BATCH held messages flushes that many per window.
 */
#ifndef IRIS_AGGREGATE_H
#define IRIS_AGGREGATE_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "lease.h"

struct iris_aggregate_stats {
  int decided;  /* new markers given their lane (sent on their own) */
  int held;     /* new markers held for a batch */
  int started;  /* keys that entered aggregation mode */
  int batches;  /* batches flushed */
  int released; /* held messages released (in batches or alone) */
  int reset;    /* keys that left aggregation mode */
  int failed;   /* keys whose transaction failed (retried next tick) */
};

struct iris_aggregate; /* opaque: the lane of each (target, application, priority), cached */

/* *out owned by the caller (iris_aggregate_free); `db` and `fence` (NULL: unfenced) are
 * borrowed and must outlive it. IRIS_ENOMEM. */
int iris_aggregate_new(struct iris_db *db, const struct iris_lease_fence *fence,
                       struct iris_aggregate **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_aggregate_free(struct iris_aggregate *a);

/* One pass over new markers and due flushes, each key deciding in its own transaction (keys
 * far from their threshold share one), until done or iris_clock_mono_ms() passes
 * `deadline_ms` (0: no deadline). A failing key is logged and retried next tick; the return
 * value is an error only for IRIS_ENOMEM, a lost lease (IRIS_EFENCED) or a failure of the
 * pass's own queries. */
int iris_aggregate_tick(struct iris_aggregate *a, int64_t deadline_ms,
                        struct iris_aggregate_stats *stats, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_AGGREGATE_H */
