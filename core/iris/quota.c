/* quota.c — shared per-application quotas (see quota.h). */
#include "quota.h"

#include <jansson.h>
#include <stdio.h>

#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"

#define IRIS_LOG_MODULE "quota"
#include "log.h"

static const char *scope_name(enum iris_quota_scope scope) {
  return scope == IRIS_QUOTA_SCOPE_TARGET_MODE ? "target_mode" : "application";
}

int iris_quota_counter_add(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, int64_t hits, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(scope_name(scope)), IRIS_DB_I64(subject_id),
                              IRIS_DB_I64(mode_id), IRIS_DB_I64(hits), IRIS_DB_I64(hits)};
  int rc = iris_db_exec(db, 0,
                        "INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket, hits)"
                        " VALUES (?, ?, ?, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00'), ?)"
                        " ON DUPLICATE KEY UPDATE hits = hits + ?",
                        p, 5, NULL, err);
  return rc ? iris_err_prefix(err, "quota counter %s/%lld/%lld", scope_name(scope),
                              (long long)subject_id, (long long)mode_id)
            : IRIS_OK;
}

int iris_quota_counter_hit(struct iris_db *db, enum iris_quota_scope scope, int64_t subject_id,
                           int64_t mode_id, struct iris_err *err) {
  return iris_quota_counter_add(db, scope, subject_id, mode_id, 1, err);
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

/* One application's rule (application_quota, or the defaults) and, in a cache, its count. */
struct app_quota {
  int64_t app;
  int64_t loaded_ms; /* monotonic time the rule was read */
  int64_t hard, soft, hard_min, soft_min, wait;
  int has_plan;
  char plan[256];
  char target[256], target_role[64];
  int based;                      /* usage_* read since the last flush */
  int64_t usage_hard, usage_soft; /* what the database held, plus the hits pending here */
  int64_t pending;                /* hits counted here, not yet written */
};

/* Applications remembered at once; a batch names at most a few. Past this, rules without
 * pending hits are forgotten (they are read again when needed). */
#define QUOTA_CACHE_MAX 256

struct iris_quota_cache {
  int64_t ttl_ms;
  struct app_quota *v; /* n entries, owned */
  size_t n;
};

int iris_quota_cache_new(int64_t ttl_ms, struct iris_quota_cache **out, struct iris_err *err) {
  struct iris_quota_cache *c = iris_calloc(1, sizeof *c);
  *out = NULL;
  if (!c || !(c->v = iris_calloc(QUOTA_CACHE_MAX, sizeof *c->v))) {
    iris_free(c);
    return iris_err_set(err, IRIS_ENOMEM, "quota: cache");
  }
  c->ttl_ms = ttl_ms;
  *out = c;
  return IRIS_OK;
}

void iris_quota_cache_free(struct iris_quota_cache *c) {
  if (!c)
    return;
  iris_free(c->v);
  iris_free(c);
}

/* Read app's rule into *q (the defaults when it has none). */
static int load_rule(struct iris_db *db, const struct iris_quota_defaults *d, int64_t app,
                     struct app_quota *q, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(app)};
  int rc;

  memset(q, 0, sizeof *q);
  q->app = app;
  q->hard = d->hard_limit;
  q->soft = d->soft_limit;
  q->hard_min = d->hard_minutes;
  q->soft_min = d->soft_minutes;
  q->wait = 3600;
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT q.hard_quota_threshold, q.soft_quota_threshold,"
                     " q.hard_quota_duration, q.soft_quota_duration, q.plan_name, t.name,"
                     " tt.name, q.wait_time FROM application_quota q"
                     " LEFT JOIN target t ON t.id = q.target_id"
                     " LEFT JOIN target_type tt ON tt.id = t.type_id WHERE q.application_id = ?",
                     p, 1, &rows, err);
  if (rc)
    return rc;
  if (iris_db_next(rows, err) == IRIS_DB_ROW) {
    const char *v;
    int64_t hd = 60, sd = 60;
    rc = iris_db_get_i64(rows, 0, &q->hard, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &q->soft, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 2, &hd, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 3, &sd, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 4) &&
        iris_db_get_str(rows, 4, &v, NULL, err) == IRIS_OK) {
      snprintf(q->plan, sizeof q->plan, "%s", v);
      q->has_plan = 1;
    }
    if (rc == IRIS_OK && !iris_db_is_null(rows, 5) &&
        iris_db_get_str(rows, 5, &v, NULL, err) == IRIS_OK)
      snprintf(q->target, sizeof q->target, "%s", v);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 6) &&
        iris_db_get_str(rows, 6, &v, NULL, err) == IRIS_OK)
      snprintf(q->target_role, sizeof q->target_role, "%s", v);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 7, &q->wait, err);
    /* Iris turns seconds into whole minutes (floor), at least one bucket */
    q->hard_min = hd / 60 > 0 ? hd / 60 : 1;
    q->soft_min = sd / 60 > 0 ? sd / 60 : 1;
  }
  iris_db_rows_free(rows);
  q->loaded_ms = iris_clock_mono_ms();
  return rc;
}

