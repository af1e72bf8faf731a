/*
 * housekeeping.h — the coordinator's periodic pruning (in Iris, the leader's
 * prune_old_audit_logs_worker in src/iris/bin/sender.py deleted audit rows older than three
 * months every four hours, on an in-memory schedule).
 *
 * Layer: core, above db and lease; used by the coordinator. At most once per `every_s`
 * seconds across all coordinators — the schedule is the lease row 'housekeeping' (lease.h),
 * taken for `every_s` and never released, so it survives invocations — it deletes, in
 * chunks of 5000 rows so no statement holds locks for long:
 *   message_changelog rows older than changelog_days (Iris: 90; 0 keeps them);
 *   the sender's own settled bookkeeping older than sender_days: finished sender_claim,
 *   sender_enqueue 'done', sender_tracking 'done', finished sender_notification rows, and
 *   quota counter buckets older than a day (quota windows are at most hours long).
 * Iris's own message rows are never deleted here (its retention tool does that).
 */
#ifndef IRIS_HOUSEKEEPING_H
#define IRIS_HOUSEKEEPING_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_housekeeping_opts {
  int64_t every_s;        /* default 14400 (4 h) */
  int64_t changelog_days; /* default 90; 0 = keep */
  int64_t sender_days;    /* default 30; 0 = keep */
  int64_t max_rows;       /* per table per run; default 100000 (the rest waits for next run) */
};

struct iris_housekeeping_stats {
  int ran; /* 1 if this call did the work (the schedule was due) */
  int64_t changelog, claims, enqueue, tracking, notifications, quota;
};

/* `owner` identifies the caller (the coordinator's request id + tick). */
int iris_housekeeping_run(struct iris_db *db, const char *owner,
                          const struct iris_housekeeping_opts *opts,
                          struct iris_housekeeping_stats *stats,
                          struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_HOUSEKEEPING_H */
