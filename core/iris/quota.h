/*
 * quota.h — Iris's per-application message quotas, with counters shared by every sender
 * instance (MySQL minute buckets in sender_quota_counter) instead of per-process memory.
 *
 * Layer: core, above db; used by sender.c once per message it is about to send (not for
 * retries of the same claim, not for drop). Rules come from application_quota (durations in
 * seconds, used as whole minutes as Iris does); applications without a row get the
 * configured default (Iris's sender.default_rate_def: 6000 / 600 per minute).
 *   soft breach → the message is still sent; the quota's target is told by email, at most once
 *                 per 30 minutes per application (elected through sender_quota_state);
 *   hard breach → the message is dropped (mode drop, Iris's changelog text), and an incident
 *                 is opened on the quota's plan for the configured sender application, at most
 *                 once per wait_time and never while the previous one is still active.
 */
#ifndef IRIS_QUOTA_H
#define IRIS_QUOTA_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_quota_defaults {
  int64_t hard_limit, soft_limit;     /* messages per window */
  int64_t hard_minutes, soft_minutes; /* window length */
  const char *sender_app;             /* application that owns breach incidents, or NULL */
};

struct iris_quota_verdict {
  int hard_breach; /* drop the message */
  int soft_breach; /* send, but the owner should hear about it */
  int notify_soft; /* this instance was elected to send the soft-breach email */
  int64_t usage, limit, minutes;
  char target[256];           /* the quota's target name (soft notice), "" if none */
  char target_role[64];       /* its type: user, team, mailing-list */
  int64_t breach_incident_id; /* hard breach: the incident opened now, 0 if none */
};

/*
 * The shared per-minute counters underneath (sender_quota_counter, migration 0006), also used
 * by reprioritize.c. A counter is (scope, subject, mode); its buckets are UTC minutes of the
 * database's clock, so every sender instance counts into the same rows.
 */
enum iris_quota_scope {
  IRIS_QUOTA_SCOPE_APPLICATION, /* subject = application.id, mode_id 0 */
  IRIS_QUOTA_SCOPE_TARGET_MODE  /* subject = target.id, mode_id = the source mode */
};

/* One more hit in the current minute's bucket (an atomic upsert). Not idempotent: a caller
 * that must count an event once runs it in the transaction that records having counted it. */
int iris_quota_counter_hit(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, struct iris_err *err) IRIS_WARN_UNUSED;

/* `hits` more (>= 1) in the current minute's bucket: a batch's messages counted in one upsert. */
int iris_quota_counter_add(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, int64_t hits, struct iris_err *err) IRIS_WARN_UNUSED;

/* *sum = the hits of the current minute and of the minutes - 1 before it (minutes >= 1). */
int iris_quota_counter_sum(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, int64_t minutes, int64_t *sum,
                           struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * A sender's memory of quotas between round trips (caller owns; iris_quota_cache_free).
 * It keeps each application's rule for `ttl_ms` (Iris's sender re-read its quotas once a
 * minute too), and counts a batch's messages in memory: the first check of an application
 * after a flush reads the window's usage once, later checks add to it, and
 * iris_quota_flush writes every pending hit in one statement. So a batch of ten costs one
 * read and one write instead of three statements and one commit per message; other senders'
 * hits of the same moment are seen from the next batch on (Iris counted per process only).
 */
struct iris_quota_cache;
int iris_quota_cache_new(int64_t ttl_ms, struct iris_quota_cache **out,
                         struct iris_err *err) IRIS_WARN_UNUSED;
void iris_quota_cache_free(struct iris_quota_cache *c);

/* Write the pending hits (one multi-row upsert, autocommit) and forget the usage read, so
 * the next check reads it again. Pending hits are dropped (and logged) when the write
 * fails: a quota is a safety valve, and a batch must not be retried for it. */
int iris_quota_flush(struct iris_db *db, struct iris_quota_cache *c, struct iris_err *err);

/* The same write, in two steps, for a caller that puts it inside its own transaction (the
 * sender records a batch's outcomes and its quota hits with one commit):
 * iris_quota_write_pending writes the pending hits and keeps them; after the caller's commit,
 * iris_quota_forget_pending forgets them (and the usage read). After a rollback the hits are
 * still pending, for the next write or iris_quota_flush. iris_quota_pending: any to write? */
int iris_quota_pending(const struct iris_quota_cache *c);
int iris_quota_write_pending(struct iris_db *db, struct iris_quota_cache *c,
                             struct iris_err *err) IRIS_WARN_UNUSED;
void iris_quota_forget_pending(struct iris_quota_cache *c);

/* Count one message of `application_id` and judge it. With cache NULL the hit is written
 * and the usage read at once (three statements); with a cache, see above. */
int iris_quota_check(struct iris_db *db, const struct iris_quota_defaults *defaults,
                     struct iris_quota_cache *cache, int64_t application_id,
                     const char *application, struct iris_quota_verdict *out,
                     struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_QUOTA_H */
