/* claim.c — idempotent delivery claims (see claim.h). */
#include "claim.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

#define IRIS_LOG_MODULE "claim"
#include "log.h"

#define MAX_RETRY_MS ((int64_t)43200 * 1000)

int iris_claim_take(struct iris_db *db, const struct iris_claim *c, enum iris_claim_outcome *out,
                    int *busy_seconds, int *attempts, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_rows *rows = NULL;
  int rc;
  const char *state = NULL;
  int64_t final = 0, wait = 0, tries = 0, takeover = 0;

  *out = IRIS_CLAIM_BUSY;
  if (busy_seconds)
    *busy_seconds = 0;
  if (attempts)
    *attempts = 0;
  {
    struct iris_db_param p[] = {IRIS_DB_STR(c->key),
                                IRIS_DB_STR(c->kind),
                                c->message_id ? IRIS_DB_I64(c->message_id) : IRIS_DB_NULL,
                                IRIS_DB_STR(c->batch_id),
                                IRIS_DB_STR(c->lane),
                                IRIS_DB_STR(c->owner),
                                IRIS_DB_I64(c->lease_seconds),
                                IRIS_DB_STR(c->sqs_message_id)};
    rc = iris_db_exec(db, 0,
                      "INSERT IGNORE INTO sender_claim (claim_key, kind, message_id, batch_id, lane,"
                      " state, owner, lease_expires_at, sqs_message_id, created_at, updated_at)"
                      " VALUES (?, ?, ?, ?, ?, 'claimed', ?,"
                      " UTC_TIMESTAMP(3) + INTERVAL ? SECOND, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
                      p, 8, &info, err);
    if (rc)
      return iris_err_prefix(err, "claim %s", c->key);
  }
  if (info.affected_rows == 1) {
    *out = IRIS_CLAIM_TAKEN;
    return IRIS_OK;
  }
  {
    /* Take over a dead holder's claim, or a retryable failure whose wait is over. */
    struct iris_db_param p[] = {IRIS_DB_STR(c->owner), IRIS_DB_I64(c->lease_seconds),
                                IRIS_DB_STR(c->sqs_message_id), IRIS_DB_STR(c->key),
                                IRIS_DB_I64(c->due_now ? 1 : 0)};
    rc = iris_db_exec(db, 0,
                      "UPDATE sender_claim SET"
                      " takeovers = takeovers"
                      "  + (@iris_claim_takeover := IF(state IN ('claimed','sending'), 1, 0)),"
                      " state = 'claimed', owner = ?,"
                      " lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                      " sqs_message_id = ?, updated_at = UTC_TIMESTAMP(3)"
                      " WHERE claim_key = ? AND ("
                      "  (state IN ('claimed','sending') AND lease_expires_at < UTC_TIMESTAMP(3))"
                      "  OR (state = 'failed' AND final = 0 AND (next_attempt_at IS NULL"
                      "      OR next_attempt_at <= UTC_TIMESTAMP(3) OR ? = 1)))",
                      p, 5, &info, err);
    if (rc)
      return iris_err_prefix(err, "claim %s takeover", c->key);
  }
  {
    struct iris_db_param p[] = {IRIS_DB_STR(c->key)};
    rc = iris_db_query_one(db, IRIS_DB_IDEMPOTENT,
                           "SELECT state, final, attempts,"
                           " CAST(GREATEST(0, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3),"
                           "  COALESCE(IF(state = 'failed', next_attempt_at, lease_expires_at),"
                           "  UTC_TIMESTAMP(3))) / 1000000)) AS SIGNED),"
                           " CAST(COALESCE(@iris_claim_takeover, 0) AS SIGNED)"
                           " FROM sender_claim WHERE claim_key = ?",
                           p, 1, &rows, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 0, &state, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &final, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 2, &tries, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 3, &wait, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 4, &takeover, err);
  }
  if (rc) {
    iris_db_rows_free(rows);
    return iris_err_prefix(err, "claim %s state", c->key);
  }
  if (info.affected_rows == 1) {
    *out = IRIS_CLAIM_TAKEN;
    if (attempts)
      *attempts = (int)tries;
    /* Only a claim whose holder vanished is a takeover (the window that can send twice); a
     * retry that was due is the ordinary path. */
    if (takeover)
      IRIS_LOG_WARN("claim %s taken over from a holder whose lease expired (attempts so far "
                    "%lld)",
                    c->key, (long long)tries);
    else
      IRIS_LOG_INFO("claim %s taken again for its retry (attempts so far %lld)", c->key,
                    (long long)tries);
  } else if (strcmp(state, "sent") == 0 || strcmp(state, "suppressed") == 0 ||
             (strcmp(state, "failed") == 0 && final)) {
    *out = IRIS_CLAIM_SETTLED;
  } else {
    *out = IRIS_CLAIM_BUSY;
    if (busy_seconds)
      *busy_seconds = (int)(wait > 0 ? wait : 1);
  }
  iris_db_rows_free(rows);
  return IRIS_OK;
}

