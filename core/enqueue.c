/* enqueue.c — due messages onto their lanes (see enqueue.h). */
#include "enqueue.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "contract.h"

#define IRIS_LOG_MODULE "enqueue"
#include "log.h"

#define DUE_LIMIT 500

struct due {
  int64_t id;
  char lane[32];
};

static int flush(struct iris_db *db, struct iris_sqs *sqs, const char *url, struct due *d,
                 size_t n, int64_t redrive, struct iris_enqueue_stats *st, struct iris_err *err) {
  struct iris_sqs_out out[IRIS_SQS_MAX_BATCH];
  struct iris_buf bodies[IRIS_SQS_MAX_BATCH];
  char ids[IRIS_SQS_MAX_BATCH][24];
  struct iris_sqs_batch_result res;
  size_t i;
  int rc = IRIS_OK;
  memset(out, 0, sizeof out);
  for (i = 0; i < n; i++) {
    iris_buf_init(&bodies[i], 0);
    snprintf(ids[i], sizeof ids[i], "m%" PRId64, d[i].id);
    if (rc == IRIS_OK)
      rc = iris_envelope_encode_message(d[i].id, &bodies[i]);
    out[i].id = ids[i];
    out[i].body = iris_buf_ptr(&bodies[i]);
  }
  if (rc == IRIS_OK)
    rc = iris_sqs_send_batch(sqs, url, out, n, &res, err);
  if (rc == IRIS_OK) {
    size_t k;
    for (k = 0; k < res.nok && rc == IRIS_OK; k++) {
      int64_t id = 0;
      struct iris_db_param p[3];
      sscanf(res.ok[k].id, "m%" SCNd64, &id);
      p[0] = IRIS_DB_STR(res.ok[k].message_id);
      p[1] = IRIS_DB_I64(redrive);
      p[2] = IRIS_DB_I64(id);
      rc = iris_db_exec(db, 0,
                        "UPDATE sender_enqueue SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
                        " sqs_message_id = ?, attempts = attempts + 1, last_error = NULL,"
                        " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
                        " WHERE message_id = ? AND state IN ('pending','enqueued')",
                        p, 3, NULL, err);
      st->enqueued++;
    }
    for (k = 0; k < res.nfailed && rc == IRIS_OK; k++) {
      int64_t id = 0;
      char why[300];
      struct iris_db_param p[2];
      sscanf(res.failed[k].id, "m%" SCNd64, &id);
      snprintf(why, sizeof why, "%s: %s", res.failed[k].code ? res.failed[k].code : "?",
               res.failed[k].message ? res.failed[k].message : "");
      p[0] = IRIS_DB_STR(why);
      p[1] = IRIS_DB_I64(id);
      rc = iris_db_exec(db, 0,
                        "UPDATE sender_enqueue SET attempts = attempts + 1, last_error = ?,"
                        " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 30 SECOND WHERE message_id = ?",
                        p, 2, NULL, err);
      st->failed++;
    }
    iris_sqs_batch_result_cleanup(&res);
  } else if (rc != IRIS_ENOMEM) {
    /* SQS down: the markers stay due; the next tick tries again. */
    IRIS_LOG_ERR("enqueue to %s failed: %s", url, err->msg);
    st->failed += (int)n;
    rc = IRIS_OK;
  }
  for (i = 0; i < n; i++)
    iris_buf_cleanup(&bodies[i]);
  return rc;
}

int iris_enqueue_tick(struct iris_db *db, struct iris_sqs *sqs, json_t *queues,
                      int64_t redrive, struct iris_enqueue_stats *st, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_rows *rows = NULL;
  struct due *due = NULL;
  size_t n = 0, i;
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
  {
    struct iris_db_param p[] = {IRIS_DB_I64(DUE_LIMIT)};
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT e.message_id, mo.name FROM sender_enqueue e"
                       " JOIN message m ON m.id = e.message_id"
                       " JOIN priority p ON p.id = m.priority_id JOIN mode mo ON mo.id = p.mode_id"
                       " WHERE e.state IN ('pending','enqueued') AND e.next_attempt_at <= UTC_TIMESTAMP(3)"
                       " ORDER BY e.next_attempt_at LIMIT ?",
                       p, 1, &rows, err);
  }
  if (rc)
    return rc;
  due = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *due);
  if (!due) {
    iris_db_rows_free(rows);
    return iris_err_set(err, IRIS_ENOMEM, "enqueue: due list");
  }
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    const char *mode;
    rc = iris_db_get_i64(rows, 0, &due[n].id, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 1, &mode, NULL, err);
    if (rc == IRIS_OK)
      snprintf(due[n++].lane, sizeof due[0].lane, "%s", iris_contract_lane(mode));
  }
  iris_db_rows_free(rows);
  /* Batches of 10 per lane. */
  for (i = 0; i < n && rc == IRIS_OK;) {
    struct due group[IRIS_SQS_MAX_BATCH];
    size_t g = 0, k;
    const char *lane = due[i].lane, *url = json_string_value(json_object_get(queues, lane));
    if (!url)
      url = json_string_value(json_object_get(queues, "notifications"));
    for (k = i; k < n && g < IRIS_SQS_MAX_BATCH; k++) {
      if (strcmp(due[k].lane, lane) == 0 && due[k].id) {
        group[g++] = due[k];
        due[k].id = 0;
      }
    }
    if (!url) {
      IRIS_LOG_ERR("no queue configured for lane %s (queues.%s); %zu message(s) wait", lane, lane, g);
      st->failed += (int)g;
    } else {
      rc = flush(db, sqs, url, group, g, redrive, st, err);
    }
    while (i < n && due[i].id == 0)
      i++;
  }
  iris_free(due);
  return rc;
}
