/* aggregate.c — aggregation decisions and flushes (see aggregate.h). */
#include "aggregate.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "contact.h"
#include "contract.h"

#define IRIS_LOG_MODULE "aggregate"
#include "log.h"

#define KEY_LIMIT 1000
#define LANE_BUCKETS 1024
#define LANE_TTL_MS 60000 /* a user's mode preferences are read again after this (Iris: 60 s) */
#define LANE_MAX 100000   /* cache entries; the cache is emptied past it */

/* The lane chosen for (target, application, priority), remembered for LANE_TTL_MS. */
struct lane_entry {
  int64_t target, app, prio, expires_ms;
  char lane[64];
  struct lane_entry *next;
};

struct iris_aggregate {
  struct iris_db *db;                   /* borrowed */
  const struct iris_lease_fence *fence; /* borrowed, may be NULL */
  struct lane_entry *lanes[LANE_BUCKETS];
  size_t nlanes;
};

struct key {
  int64_t plan, app, prio, target;
  int64_t fresh; /* undecided markers (decide) / held markers (flush) */
  int64_t window, count, agg_window, reset;
  int aggregating;
  int64_t seen;    /* decided markers of the key within threshold_window */
  int64_t quiet_s; /* seconds since the key's last message, -1 if none */
  char mode[64];   /* the lane: the mode Iris would page the target by */
  char *target_name, *app_name, *prio_name; /* owned (free_keys) */
};

static void free_keys(struct key *keys, size_t n) {
  size_t i;
  for (i = 0; keys && i < n; i++) {
    iris_free(keys[i].target_name);
    iris_free(keys[i].app_name);
    iris_free(keys[i].prio_name);
  }
  iris_free(keys);
}

static void free_lanes(struct iris_aggregate *a) {
  size_t b;
  for (b = 0; b < LANE_BUCKETS; b++)
    while (a->lanes[b]) {
      struct lane_entry *x = a->lanes[b];
      a->lanes[b] = x->next;
      iris_free(x);
    }
  a->nlanes = 0;
}

int iris_aggregate_new(struct iris_db *db, const struct iris_lease_fence *fence,
                       struct iris_aggregate **out, struct iris_err *err) {
  struct iris_aggregate *a = iris_calloc(1, sizeof *a);
  *out = a;
  if (!a)
    return iris_err_set(err, IRIS_ENOMEM, "aggregate: handle");
  a->db = db;
  a->fence = fence;
  return IRIS_OK;
}

void iris_aggregate_free(struct iris_aggregate *a) {
  if (!a)
    return;
  free_lanes(a);
  iris_free(a);
}

/* The lane of a key: the mode its target is paged by for (application, priority) — Iris's
 * chain (contact.h), or email where Iris falls back to it. The sender resolves the mode
 * again when it sends; choosing the same lane here keeps a slow mode's queue to itself. */
static void choose_lane(struct iris_aggregate *a, struct key *k) {
  size_t b = (size_t)((uint64_t)(k->target * 31 + k->app * 7 + k->prio) % LANE_BUCKETS);
  int64_t now = iris_clock_mono_ms();
  struct lane_entry *x;
  struct iris_contact c = {0};
  struct iris_err cerr = {0};
  int rc;
  for (x = a->lanes[b]; x; x = x->next)
    if (x->target == k->target && x->app == k->app && x->prio == k->prio && x->expires_ms > now) {
      snprintf(k->mode, sizeof k->mode, "%s", x->lane);
      return;
    }
  rc = iris_contact_by_priority(a->db, k->target_name, k->app_name, k->prio, &c, &cerr);
  if (rc == IRIS_OK)
    snprintf(k->mode, sizeof k->mode, "%s", iris_contract_lane(c.mode));
  else if (rc == IRIS_ENOTFOUND)
    snprintf(k->mode, sizeof k->mode, "email");
  /* else: keep the priority's default mode (the sender decides anyway), and do not cache */
  iris_contact_cleanup(&c);
  if (rc != IRIS_OK && rc != IRIS_ENOTFOUND)
    return;
  if (a->nlanes >= LANE_MAX)
    free_lanes(a);
  for (x = a->lanes[b]; x; x = x->next)
    if (x->target == k->target && x->app == k->app && x->prio == k->prio)
      break; /* an expired entry: refresh it */
  if (!x && (x = iris_calloc(1, sizeof *x)) != NULL) {
    x->target = k->target, x->app = k->app, x->prio = k->prio;
    x->next = a->lanes[b];
    a->lanes[b] = x;
    a->nlanes++;
  }
  if (x) {
    x->expires_ms = now + LANE_TTL_MS;
    snprintf(x->lane, sizeof x->lane, "%s", k->mode);
  }
}