#define TAKE_MANY_COLUMNS 8

static int by_key(const void *a, const void *b) {
  return strcmp((*(const struct iris_claim *const *)a)->key,
                (*(const struct iris_claim *const *)b)->key);
}

int iris_claim_take_many(struct iris_db *db, const struct iris_claim *c, size_t n, int *taken,
                         struct iris_err *err) {
  struct iris_buf ins, sel;
  struct iris_db_param *p = NULL, *q = NULL;
  struct iris_db_rows *rows = NULL;
  const struct iris_claim **sorted = NULL;
  struct iris_db_exec_info info = {0};
  size_t i;
  int rc;

  for (i = 0; i < n; i++)
    taken[i] = 0;
  if (!n)
    return IRIS_OK;
  iris_buf_init(&ins, 0);
  iris_buf_init(&sel, 0);
  /* Statements assembled from placeholders only; a failed append latches (checked once). */
  rc = iris_buf_appends(&ins, "INSERT IGNORE INTO sender_claim (claim_key, kind, message_id,"
                              " batch_id, lane, state, owner, lease_expires_at, sqs_message_id,"
                              " created_at, updated_at) VALUES ");
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&sel, "SELECT claim_key, owner, state FROM sender_claim"
                                " WHERE claim_key IN (");
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    rc = iris_buf_appends(&ins, i ? ", (?, ?, ?, ?, ?, 'claimed', ?, UTC_TIMESTAMP(3) + INTERVAL"
                                    " ? SECOND, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))"
                                  : "(?, ?, ?, ?, ?, 'claimed', ?, UTC_TIMESTAMP(3) + INTERVAL"
                                    " ? SECOND, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))");
    if (rc == IRIS_OK)
      rc = iris_buf_appends(&sel, i ? ", ?" : "?");
  }
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(&sel, ')');
  p = rc ? NULL : iris_calloc(n * TAKE_MANY_COLUMNS, sizeof *p);
  q = rc ? NULL : iris_calloc(n, sizeof *q);
  sorted = rc ? NULL : iris_calloc(n, sizeof *sorted);
  if (rc || !p || !q || !sorted) {
    rc = iris_err_set(err, IRIS_ENOMEM, "claims: assembling the batch's statements");
    goto out;
  }
  /* Rows locked in ascending key, the lock order of every writer (docs/coordinator.md). */
  for (i = 0; i < n; i++)
    sorted[i] = &c[i];
  qsort(sorted, n, sizeof *sorted, by_key);
  for (i = 0; i < n; i++) {
    struct iris_db_param *r = p + i * TAKE_MANY_COLUMNS;
    const struct iris_claim *ci = sorted[i];
    r[0] = IRIS_DB_STR(ci->key);
    r[1] = IRIS_DB_STR(ci->kind);
    r[2] = ci->message_id ? IRIS_DB_I64(ci->message_id) : IRIS_DB_NULL;
    r[3] = IRIS_DB_STR(ci->batch_id);
    r[4] = IRIS_DB_STR(ci->lane);
    r[5] = IRIS_DB_STR(ci->owner);
    r[6] = IRIS_DB_I64(ci->lease_seconds);
    r[7] = IRIS_DB_STR(ci->sqs_message_id);
    q[i] = IRIS_DB_STR(ci->key);
  }
  /* IGNORE also skips a row whose message is gone (foreign key): that record finds out by
   * itself, as with iris_claim_take. */
  rc = iris_db_exec(db, 0, iris_buf_ptr(&ins), p, n * TAKE_MANY_COLUMNS, &info, err);
  if (rc == IRIS_OK && info.affected_rows == n) {
    /* Every row inserted (the keys are distinct): all ours, no need to read them back — the
     * usual case, a batch's first delivery. */
    for (i = 0; i < n; i++)
      taken[i] = 1;
    goto out;
  }
  if (rc == IRIS_OK)
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sel), q, n, &rows, err);
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *key = NULL, *owner = NULL, *state = NULL;
    rc = iris_db_get_str(rows, 0, &key, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 1, &owner, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 2, &state, NULL, err);
    /* Owners are unique per attempt: ours and still 'claimed' means this call inserted it. */
    for (i = 0; rc == IRIS_OK && i < n; i++)
      if (strcmp(c[i].key, key) == 0 && strcmp(c[i].owner, owner) == 0 &&
          strcmp(state, "claimed") == 0)
        taken[i] = 1;
  }
  if (rc) {
    for (i = 0; i < n; i++)
      taken[i] = 0;
    rc = iris_err_prefix(err, "claims of a batch of %zu", n);
  }
