/* quota.c — shared per-application quotas (see quota.h). */
#include "quota.h"

#include <jansson.h>
#include <stdio.h>

#include "alloc.h"
#include <string.h>

#define IRIS_LOG_MODULE "quota"
#include "log.h"

static const char *scope_name(enum iris_quota_scope scope) {
  return scope == IRIS_QUOTA_SCOPE_TARGET_MODE ? "target_mode" : "application";
}

int iris_quota_counter_hit(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(scope_name(scope)), IRIS_DB_I64(subject_id),
                              IRIS_DB_I64(mode_id)};
  int rc = iris_db_exec(db, 0,
                        "INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket, hits)"
                        " VALUES (?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00'), 1)"
                        " ON DUPLICATE KEY UPDATE hits = hits + 1",
                        p, 3, NULL, err);
  return rc ? iris_err_prefix(err, "quota counter %s/%lld/%lld", scope_name(scope),
                              (long long)subject_id, (long long)mode_id)
            : IRIS_OK;
}

int iris_quota_counter_sum(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, int64_t minutes, int64_t *sum, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(scope_name(scope)), IRIS_DB_I64(subject_id),
                              IRIS_DB_I64(mode_id), IRIS_DB_I64(minutes > 1 ? minutes - 1 : 0)};
  int rc;
  *sum = 0;
  rc = iris_db_query_i64(db, IRIS_DB_IDEMPOTENT,
                         "SELECT CAST(IFNULL(SUM(hits), 0) AS SIGNED) FROM sender_quota_counter"
                         " WHERE scope = ? AND subject_id = ? AND mode_id = ?"
                         " AND bucket >= DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00')"
                         "  - INTERVAL ? MINUTE",
                         p, 4, sum, err);
  return rc;
}

/* Elect one instance to act on a breach: a conditional update on sender_quota_state. */
static int elect(struct iris_db *db, int64_t app, const char *sql, int64_t seconds, int *won,
                 struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_param ins[] = {IRIS_DB_I64(app)};
  struct iris_db_param p[] = {IRIS_DB_I64(seconds), IRIS_DB_I64(app)};
  int rc = iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                        "INSERT IGNORE INTO sender_quota_state (application_id) VALUES (?)", ins,
                        1, NULL, err);
  *won = 0;
  if (rc == IRIS_OK)
    rc = iris_db_exec(db, 0, sql, p, 2, &info, err);
  if (rc == IRIS_OK)
    *won = info.affected_rows == 1;
  return rc;
}