#define KEY_PARAMS(k) \
  IRIS_DB_I64((k)->plan), IRIS_DB_I64((k)->app), IRIS_DB_I64((k)->prio), IRIS_DB_I64((k)->target)
#define KEY_WHERE " plan_id = ? AND application_id = ? AND priority_id = ? AND target_id = ?"

static int read_keys(struct iris_db_rows *rows, struct key **out, size_t *n, struct iris_err *err) {
  size_t k = 0;
  int rc = IRIS_OK, r;
  *out = iris_calloc(iris_db_rows_count(rows) + 1, sizeof **out);
  if (!*out)
    return iris_err_set(err, IRIS_ENOMEM, "aggregate: keys");
  while (rc == IRIS_OK && (r = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    struct key *x = &(*out)[k++];
    int64_t v[10];
    const char *mode = "";
    size_t c;
    for (c = 0; c < 10 && rc == IRIS_OK; c++)
      rc = iris_db_is_null(rows, c) ? (v[c] = -1, IRIS_OK) : iris_db_get_i64(rows, c, &v[c], err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 10, &mode, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 11, &x->target_name, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 12, &x->app_name, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 13, &x->prio_name, err);
    if (rc == IRIS_OK && iris_db_rows_columns(rows) > 14)
      rc = iris_db_get_i64(rows, 14, &x->seen, err);
    x->plan = v[0], x->app = v[1], x->prio = v[2], x->target = v[3], x->fresh = v[4];
    x->window = v[5], x->count = v[6], x->agg_window = v[7], x->reset = v[8];
    x->aggregating = v[9] > 0;
    snprintf(x->mode, sizeof x->mode, "%s", mode);
  }
  if (rc == IRIS_OK && r != IRIS_OK && r != IRIS_DB_ROW)
    rc = r;
  *n = k;
  return rc;
}

/* Seconds since the key's last message (-1: never). */
static int quiet_seconds(struct iris_db *db, struct key *k, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {KEY_PARAMS(k)};
  int rc = iris_db_query(db, 0,
                         "SELECT TIMESTAMPDIFF(SECOND, last_message_at, UTC_TIMESTAMP(3))"
                         " FROM sender_aggregation WHERE" KEY_WHERE,
                         p, 4, &rows, err);
  k->quiet_s = -1;
  if (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
    rc = iris_db_is_null(rows, 0) ? IRIS_OK : iris_db_get_i64(rows, 0, &k->quiet_s, err);
  iris_db_rows_free(rows);
  return rc;
}

/* Give up to `limit` (-1: all) undecided markers of the key their lane, oldest first. */
static int release_new(struct iris_db *db, const struct key *k, int64_t limit, int64_t *done,
                       struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_param p[] = {IRIS_DB_STR(k->mode), KEY_PARAMS(k),
                              IRIS_DB_I64(limit < 0 ? INT64_MAX : limit)};
  int rc = iris_db_exec(db, 0,
                        "UPDATE sender_enqueue SET lane = ?, next_attempt_at = UTC_TIMESTAMP(3)"
                        " WHERE" KEY_WHERE " AND state = 'pending' AND lane IS NULL"
                        " ORDER BY message_id LIMIT ?",
                        p, 6, &info, err);
  *done = (int64_t)info.affected_rows;
  return rc;
}

/* Hold every undecided marker of the key for its next flush; *n = how many. */
static int hold_new(struct iris_db *db, const struct key *k, int64_t *n, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_param p[] = {KEY_PARAMS(k)};
  int rc =
      iris_db_exec(db, 0,
                   "UPDATE sender_enqueue SET state = 'held', next_attempt_at = NULL WHERE" KEY_WHERE
                   " AND state = 'pending' AND lane IS NULL",
                   p, 4, &info, err);
  *n = (int64_t)info.affected_rows;
  return rc;
}

/* Begin a transaction fenced by the coordinator's lease. */
static int begin(struct iris_db *db, const struct iris_lease_fence *fence, struct iris_err *err) {
  int rc = iris_db_begin(db, err);
  if (rc == IRIS_OK && (rc = iris_lease_check(db, fence, err)) != IRIS_OK)
    (void)iris_db_rollback(db, NULL);
  return rc;
}

/* Decide one key's new markers (one transaction). */
static int decide_key(struct iris_db *db, const struct iris_lease_fence *fence, struct key *k,
                      struct iris_aggregate_stats *st, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  int64_t seen = 0, allow, released = 0;
  int rc = begin(db, fence, err);
  if (rc == IRIS_OK && k->aggregating)
    rc = quiet_seconds(db, k, err);
  if (rc == IRIS_OK && k->aggregating && k->reset >= 0 && k->quiet_s > k->reset) {
    /* Quiet for longer than aggregation_reset: leave aggregation mode (held messages, if
     * any, still flush on the key's schedule). */
    struct iris_db_param p[] = {KEY_PARAMS(k), KEY_PARAMS(k)};
    rc = iris_db_exec(db, 0,
                      "UPDATE sender_aggregation SET aggregating_since = NULL,"
                      " updated_at = UTC_TIMESTAMP(3) WHERE" KEY_WHERE
                      " AND NOT EXISTS (SELECT 1 FROM sender_enqueue e WHERE e.plan_id = ?"
                      " AND e.application_id = ? AND e.priority_id = ? AND e.target_id = ?"
                      " AND e.state = 'held')",
                      p, 8, &info, err);
    if (rc == IRIS_OK && info.affected_rows == 1) {
      k->aggregating = 0;
      st->reset++;
    }
  }
  if (rc == IRIS_OK && k->aggregating) {
    int64_t held = 0;
    rc = hold_new(db, k, &held, err);
    if (rc == IRIS_OK) {
      struct iris_db_param q[] = {IRIS_DB_I64(held), KEY_PARAMS(k)};
      st->held += (int)held;
      rc = iris_db_exec(db, 0,
                        "UPDATE sender_aggregation SET last_message_at = UTC_TIMESTAMP(3),"
                        " messages_held = messages_held + ?, updated_at = UTC_TIMESTAMP(3)"
                        " WHERE" KEY_WHERE,
                        q, 5, NULL, err);
    }
    goto done;
  }
  if (rc)
    goto done;
  if (k->count <= 0 || k->window <= 0) {
    rc = release_new(db, k, -1, &released, err); /* the plan does not aggregate */
    st->decided += (int)released;
    goto done;
  }
  {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {KEY_PARAMS(k), IRIS_DB_I64(k->window)};
    rc = iris_db_query(db, 0,
                       "SELECT COUNT(*) FROM sender_enqueue WHERE" KEY_WHERE
                       " AND created_at >= UTC_TIMESTAMP(3) - INTERVAL ? SECOND"
                       " AND NOT (state = 'pending' AND lane IS NULL)",
                       p, 5, &rows, err);
    if (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
      rc = iris_db_get_i64(rows, 0, &seen, err);
    iris_db_rows_free(rows);
    if (rc)
      goto done;
  }
  allow = k->count - seen;
  if (allow >= k->fresh) {
    rc = release_new(db, k, -1, &released, err);
    st->decided += (int)released;
    goto done;
  }
  if (allow > 0) {
    rc = release_new(db, k, allow, &released, err);
    st->decided += (int)released;
  }
  /* The threshold is crossed: the rest wait for the key's first flush. */
  if (rc == IRIS_OK) {
    int64_t held = 0, window = k->agg_window > 0 ? k->agg_window : 0;
    struct iris_db_param p[8];
    rc = hold_new(db, k, &held, err);
    if (rc)
      goto done;
    p[0] = IRIS_DB_I64(k->plan), p[1] = IRIS_DB_I64(k->app), p[2] = IRIS_DB_I64(k->prio);
    p[3] = IRIS_DB_I64(k->target), p[4] = IRIS_DB_I64(window), p[5] = IRIS_DB_I64(held);
    p[6] = IRIS_DB_I64(window), p[7] = IRIS_DB_I64(held);
    st->held += (int)held;
    st->started++;
    rc = iris_db_exec(db, 0,
                      "INSERT INTO sender_aggregation (plan_id, application_id, priority_id,"
                      " target_id, aggregating_since, last_message_at, last_flush_at,"
                      " next_flush_at, messages_held) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3),"
                      " UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND, ?)"
                      " ON DUPLICATE KEY UPDATE aggregating_since = UTC_TIMESTAMP(3),"
                      " last_message_at = UTC_TIMESTAMP(3), last_flush_at = UTC_TIMESTAMP(3),"
                      " next_flush_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                      " messages_held = ?, updated_at = UTC_TIMESTAMP(3)",
                      p, 8, NULL, err);
  }
  if (rc == IRIS_OK) {
    /* Iris's audit entry, on the message that started aggregation. */
    char desc[200];
    struct iris_db_param p[] = {IRIS_DB_STR(desc), KEY_PARAMS(k)};
    snprintf(desc, sizeof desc, "Aggregated with key (%" PRId64 ", %s, %s, %s)", k->plan,
             k->app_name, k->prio_name, k->target_name);
    rc = iris_db_exec(db, 0,
                      "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                      " description) SELECT UTC_TIMESTAMP(), message_id, 'sent-change', '', '', ?"
                      " FROM sender_enqueue WHERE" KEY_WHERE " AND state = 'held'"
                      " ORDER BY message_id LIMIT 1",
                      p, 5, NULL, err);
    IRIS_LOG_INFO("key (plan %" PRId64 ", app %" PRId64 ", priority %" PRId64 ", target %" PRId64
                  ") crossed %" PRId64 " messages in %" PRId64 " s: aggregating",
                  k->plan, k->app, k->prio, k->target, k->count, k->window);
  }
done:
  if (rc == IRIS_OK)
    return iris_db_commit(db, err);
  (void)iris_db_rollback(db, NULL);
  return rc;
}

static int random_batch_id(char out[33], struct iris_err *err) {
  unsigned char b[16];
  size_t i;
  if (RAND_bytes(b, sizeof b) != 1)
    return iris_err_set(err, IRIS_EIO, "aggregate: no random bytes for a batch id");
  for (i = 0; i < sizeof b; i++)
    snprintf(out + 2 * i, 3, "%02x", b[i]);
  return IRIS_OK;
}

/* Flush one key whose window has passed (one transaction). */
static int flush_key(struct iris_db *db, const struct iris_lease_fence *fence, const struct key *k,
                     struct iris_aggregate_stats *st, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  int64_t held = 0;
  int rc = begin(db, fence, err);
  if (rc == IRIS_OK) {
    /* Members whose incident was claimed meanwhile are settled, not sent. */
    struct iris_db_param p[] = {KEY_PARAMS(k)};
    rc = iris_db_exec(db, 0,
                      "UPDATE sender_enqueue e JOIN message m ON m.id = e.message_id"
                      " SET e.state = 'done', e.done_at = UTC_TIMESTAMP(3) WHERE e.plan_id = ?"
                      " AND e.application_id = ? AND e.priority_id = ? AND e.target_id = ?"
                      " AND e.state = 'held' AND (m.active = 0 OR m.sent IS NOT NULL)",
                      p, 4, NULL, err);
  }
  if (rc == IRIS_OK) {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {KEY_PARAMS(k)};
    rc = iris_db_query(db, 0,
                       "SELECT COUNT(*) FROM sender_enqueue WHERE" KEY_WHERE " AND state = 'held'",
                       p, 4, &rows, err);
    if (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
      rc = iris_db_get_i64(rows, 0, &held, err);
    iris_db_rows_free(rows);
  }
  if (rc == IRIS_OK && held > 0) {
    char batch[33] = "";
    struct iris_db_param p[] = {IRIS_DB_STR(k->mode), IRIS_DB_STR(held > 1 ? batch : NULL),
                                KEY_PARAMS(k), IRIS_DB_I64(IRIS_CONTRACT_MAX_BATCH)};
    if (held > 1)
      rc = random_batch_id(batch, err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(db, 0,
                        "UPDATE sender_enqueue SET state = 'pending', lane = ?, batch_id = ?,"
                        " next_attempt_at = UTC_TIMESTAMP(3) WHERE" KEY_WHERE " AND state = 'held'"
                        " ORDER BY message_id LIMIT ?",
                        p, 7, &info, err);
    if (rc == IRIS_OK) {
      st->released += (int)info.affected_rows;
      if (held > 1)
        st->batches++;
      IRIS_LOG_INFO("key (plan %" PRId64 ", target %" PRId64 "): %" PRId64 " held message(s) "
                    "released%s%s",
                    k->plan, k->target, (int64_t)info.affected_rows, held > 1 ? " as batch " : "",
                    batch);
    }
  }
  if (rc == IRIS_OK) {
    /* Next window; leave aggregation mode when the key has been quiet for aggregation_reset
     * and nothing is held any more. */
    struct iris_db_param p[] = {IRIS_DB_I64(k->agg_window > 0 ? k->agg_window : 0),
                                IRIS_DB_I64(held > 1 ? 1 : 0), IRIS_DB_I64(k->reset),
                                KEY_PARAMS(k), KEY_PARAMS(k)};
    rc = iris_db_exec(db, 0,
                      "UPDATE sender_aggregation SET last_flush_at = UTC_TIMESTAMP(3),"
                      " next_flush_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                      " batches_flushed = batches_flushed + ?,"
                      " aggregating_since = IF(last_message_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND"
                      "  AND NOT EXISTS (SELECT 1 FROM sender_enqueue e WHERE e.plan_id = ?"
                      "  AND e.application_id = ? AND e.priority_id = ? AND e.target_id = ?"
                      "  AND e.state = 'held'), NULL, aggregating_since),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE" KEY_WHERE,
                      p, 11, NULL, err);
  }
  if (rc == IRIS_OK)
    return iris_db_commit(db, err);
  (void)iris_db_rollback(db, NULL);
  return rc;
}

/* Keys far from their threshold and not aggregating (the common case): their new markers
 * simply get their lane, all such keys of a pass in one transaction. */
static int simple_key(const struct key *k) {
  return !k->aggregating && (k->count <= 0 || k->window <= 0 || k->seen + k->fresh <= k->count);
}

static int release_simple(struct iris_aggregate *a, struct key *keys, size_t n,
                          struct iris_aggregate_stats *st, struct iris_err *err) {
  size_t i, m = 0;
  int rc;
  for (i = 0; i < n; i++)
    m += keys[i].mode[0] && simple_key(&keys[i]);
  if (!m)
    return IRIS_OK;
  rc = begin(a->db, a->fence, err);
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    int64_t released = 0;
    if (!keys[i].mode[0] || !simple_key(&keys[i]))
      continue;
    rc = release_new(a->db, &keys[i], -1, &released, err);
    st->decided += (int)released;
  }
  if (rc == IRIS_OK)
    return iris_db_commit(a->db, err);
  (void)iris_db_rollback(a->db, NULL);
  return rc;
}

static int each_key(struct iris_aggregate *a, int64_t deadline_ms, const char *sql, int flush,
                    struct iris_aggregate_stats *st, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(KEY_LIMIT)};
  struct key *keys = NULL;
  size_t n = 0, i;
  int rc = iris_db_query(a->db, IRIS_DB_IDEMPOTENT, sql, p, 1, &rows, err);
  if (rc == IRIS_OK)
    rc = read_keys(rows, &keys, &n, err);
  iris_db_rows_free(rows);
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    if (deadline_ms > 0 && iris_clock_mono_ms() >= deadline_ms)
      break; /* the rest is decided next tick (a key without a lane is skipped) */
    choose_lane(a, &keys[i]);
  }
  for (; i < n; i++)
    keys[i].mode[0] = '\0';
  if (rc == IRIS_OK && !flush)
    rc = release_simple(a, keys, n, st, err);
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    struct iris_err kerr = {0};
    int krc;
    if (!keys[i].mode[0] || (!flush && simple_key(&keys[i])))
      continue;
    krc = flush ? flush_key(a->db, a->fence, &keys[i], st, &kerr)
                : decide_key(a->db, a->fence, &keys[i], st, &kerr);
    if (krc == IRIS_ENOMEM || krc == IRIS_EFENCED) {
      rc = iris_err_set(err, krc, "%s", kerr.msg);
    } else if (krc) {
      st->failed++;
      IRIS_LOG_ERR("aggregation key (plan %" PRId64 ", app %" PRId64 ", priority %" PRId64
                   ", target %" PRId64 "): %s (retried next tick)",
                   keys[i].plan, keys[i].app, keys[i].prio, keys[i].target, kerr.msg);
    }
  }
  free_keys(keys, n);
  return rc;
}