out:
  iris_db_rows_free(rows);
  iris_free(sorted);
  iris_free(p);
  iris_free(q);
  iris_buf_cleanup(&ins);
  iris_buf_cleanup(&sel);
  return rc;
}

/* UPDATE … WHERE claim_key = ? AND owner = ?: 0 rows means the claim is no longer ours. */
static int owned_update(struct iris_db *db, const struct iris_claim *c, const char *sql,
                        struct iris_db_param *p, size_t n, const char *what,
                        struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  int rc = iris_db_exec(db, 0, sql, p, n, &info, err);
  if (rc)
    return iris_err_prefix(err, "claim %s %s", c->key, what);
  if (info.affected_rows != 1)
    return iris_err_set(err, IRIS_ESTATE,
                        "claim %s: no longer held by %s (lease expired and taken over?)", c->key,
                        c->owner);
  return IRIS_OK;
}

int iris_claim_sending(struct iris_db *db, const struct iris_claim *c, const char *mode,
                       const char *vendor, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(mode), IRIS_DB_STR(vendor),
                              IRIS_DB_I64(c->lease_seconds), IRIS_DB_STR(c->key),
                              IRIS_DB_STR(c->owner)};
  return owned_update(db, c,
                      "UPDATE sender_claim SET state = 'sending', attempts = attempts + 1,"
                      " mode = ?, vendor = ?, lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                      " updated_at = UTC_TIMESTAMP(3)"
                      " WHERE claim_key = ? AND owner = ? AND state IN ('claimed','sending')",
                      p, 5, "sending", err);
}

/* One row of a *_many statement's parameters, in the order its SELECT names them: key, owner,
 * mode, vendor, then last (the lease, or the vendor's message id). */
/* UPDATE sender_claim SET <set> <mid> claim_key IN (the n claims) AND owner = (each one's)
 * <tail> (iris_db_update_keyed; keys[] and owners[] are the caller's, n each). what names
 * the change in errors: "claims: n <what>". */
static int owned_update_many(struct iris_db *db, const struct iris_db_param *keys,
                             const struct iris_db_param *owners, size_t n,
                             const struct iris_db_keyed *set, size_t nset, const char *mid,
                             const char *tail, const char *what, struct iris_db_exec_info *info,
                             struct iris_err *err) {
  const struct iris_db_keyed owner = {" AND owner =", "", owners};
  int rc = iris_db_update_keyed(db, "UPDATE sender_claim SET", "claim_key", keys, n, set, nset,
                                mid, &owner, 1, tail, info, err);
  if (rc)
    iris_err_prefix(err, "claims: %zu %s", n, what);
  return rc;
}