int iris_quota_check(struct iris_db *db, const struct iris_quota_defaults *d, int64_t app,
                     const char *application, struct iris_quota_verdict *out,
                     struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int64_t hard = d->hard_limit, soft = d->soft_limit, hard_min = d->hard_minutes,
          soft_min = d->soft_minutes, wait = 3600, usage_hard = 0, usage_soft = 0;
  const char *plan = NULL;
  char plan_buf[256] = "";
  int rc;

  memset(out, 0, sizeof *out);
  {
    struct iris_db_param p[] = {IRIS_DB_I64(app)};
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT q.hard_quota_threshold, q.soft_quota_threshold,"
                       " q.hard_quota_duration, q.soft_quota_duration, q.plan_name, t.name,"
                       " tt.name, q.wait_time FROM application_quota q"
                       " LEFT JOIN target t ON t.id = q.target_id"
                       " LEFT JOIN target_type tt ON tt.id = t.type_id WHERE q.application_id = ?",
                       p, 1, &rows, err);
  }
  if (rc)
    return rc;
  if (iris_db_next(rows, err) == IRIS_DB_ROW) {
    const char *s;
    int64_t hd = 60, sd = 60;
    rc = iris_db_get_i64(rows, 0, &hard, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &soft, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 2, &hd, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 3, &sd, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 4) &&
        iris_db_get_str(rows, 4, &s, NULL, err) == IRIS_OK) {
      snprintf(plan_buf, sizeof plan_buf, "%s", s);
      plan = plan_buf;
    }
    if (rc == IRIS_OK && !iris_db_is_null(rows, 5) &&
        iris_db_get_str(rows, 5, &s, NULL, err) == IRIS_OK)
      snprintf(out->target, sizeof out->target, "%s", s);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 6) &&
        iris_db_get_str(rows, 6, &s, NULL, err) == IRIS_OK)
      snprintf(out->target_role, sizeof out->target_role, "%s", s);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 7, &wait, err);
    /* Iris turns seconds into whole minutes (floor), at least one bucket */
    hard_min = hd / 60 > 0 ? hd / 60 : 1;
    soft_min = sd / 60 > 0 ? sd / 60 : 1;
  }
  iris_db_rows_free(rows);
  if (rc)
    return rc;
  rc = iris_quota_counter_hit(db, IRIS_QUOTA_SCOPE_APPLICATION, app, 0, err);
  if (rc == IRIS_OK)
    rc = iris_quota_counter_sum(db, IRIS_QUOTA_SCOPE_APPLICATION, app, 0, hard_min, &usage_hard,
                                err);
  if (rc == IRIS_OK)
    rc = iris_quota_counter_sum(db, IRIS_QUOTA_SCOPE_APPLICATION, app, 0, soft_min, &usage_soft,
                                err);
  if (rc)
    return rc;
  if (usage_hard > hard) {
    int won = 0;
    out->hard_breach = 1;
    out->usage = usage_hard;
    out->limit = hard;
    out->minutes = hard_min;
    IRIS_LOG_WARN("application %s over its hard quota: %lld > %lld in %lld min", application,
                  (long long)usage_hard, (long long)hard, (long long)hard_min);
    if (plan && d->sender_app) {
      rc = elect(db, app,
                 "UPDATE sender_quota_state s LEFT JOIN incident i ON i.id = s.hard_incident_id"
                 " SET s.hard_incident_at = UTC_TIMESTAMP(3), s.updated_at = UTC_TIMESTAMP(3)"
                 " WHERE (s.hard_incident_at IS NULL"
                 "   OR s.hard_incident_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND)"
                 " AND (i.id IS NULL OR i.active = 0) AND s.application_id = ?",
                 wait, &won, err);
      if (rc == IRIS_OK && won) {
        json_t *doc = json_pack("{s:{s:s, s:I, s:I}}", "quota_breach", "application", application,
                                "limit", (json_int_t)hard, "duration", (json_int_t)hard_min);
        char *ctx = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        struct iris_db_exec_info info = {0};
        struct iris_db_param p[] = {IRIS_DB_STR(ctx), IRIS_DB_STR(plan),
                                    IRIS_DB_STR(d->sender_app)};
        json_decref(doc);
        if (!ctx) {
          return iris_err_set(err, IRIS_ENOMEM, "quota: breach context");
        }
        rc = iris_db_exec(db, 0,
                          "INSERT INTO incident (plan_id, created, context, application_id,"
                          " current_step, active) SELECT pa.plan_id, UTC_TIMESTAMP(), ?, a.id, 0, 1"
                          " FROM plan_active pa JOIN application a ON a.name = ? WHERE pa.name = ?",
                          (struct iris_db_param[]){p[0], p[2], p[1]}, 3, &info, err);
        iris_free(ctx);
        if (rc == IRIS_OK && info.affected_rows == 1) {
          struct iris_db_param q[] = {IRIS_DB_I64((int64_t)info.insert_id), IRIS_DB_I64(app)};
          out->breach_incident_id = (int64_t)info.insert_id;
          rc = iris_db_exec(db, 0,
                            "UPDATE sender_quota_state SET hard_incident_id = ? WHERE application_id = ?",
                            q, 2, NULL, err);
          IRIS_LOG_WARN("opened incident %lld on plan %s for %s's hard quota breach",
                        (long long)out->breach_incident_id, plan, application);
        }
      }
    }
    return rc;
  }
  if (usage_soft > soft) {
    int won = 0;
    out->soft_breach = 1;
    out->usage = usage_soft;
    out->limit = soft;
    out->minutes = soft_min;
    if (out->target[0]) {
      rc = elect(db, app,
                 "UPDATE sender_quota_state SET soft_notified_at = UTC_TIMESTAMP(3),"
                 " updated_at = UTC_TIMESTAMP(3) WHERE (soft_notified_at IS NULL OR"
                 " soft_notified_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND) AND application_id = ?",
                 1800, &won, err);
      out->notify_soft = won;
    }
  }
  return rc;
}
