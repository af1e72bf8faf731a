/* enqueue.c — due messages, batches and tracking copies onto their lanes (see enqueue.h). */
#include "enqueue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "contract.h"

#define IRIS_LOG_MODULE "enqueue"
#include "log.h"

#define DUE_LIMIT 500

enum due_kind { DUE_MESSAGE = 'm', DUE_BATCH = 'b', DUE_TRACKING = 't' };

/* One envelope to send. The SendMessageBatch entry id is kind + id ("m123", "b<hex>", "t7"). */
struct due {
  char entry[40];
  char lane[32];
  int taken;
};

/* The statements that record an entry's fate, per kind. */
static const char *on_ok(char kind) {
  switch (kind) {
  case DUE_BATCH:
    return "UPDATE sender_enqueue SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
           " sqs_message_id = ?, attempts = attempts + 1, last_error = NULL,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
           " WHERE batch_id = ? AND state IN ('pending','enqueued')";
  case DUE_TRACKING:
    return "UPDATE sender_tracking SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
           " sqs_message_id = ?, attempts = attempts + 1, last_error = NULL,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
           " WHERE incident_id = ? AND state IN ('pending','enqueued')";
  default:
    return "UPDATE sender_enqueue SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
           " sqs_message_id = ?, attempts = attempts + 1, last_error = NULL,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
           " WHERE message_id = ? AND state IN ('pending','enqueued')";
  }
}

static const char *on_fail(char kind) {
  switch (kind) {
  case DUE_BATCH:
    return "UPDATE sender_enqueue SET attempts = attempts + 1, last_error = ?,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 30 SECOND WHERE batch_id = ?"
           " AND state IN ('pending','enqueued')";
  case DUE_TRACKING:
    return "UPDATE sender_tracking SET attempts = attempts + 1, last_error = ?,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 30 SECOND WHERE incident_id = ?";
  default:
    return "UPDATE sender_enqueue SET attempts = attempts + 1, last_error = ?,"
           " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 30 SECOND WHERE message_id = ?";
  }
}

static struct iris_db_param id_param(const char *entry) {
  return entry[0] == DUE_BATCH ? IRIS_DB_STR(entry + 1) : IRIS_DB_I64(strtoll(entry + 1, NULL, 10));
}

/* The envelope of one entry; a batch lists its members still waiting to be sent. */
static int encode(struct iris_db *db, const char *entry, struct iris_buf *out,
                  struct iris_err *err) {
  int rc;
  if (entry[0] == DUE_MESSAGE)
    rc = iris_envelope_encode_message(strtoll(entry + 1, NULL, 10), out);
  else if (entry[0] == DUE_TRACKING)
    rc = iris_envelope_encode_tracking(strtoll(entry + 1, NULL, 10), out);
  else {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_STR(entry + 1)};
    int64_t *ids = NULL;
    size_t n = 0;
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT message_id FROM sender_enqueue WHERE batch_id = ?"
                       " AND state IN ('pending','enqueued') ORDER BY message_id",
                       p, 1, &rows, err);
    if (rc)
      return rc;
    ids = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *ids);
    if (!ids)
      rc = iris_err_set(err, IRIS_ENOMEM, "enqueue: batch members");
    while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
      rc = iris_db_get_i64(rows, 0, &ids[n++], err);
    iris_db_rows_free(rows);
    if (rc == IRIS_OK)
      rc = n ? iris_envelope_encode_batch(entry + 1, ids, n, out) : IRIS_ENOTFOUND;
    iris_free(ids);
    return rc;
  }
  return rc ? iris_err_set(err, rc, "enqueue: envelope of %s", entry) : IRIS_OK;
}

static int flush(struct iris_db *db, struct iris_sqs *sqs, const char *url, struct due **d,
                 size_t n, int64_t redrive, struct iris_enqueue_stats *st, struct iris_err *err) {
  struct iris_sqs_out out[IRIS_SQS_MAX_BATCH];
  struct iris_buf bodies[IRIS_SQS_MAX_BATCH];
  struct iris_sqs_batch_result res;
  size_t i, m = 0;
  int rc = IRIS_OK;
  memset(out, 0, sizeof out);
  for (i = 0; i < n; i++)
    iris_buf_init(&bodies[i], 0);
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    rc = encode(db, d[i]->entry, &bodies[m], err);
    if (rc == IRIS_ENOTFOUND) { /* a batch whose members were all settled meanwhile */
      rc = IRIS_OK;
      continue;
    }
    out[m].id = d[i]->entry;
    out[m].body = iris_buf_ptr(&bodies[m]);
    m++;
  }
  if (rc == IRIS_OK && m)
    rc = iris_sqs_send_batch(sqs, url, out, m, &res, err);
  else if (rc == IRIS_OK)
    goto out;
  if (rc == IRIS_OK) {
    size_t k;
    for (k = 0; k < res.nok && rc == IRIS_OK; k++) {
      const char *e = res.ok[k].id;
      struct iris_db_param p[] = {IRIS_DB_STR(res.ok[k].message_id), IRIS_DB_I64(redrive),
                                  id_param(e)};
      rc = iris_db_exec(db, 0, on_ok(e[0]), p, 3, NULL, err);
      st->enqueued++;
    }
    for (k = 0; k < res.nfailed && rc == IRIS_OK; k++) {
      const char *e = res.failed[k].id;
      char why[300];
      struct iris_db_param p[] = {IRIS_DB_STR(why), id_param(e)};
      snprintf(why, sizeof why, "%s: %s", res.failed[k].code ? res.failed[k].code : "?",
               res.failed[k].message ? res.failed[k].message : "");
      rc = iris_db_exec(db, 0, on_fail(e[0]), p, 2, NULL, err);
      st->failed++;
    }
    iris_sqs_batch_result_cleanup(&res);
  } else if (rc != IRIS_ENOMEM) {
    /* SQS (or the batch lookup) failed: the markers stay due; the next tick tries again. */
    IRIS_LOG_ERR("enqueue to %s failed: %s", url, err->msg);
    st->failed += (int)m;
    rc = IRIS_OK;
  }