int iris_claim_sending_many(struct iris_db *db, const struct iris_claim_sending_row *rows,
                            size_t n, int *ok, struct iris_err *err) {
  struct iris_buf sql;
  struct iris_db_param *p = NULL, *v = NULL;
  struct iris_db_exec_info info = {0};
  struct iris_db_rows *held = NULL;
  size_t i;
  int rc;

  for (i = 0; i < n; i++)
    ok[i] = 0;
  if (!n)
    return IRIS_OK;
  iris_buf_init(&sql, 1 << 16);
  if (!(p = iris_calloc(n, sizeof *p)) || !(v = iris_calloc(4 * n, sizeof *v))) {
    rc = iris_err_set(err, IRIS_ENOMEM, "claims: %zu sending", n);
    goto out;
  }
  for (i = 0; i < n; i++) { /* keys, owners, then one column per value */
    p[i] = IRIS_DB_STR(rows[i].c->key);
    v[i] = IRIS_DB_STR(rows[i].c->owner);
    v[n + i] = IRIS_DB_STR(rows[i].mode);
    v[2 * n + i] = IRIS_DB_STR(rows[i].vendor);
    v[3 * n + i] = IRIS_DB_I64(rows[i].c->lease_seconds);
  }
  {
    const struct iris_db_keyed set[] =
        {{" state = 'sending', attempts = attempts + 1, mode =", ",", v + n},
         {" vendor =", ",", v + 2 * n},
         {" lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL", " SECOND,", v + 3 * n}};
    rc = owned_update_many(db, p, v, n, set, 3, " updated_at = UTC_TIMESTAMP(3) WHERE",
                           " AND state IN ('claimed','sending')", "sending", &info, err);
  }
  if (rc)
    goto out;
  if (info.affected_rows == n) {
    for (i = 0; i < n; i++)
      ok[i] = 1;
    goto out;
  }
  /* Some were taken over: which are ours (and so now sending)? */
  iris_buf_reset(&sql);
  for (i = 0; i < n; i++)
    p[i] = IRIS_DB_STR(rows[i].c->key);
  if ((rc = iris_db_sql_rows(&sql,
                             "SELECT claim_key, owner, state FROM sender_claim"
                             " WHERE claim_key IN (",
                             "?", ", ", n, ")")) != IRIS_OK) {
    rc = iris_err_set(err, rc, "claims: %zu sending", n);
    goto out;
  }
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sql), p, n, &held, err);
  while (rc == IRIS_OK && (rc = iris_db_next(held, err)) == IRIS_DB_ROW) {
    const char *key = NULL, *owner = NULL, *state = NULL;
    if ((rc = iris_db_get_str(held, 0, &key, NULL, err)) ||
        (rc = iris_db_get_str(held, 1, &owner, NULL, err)) ||
        (rc = iris_db_get_str(held, 2, &state, NULL, err)))
      break;
    for (i = 0; i < n; i++)
      if (strcmp(rows[i].c->key, key) == 0)
        ok[i] = strcmp(rows[i].c->owner, owner) == 0 && strcmp(state, "sending") == 0;
  }
  if (rc)
    for (i = 0; i < n; i++)
      ok[i] = 0;
out:
  iris_db_rows_free(held);
  iris_buf_cleanup(&sql);
  iris_free(p);
  iris_free(v);
  return rc;
}

int iris_claim_unsend(struct iris_db *db, const struct iris_claim *c, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(c->key), IRIS_DB_STR(c->owner)};
  return owned_update(db, c,
                      "UPDATE sender_claim SET state = 'claimed', attempts = attempts - 1,"
                      " updated_at = UTC_TIMESTAMP(3)"
                      " WHERE claim_key = ? AND owner = ? AND state = 'sending'",
                      p, 2, "back to claimed", err);
}

int iris_claim_sent(struct iris_db *db, const struct iris_claim *c, const char *mode,
                    const char *vendor, const char *vendor_message_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(mode), IRIS_DB_STR(vendor),
                              IRIS_DB_STR(vendor_message_id), IRIS_DB_STR(c->key),
                              IRIS_DB_STR(c->owner)};
  return owned_update(db, c,
                      "UPDATE sender_claim SET state = 'sent', final = 1, mode = ?, vendor = ?,"
                      " vendor_message_id = NULLIF(?, ''), last_error = NULL,"
                      " finished_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)"
                      " WHERE claim_key = ? AND owner = ?",
                      p, 5, "sent", err);
}