int iris_aggregate_tick(struct iris_aggregate *a, int64_t deadline_ms,
                        struct iris_aggregate_stats *st, struct iris_err *err) {
  struct iris_db *db = a->db;
  struct iris_db_exec_info info = {0};
  int rc;
  memset(st, 0, sizeof *st);
  /* Messages without a plan (the API's replies, Twilio retries) are never aggregated: their
   * lane is their own mode if they have one, else their priority's. */
  rc = iris_db_exec(db, 0,
                    "UPDATE sender_enqueue e JOIN message m ON m.id = e.message_id"
                    " JOIN priority pr ON pr.id = e.priority_id"
                    " JOIN mode mo ON mo.id = IFNULL(m.mode_id, pr.mode_id) SET e.lane = mo.name"
                    " WHERE e.state = 'pending' AND e.lane IS NULL AND e.plan_id IS NULL",
                    NULL, 0, &info, err);
  if (rc)
    return rc;
  st->decided += (int)info.affected_rows;
  /* New markers of plan messages, per key. */
  rc = each_key(a, deadline_ms,
                "SELECT e.plan_id, e.application_id, e.priority_id, e.target_id, COUNT(*),"
                " p.threshold_window, p.threshold_count, p.aggregation_window,"
                " p.aggregation_reset, (a.aggregating_since IS NOT NULL), mo.name, t.name,"
                " ap.name, pr.name, (SELECT COUNT(*) FROM sender_enqueue s WHERE"
                "  s.plan_id = e.plan_id AND s.application_id = e.application_id"
                "  AND s.priority_id = e.priority_id AND s.target_id = e.target_id"
                "  AND s.created_at >= UTC_TIMESTAMP(3) - INTERVAL p.threshold_window SECOND"
                "  AND NOT (s.state = 'pending' AND s.lane IS NULL))"
                " FROM sender_enqueue e JOIN plan p ON p.id = e.plan_id"
                " JOIN priority pr ON pr.id = e.priority_id JOIN mode mo ON mo.id = pr.mode_id"
                " JOIN target t ON t.id = e.target_id JOIN application ap ON ap.id = e.application_id"
                " LEFT JOIN sender_aggregation a ON a.plan_id = e.plan_id"
                "  AND a.application_id = e.application_id AND a.priority_id = e.priority_id"
                "  AND a.target_id = e.target_id"
                " WHERE e.state = 'pending' AND e.lane IS NULL"
                " GROUP BY e.plan_id, e.application_id, e.priority_id, e.target_id,"
                "  p.threshold_window, p.threshold_count, p.aggregation_window,"
                "  p.aggregation_reset, a.aggregating_since, mo.name, t.name, ap.name, pr.name"
                " LIMIT ?",
                0, st, err);
  if (rc)
    return rc;
  /* Keys whose aggregation window has passed. */
  return each_key(a, deadline_ms,
                  "SELECT a.plan_id, a.application_id, a.priority_id, a.target_id, 0,"
                  " p.threshold_window, p.threshold_count, p.aggregation_window,"
                  " p.aggregation_reset, 1, mo.name, t.name, ap.name, pr.name"
                  " FROM sender_aggregation a"
                  " JOIN plan p ON p.id = a.plan_id JOIN priority pr ON pr.id = a.priority_id"
                  " JOIN mode mo ON mo.id = pr.mode_id JOIN target t ON t.id = a.target_id"
                  " JOIN application ap ON ap.id = a.application_id"
                  " WHERE a.aggregating_since IS NOT NULL AND a.next_flush_at <= UTC_TIMESTAMP(3)"
                  " ORDER BY a.next_flush_at LIMIT ?",
                  1, st, err);
}