/* Both windows' usage of app in one read. */
static int read_usage(struct iris_db *db, struct app_quota *q, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int64_t hb = q->hard_min > 1 ? q->hard_min - 1 : 0, sb = q->soft_min > 1 ? q->soft_min - 1 : 0;
  struct iris_db_param p[] = {IRIS_DB_I64(hb), IRIS_DB_I64(sb), IRIS_DB_I64(q->app),
                              IRIS_DB_I64(hb > sb ? hb : sb)};
  int rc = iris_db_query_one(
      db, IRIS_DB_IDEMPOTENT,
      "SELECT CAST(IFNULL(SUM(IF(bucket >= DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00')"
      "  - INTERVAL ? MINUTE, hits, 0)), 0) AS SIGNED),"
      " CAST(IFNULL(SUM(IF(bucket >= DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00')"
      "  - INTERVAL ? MINUTE, hits, 0)), 0) AS SIGNED)"
      " FROM sender_quota_counter WHERE scope = 'application' AND subject_id = ? AND mode_id = 0"
      " AND bucket >= DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:00') - INTERVAL ? MINUTE",
      p, 4, &rows, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 0, &q->usage_hard, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 1, &q->usage_soft, err);
  iris_db_rows_free(rows);
  return rc;
}

/* The cache's entry for app, its rule fresh (read again after ttl_ms); NULL after an error. */
static struct app_quota *cached_rule(struct iris_db *db, const struct iris_quota_defaults *d,
                                     struct iris_quota_cache *c, int64_t app,
                                     struct iris_err *err) {
  struct app_quota fresh, *q = NULL;
  size_t i;
  for (i = 0; i < c->n && !q; i++)
    if (c->v[i].app == app)
      q = &c->v[i];
  if (q && iris_clock_mono_ms() - q->loaded_ms < c->ttl_ms)
    return q;
  if (load_rule(db, d, app, &fresh, err))
    return NULL;
  if (q) { /* a new rule, the same count */
    fresh.based = q->based;
    fresh.usage_hard = q->usage_hard;
    fresh.usage_soft = q->usage_soft;
    fresh.pending = q->pending;
    *q = fresh;
    return q;
  }
  if (c->n == QUOTA_CACHE_MAX) { /* forget the rules with nothing pending */
    size_t k = 0;
    for (i = 0; i < c->n; i++)
      if (c->v[i].pending)
        c->v[k++] = c->v[i];
    c->n = k;
    if (c->n == QUOTA_CACHE_MAX) {
      iris_err_set(err, IRIS_ETOOBIG, "quota: more than %d applications between flushes",
                   QUOTA_CACHE_MAX);
      return NULL;
    }
  }
  c->v[c->n] = fresh;
  return &c->v[c->n++];
}

/* Write c's pending hits in one multi-row upsert (inside the caller's transaction, if any);
 * the cache is left as it was. */
static int write_pending(struct iris_db *db, struct iris_quota_cache *c, struct iris_err *err) {
  struct iris_buf sql;
  struct iris_db_param *p = NULL;
  size_t i, j = 0, k = 0;
  int rc;

  for (i = 0; i < c->n; i++)
    if (c->v[i].pending)
      k++;
  if (!k)
    return IRIS_OK;
  if (!(p = iris_calloc(k * 2, sizeof *p)))
    return iris_err_set(err, IRIS_ENOMEM, "quota: flush");
  iris_buf_init(&sql, 1 << 16);
  for (i = 0; i < c->n; i++) {
    if (!c->v[i].pending)
      continue;
    p[2 * j] = IRIS_DB_I64(c->v[i].app);
    p[2 * j + 1] = IRIS_DB_I64(c->v[i].pending);
    j++;
  }
  rc = iris_db_sql_rows(&sql,
                        "INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket,"
                        " hits) VALUES ",
                        "('application', ?, 0, DATE_FORMAT(UTC_TIMESTAMP(),"
                        " '%Y-%m-%d %H:%i:00'), ?)",
                        ", ", k, " ON DUPLICATE KEY UPDATE hits = hits + VALUES(hits)");
  if (rc)
    rc = iris_err_set(err, rc, "quota: flush");
  else
    rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, 2 * k, NULL, err);
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}