int iris_claim_sent_many(struct iris_db *db, const struct iris_claim_sent_row *rows, size_t n,
                         struct iris_err *err) {
  struct iris_db_param *v = NULL;
  struct iris_db_exec_info info = {0};
  size_t i;
  int rc;

  if (!n)
    return IRIS_OK;
  if (!(v = iris_calloc(5 * n, sizeof *v)))
    return iris_err_set(err, IRIS_ENOMEM, "claims: %zu sent", n);
  for (i = 0; i < n; i++) { /* keys, owners, then one column per value */
    v[i] = IRIS_DB_STR(rows[i].c->key);
    v[n + i] = IRIS_DB_STR(rows[i].c->owner);
    v[2 * n + i] = IRIS_DB_STR(rows[i].mode);
    v[3 * n + i] = IRIS_DB_STR(rows[i].vendor);
    v[4 * n + i] = IRIS_DB_STR(rows[i].vendor_message_id);
  }
  {
    const struct iris_db_keyed set[] = {{" state = 'sent', final = 1, mode =", ",", v + 2 * n},
                                        {" vendor =", ",", v + 3 * n},
                                        {" vendor_message_id = NULLIF(", ", ''),", v + 4 * n}};
    rc = owned_update_many(db, v, v + n, n, set, 3,
                           " last_error = NULL, finished_at = UTC_TIMESTAMP(3),"
                           " updated_at = UTC_TIMESTAMP(3) WHERE",
                           "", "sent", &info, err);
  }
  if (rc == IRIS_OK && info.affected_rows != n)
    rc = iris_err_set(err, IRIS_ESTATE, "claims: %llu of %zu sent claims still ours",
                      (unsigned long long)info.affected_rows, n);
  iris_free(v);
  return rc;
}

int iris_claim_suppressed(struct iris_db *db, const struct iris_claim *c, const char *reason,
                          struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(reason), IRIS_DB_STR(c->key), IRIS_DB_STR(c->owner)};
  return owned_update(db, c,
                      "UPDATE sender_claim SET state = 'suppressed', final = 1,"
                      " last_error = LEFT(?, 1024), finished_at = UTC_TIMESTAMP(3),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE claim_key = ? AND owner = ?",
                      p, 3, "suppressed", err);
}

/* state → failed (final or retryable after retry_after_ms); only_claimed: only from
 * 'claimed', i.e. before any vendor call. */
static int mark_failed(struct iris_db *db, const struct iris_claim *c, int final,
                       int64_t retry_after_ms, const char *error, int only_claimed,
                       const char *what, struct iris_err *err) {
  /* Bounded here too (SQS's longest visibility, 12 h), so no caller can overflow it. */
  int64_t wait_us = retry_after_ms <= 0              ? 0
                    : retry_after_ms >= MAX_RETRY_MS ? MAX_RETRY_MS * 1000
                                                     : retry_after_ms * 1000;
  struct iris_db_param p[] = {IRIS_DB_I64(final ? 1 : 0),
                              IRIS_DB_STR(error),
                              IRIS_DB_I64(wait_us),
                              IRIS_DB_I64(final ? 1 : 0),
                              IRIS_DB_STR(c->key),
                              IRIS_DB_STR(c->owner),
                              IRIS_DB_I64(only_claimed ? 1 : 0)};
  return owned_update(db, c,
                      "UPDATE sender_claim SET state = 'failed', final = ?,"
                      " last_error = LEFT(?, 1024),"
                      " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND,"
                      " finished_at = IF(? = 1, UTC_TIMESTAMP(3), NULL),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE claim_key = ? AND owner = ?"
                      " AND (? = 0 OR state = 'claimed')",
                      p, 7, what, err);
}

int iris_claim_failed(struct iris_db *db, const struct iris_claim *c, int final,
                      int64_t retry_after_ms, const char *error, struct iris_err *err) {
  return mark_failed(db, c, final, retry_after_ms, error, 0, "failed", err);
}

int iris_claim_release(struct iris_db *db, const struct iris_claim *c, int64_t retry_after_ms,
                       const char *error, struct iris_err *err) {
  return mark_failed(db, c, 0, retry_after_ms, error, 1, "release", err);
}

int iris_claim_in_state(struct iris_db *db, const struct iris_claim *c, const char *state,
                        int *yes, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(c->key), IRIS_DB_STR(c->owner), IRIS_DB_STR(state),
                              IRIS_DB_STR(state)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT 1 FROM sender_claim WHERE claim_key = ? AND owner = ?"
                         " AND state = ? AND (final = 1 OR ? <> 'failed')",
                         p, 4, &rows, err);
  *yes = rc == IRIS_OK && iris_db_rows_count(rows) == 1;
  iris_db_rows_free(rows);
  return rc ? iris_err_prefix(err, "claim %s state", c->key) : IRIS_OK;
}
