/* housekeeping.c — periodic pruning (see housekeeping.h). */
#include "housekeeping.h"

#include <string.h>

#include "lease.h"

#define IRIS_LOG_MODULE "housekeeping"
#include "log.h"

#define CHUNK 5000

/* Run `sql` (one parameter: the age in days, then the chunk size) until it deletes fewer than
 * a chunk or max_rows are gone. */
static int prune(struct iris_db *db, const char *sql, int64_t days, int64_t max_rows,
                 int64_t *deleted, struct iris_err *err) {
  int rc = IRIS_OK;
  *deleted = 0;
  if (days <= 0)
    return IRIS_OK;
  while (rc == IRIS_OK && *deleted < max_rows) {
    struct iris_db_exec_info info = {0};
    struct iris_db_param p[] = {IRIS_DB_I64(days), IRIS_DB_I64(CHUNK)};
    rc = iris_db_exec(db, IRIS_DB_IDEMPOTENT, sql, p, 2, &info, err);
    *deleted += (int64_t)info.affected_rows;
    if (info.affected_rows < CHUNK)
      break;
  }
  return rc;
}

int iris_housekeeping_run(struct iris_db *db, const char *owner,
                          const struct iris_housekeeping_opts *o,
                          struct iris_housekeeping_stats *st, struct iris_err *err) {
  int held = 0, rc;
  int64_t every = o->every_s > 0 ? o->every_s : 14400;
  int64_t max_rows = o->max_rows > 0 ? o->max_rows : 100000;
  memset(st, 0, sizeof *st);
  rc = iris_lease_acquire(db, "housekeeping", owner, (int)every, &held, NULL, err);
  if (rc || !held)
    return rc;
  st->ran = 1;
  rc = prune(db,
             "DELETE FROM message_changelog WHERE date < UTC_TIMESTAMP() - INTERVAL ? DAY"
             " ORDER BY date LIMIT ?",
             o->changelog_days, max_rows, &st->changelog, err);
  if (rc == IRIS_OK)
    rc = prune(db,
               "DELETE FROM sender_claim WHERE finished_at < UTC_TIMESTAMP(3) - INTERVAL ? DAY"
               " ORDER BY finished_at LIMIT ?",
               o->sender_days, max_rows, &st->claims, err);
  if (rc == IRIS_OK)
    rc = prune(db,
               "DELETE FROM sender_enqueue WHERE done_at < UTC_TIMESTAMP(3) - INTERVAL ? DAY"
               " ORDER BY done_at LIMIT ?",
               o->sender_days, max_rows, &st->enqueue, err);
  if (rc == IRIS_OK)
    rc = prune(db,
               "DELETE FROM sender_tracking WHERE done_at < UTC_TIMESTAMP(3) - INTERVAL ? DAY"
               " ORDER BY done_at LIMIT ?",
               o->sender_days, max_rows, &st->tracking, err);
  if (rc == IRIS_OK)
    rc = prune(db,
               "DELETE FROM sender_notification WHERE finished_at < UTC_TIMESTAMP(3)"
               " - INTERVAL ? DAY AND state IN ('done','failed','rejected')"
               " AND NOT EXISTS (SELECT 1 FROM sender_claim c WHERE c.notification_id ="
               " sender_notification.id) LIMIT ?",
               o->sender_days, max_rows, &st->notifications, err);
  if (rc == IRIS_OK)
    rc = prune(db,
               "DELETE FROM sender_quota_counter WHERE bucket < UTC_TIMESTAMP() - INTERVAL ? DAY"
               " ORDER BY bucket LIMIT ?",
               1, max_rows, &st->quota, err);
  if (rc == IRIS_OK)
    IRIS_LOG_INFO("pruned %lld changelog row(s), %lld claim(s), %lld enqueue marker(s), %lld "
                  "tracking row(s), %lld notification(s), %lld quota bucket(s)",
                  (long long)st->changelog, (long long)st->claims, (long long)st->enqueue,
                  (long long)st->tracking, (long long)st->notifications, (long long)st->quota);
  return rc;
}