int iris_quota_pending(const struct iris_quota_cache *c) {
  size_t i;
  for (i = 0; c && i < c->n; i++)
    if (c->v[i].pending)
      return 1;
  return 0;
}

int iris_quota_write_pending(struct iris_db *db, struct iris_quota_cache *c, struct iris_err *err) {
  return c ? write_pending(db, c, err) : IRIS_OK;
}

void iris_quota_forget_pending(struct iris_quota_cache *c) {
  size_t i;
  for (i = 0; c && i < c->n; i++) {
    c->v[i].pending = 0;
    c->v[i].based = 0;
  }
}

int iris_quota_flush(struct iris_db *db, struct iris_quota_cache *c, struct iris_err *err) {
  int64_t dropped = 0;
  size_t i;
  int rc;

  if (!c)
    return IRIS_OK;
  rc = write_pending(db, c, err);
  for (i = 0; i < c->n; i++)
    dropped += c->v[i].pending;
  iris_quota_forget_pending(c);
  if (rc) {
    IRIS_LOG_WARN("quota: %lld hit(s) not counted: %s", (long long)dropped, err->msg);
    iris_err_prefix(err, "quota counters");
  }
  return rc;
}

/* Mark the verdict breached through flag (its hard_breach or soft_breach), with the usage,
 * limit and window in minutes of the quota it went over. */
static void breached(struct iris_quota_verdict *out, int *flag, int64_t usage, int64_t limit,
                     int64_t minutes) {
  *flag = 1;
  out->usage = usage;
  out->limit = limit;
  out->minutes = minutes;
}

int iris_quota_check(struct iris_db *db, const struct iris_quota_defaults *d,
                     struct iris_quota_cache *cache, int64_t app, const char *application,
                     struct iris_quota_verdict *out, struct iris_err *err) {
  struct app_quota own, *q = &own;
  int64_t hard, soft, hard_min, soft_min, wait, usage_hard, usage_soft;
  const char *plan;
  int rc = IRIS_OK;

  memset(out, 0, sizeof *out);
  if (cache) {
    if (!(q = cached_rule(db, d, cache, app, err)))
      return err->rc ? err->rc : IRIS_EDB;
    if (!q->based && (rc = read_usage(db, q, err)) != IRIS_OK)
      return rc;
    q->based = 1;
    q->pending++;
    q->usage_hard++;
    q->usage_soft++;
  } else {
    if ((rc = load_rule(db, d, app, q, err)) ||
        (rc = iris_quota_counter_hit(db, IRIS_QUOTA_SCOPE_APPLICATION, app, 0, err)) ||
        (rc = read_usage(db, q, err)))
      return rc;
  }
  hard = q->hard;
  soft = q->soft;
  hard_min = q->hard_min;
  soft_min = q->soft_min;
  wait = q->wait;
  usage_hard = q->usage_hard;
  usage_soft = q->usage_soft;
  plan = q->has_plan ? q->plan : NULL;
  snprintf(out->target, sizeof out->target, "%s", q->target);
  snprintf(out->target_role, sizeof out->target_role, "%s", q->target_role);
  if (usage_hard > hard) {
    int won = 0;
    breached(out, &out->hard_breach, usage_hard, hard, hard_min);
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
          struct iris_db_param up[] = {IRIS_DB_I64((int64_t)info.insert_id), IRIS_DB_I64(app)};
          out->breach_incident_id = (int64_t)info.insert_id;
          rc = iris_db_exec(db, 0,
                            "UPDATE sender_quota_state SET hard_incident_id = ? WHERE application_id = ?",
                            up, 2, NULL, err);
          IRIS_LOG_WARN("opened incident %lld on plan %s for %s's hard quota breach",
                        (long long)out->breach_incident_id, plan, application);
        }
      }
    }
    return rc;
  }
  if (usage_soft > soft) {
    int won = 0;
    breached(out, &out->soft_breach, usage_soft, soft, soft_min);
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