out:
  for (i = 0; i < n; i++)
    iris_buf_cleanup(&bodies[i]);
  return rc;
}

/* Append the rows of `sql` (columns: id text, mode name) to the due list as `kind`. */
static int collect(struct iris_db *db, const char *sql, char kind, struct due **due, size_t *n,
                   size_t *cap, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(DUE_LIMIT)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, sql, p, 1, &rows, err);
  if (rc)
    return rc;
  if (*n + iris_db_rows_count(rows) + 1 > *cap) {
    size_t want = *n + iris_db_rows_count(rows) + 1;
    struct due *bigger = iris_realloc(*due, want * sizeof *bigger);
    if (!bigger) {
      iris_db_rows_free(rows);
      return iris_err_set(err, IRIS_ENOMEM, "enqueue: due list");
    }
    *due = bigger;
    *cap = want;
  }
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *id = NULL, *mode = NULL;
    struct due *d = &(*due)[*n];
    rc = iris_db_get_str(rows, 0, &id, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 1, &mode, NULL, err);
    if (rc == IRIS_OK) {
      snprintf(d->entry, sizeof d->entry, "%c%s", kind, id);
      snprintf(d->lane, sizeof d->lane, "%s", iris_contract_lane(mode));
      d->taken = 0;
      (*n)++;
    }
  }
  iris_db_rows_free(rows);
  return rc;
}

int iris_enqueue_tick(struct iris_db *db, struct iris_sqs *sqs, json_t *queues,
                      int64_t redrive, struct iris_enqueue_stats *st, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct due *due = NULL;
  size_t n = 0, cap = 0, i;
  int rc;

  memset(st, 0, sizeof *st);
  /* Messages the API created (no marker yet) join the queue's bookkeeping. */
  rc = iris_db_exec(db, 0,
                    "INSERT IGNORE INTO sender_enqueue (message_id, state, plan_id, application_id,"
                    " priority_id, target_id, next_attempt_at)"
                    " SELECT m.id, 'pending', m.plan_id, m.application_id, m.priority_id,"
                    " m.target_id, UTC_TIMESTAMP(3) FROM message m"
                    " LEFT JOIN sender_enqueue e ON e.message_id = m.id"
                    " WHERE m.active = 1 AND m.sent IS NULL AND e.message_id IS NULL LIMIT 1000",
                    NULL, 0, &info, err);
  if (rc)
    return rc;
  st->adopted = (int)info.affected_rows;
  /* Claimed incidents deactivate their messages: nothing left to send for those markers. */
  rc = iris_db_exec(db, 0,
                    "UPDATE sender_enqueue e JOIN message m ON m.id = e.message_id"
                    " SET e.state = 'done', e.done_at = UTC_TIMESTAMP(3), e.next_attempt_at = NULL"
                    " WHERE e.state IN ('pending','enqueued') AND (m.active = 0 OR m.sent IS NOT NULL)",
                    NULL, 0, &info, err);
  if (rc)
    return rc;
  st->settled = (int)info.affected_rows;
  /* Due: single messages whose lane is decided (aggregate.h), batches, tracking copies. */
  rc = collect(db,
               "SELECT CAST(message_id AS CHAR), lane FROM sender_enqueue"
               " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
               " AND lane IS NOT NULL AND batch_id IS NULL ORDER BY next_attempt_at LIMIT ?",
               DUE_MESSAGE, &due, &n, &cap, err);
  if (rc == IRIS_OK)
    rc = collect(db,
                 "SELECT batch_id, MIN(lane) FROM sender_enqueue"
                 " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
                 " AND batch_id IS NOT NULL GROUP BY batch_id ORDER BY MIN(next_attempt_at) LIMIT ?",
                 DUE_BATCH, &due, &n, &cap, err);
  if (rc == IRIS_OK)
    rc = collect(db,
                 "SELECT CAST(incident_id AS CHAR), mode FROM sender_tracking"
                 " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
                 " ORDER BY next_attempt_at LIMIT ?",
                 DUE_TRACKING, &due, &n, &cap, err);
  /* Batches of 10 per lane. */
  for (i = 0; i < n && rc == IRIS_OK;) {
    struct due *group[IRIS_SQS_MAX_BATCH];
    size_t g = 0, k;
    const char *lane = due[i].lane, *url = json_string_value(json_object_get(queues, lane));
    if (!url)
      url = json_string_value(json_object_get(queues, "notifications"));
    for (k = i; k < n && g < IRIS_SQS_MAX_BATCH; k++) {
      if (!due[k].taken && strcmp(due[k].lane, lane) == 0) {
        group[g++] = &due[k];
        due[k].taken = 1;
      }
    }
    if (!url) {
      IRIS_LOG_ERR("no queue configured for lane %s (queues.%s); %zu message(s) wait", lane, lane, g);
      st->failed += (int)g;
    } else {
      rc = flush(db, sqs, url, group, g, redrive, st, err);
    }
    while (i < n && due[i].taken)
      i++;
  }
  iris_free(due);
  return rc;
}
