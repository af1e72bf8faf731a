/*
 * iris-coordinator — the coordinator function's bootstrap. Scheduled every minute; each
 * invocation takes the MySQL lease (core/lease.h) — a late, duplicated or overlapping
 * invocation finds it held and does nothing — then ticks every `coordinator.tick_seconds`
 * (default 5) until shortly before its deadline: escalate (core/escalate.h), aggregate
 * (core/aggregate.h), enqueue due messages, batches and tracking copies (core/enqueue.h),
 * prune when due (core/housekeeping.h), renewing the lease each tick. Answers a summary.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "aggregate.h"
#include "alloc.h"
#include "app.h"
#include "clock.h"
#include "enqueue.h"
#include "escalate.h"
#include "housekeeping.h"
#include "lease.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "coordinator"
#include "log.h"

struct coordinator {
  struct iris_app app;
  int64_t tick_s, lease_s, redrive_s, margin_ms;
  struct iris_housekeeping_opts hk;
};

/* Milliseconds the oldest due marker has waited (0 when nothing is due): how far behind the
 * enqueue pass is. */
static int64_t backlog_ms(struct iris_db *db) {
  struct iris_db_rows *rows = NULL;
  struct iris_err err = {0};
  int64_t ms = 0;
  if (iris_db_query(db, IRIS_DB_IDEMPOTENT,
                    "SELECT IFNULL(TIMESTAMPDIFF(MICROSECOND, MIN(next_attempt_at),"
                    " UTC_TIMESTAMP(3)) DIV 1000, 0) FROM sender_enqueue"
                    " WHERE state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(3)",
                    NULL, 0, &rows, &err) == IRIS_OK &&
      iris_db_next(rows, &err) == IRIS_DB_ROW && iris_db_get_i64(rows, 0, &ms, &err) != IRIS_OK)
    ms = 0;
  iris_db_rows_free(rows);
  return ms;
}

static void put(struct iris_metrics *m, const char *name, double v, enum iris_metric_unit u) {
  (void)iris_metrics_put(m, name, v, u, NULL);
}

static int handle(void *data, const struct iris_runtime_invocation *inv, const char *event,
                  size_t len, struct iris_buf *response, struct iris_err *err) {
  struct coordinator *c = data;
  struct iris_escalate_stats es, total = {0};
  struct iris_enqueue_stats qs, qtotal = {0};
  struct iris_aggregate_stats as, atotal = {0};
  struct iris_housekeeping_stats hs;
  int held = 0, ticks = 0, rc;
  int64_t token = 0;
  json_t *doc;
  char *text;
  (void)event;
  (void)len;
  rc = iris_lease_acquire(c->app.db, "coordinator", inv->request_id, (int)c->lease_s, &held,
                          &token, err);
  if (rc)
    return rc;
  if (!held) {
    IRIS_LOG_INFO("another coordinator holds the lease; nothing to do");
    return iris_buf_appends(response, "{\"skipped\":\"the lease is held by another coordinator\"}");
  }
  IRIS_LOG_INFO("lease taken (token %lld)", (long long)token);
  do {
    int64_t t0 = iris_clock_mono_ms(), elapsed;
    char hk_owner[160];
    rc = iris_escalate_tick(c->app.db, &es, err);
    if (rc == IRIS_OK)
      rc = iris_aggregate_tick(c->app.db, &as, err);
    if (rc == IRIS_OK)
      rc = iris_enqueue_tick(c->app.db, c->app.sqs, iris_config_json(c->app.cfg, "queues"),
                             c->redrive_s, &qs, err);
    if (rc)
      break;
    snprintf(hk_owner, sizeof hk_owner, "%.100s#%d", inv->request_id, ticks);
    {
      struct iris_err herr = {0};
      if (iris_housekeeping_run(c->app.db, hk_owner, &c->hk, &hs, &herr))
        IRIS_LOG_ERR("housekeeping failed (next run in %lld s): %s", (long long)c->hk.every_s,
                     herr.msg);
    }
    atotal.held += as.held;
    atotal.batches += as.batches;
    atotal.started += as.started;
    atotal.reset += as.reset;
    ticks++;
    total.new_incidents += es.new_incidents;
    total.repeats += es.repeats;
    total.escalations += es.escalations;
    total.deactivated += es.deactivated;
    total.messages += es.messages;
    total.failed_incidents += es.failed_incidents;
    total.tracking += es.tracking;
    qtotal.enqueued += qs.enqueued;
    qtotal.adopted += qs.adopted;
    qtotal.failed += qs.failed;
    qtotal.settled += qs.settled;
    elapsed = iris_clock_mono_ms() - t0;
    put(c->app.metrics, "tick_duration", (double)elapsed, IRIS_METRIC_MILLISECONDS);
    put(c->app.metrics, "incidents_escalated", es.new_incidents + es.escalations, IRIS_METRIC_COUNT);
    put(c->app.metrics, "messages_created", es.messages, IRIS_METRIC_COUNT);
    put(c->app.metrics, "messages_enqueued", qs.enqueued, IRIS_METRIC_COUNT);
    put(c->app.metrics, "messages_held", as.held, IRIS_METRIC_COUNT);
    put(c->app.metrics, "batches_flushed", as.batches, IRIS_METRIC_COUNT);
    put(c->app.metrics, "tracking_created", es.tracking, IRIS_METRIC_COUNT);
    put(c->app.metrics, "enqueue_backlog_age", (double)backlog_ms(c->app.db),
        IRIS_METRIC_MILLISECONDS);
    if (es.new_incidents || es.messages || qs.enqueued || es.deactivated || as.held || as.batches)
      IRIS_LOG_INFO("tick %d: %d new incident(s), %d repeat(s), %d escalation(s), %d message(s), "
                    "%d held, %d batch(es), %d enqueued, %d deactivated, %lld ms", ticks,
                    es.new_incidents, es.repeats, es.escalations, es.messages, as.held,
                    as.batches, qs.enqueued, es.deactivated, (long long)elapsed);
    if (iris_runtime_remaining_ms(inv) < c->tick_s * 1000 + c->margin_ms)
      break;
    iris_clock_sleep_ms(c->tick_s * 1000 - elapsed > 0 ? c->tick_s * 1000 - elapsed : 0);
    rc = iris_lease_acquire(c->app.db, "coordinator", inv->request_id, (int)c->lease_s, &held,
                            NULL, err);
    if (rc == IRIS_OK && !held) {
      IRIS_LOG_WARN("lost the lease; stopping");
      break;
    }
  } while (rc == IRIS_OK && iris_runtime_remaining_ms(inv) > c->tick_s * 1000 + c->margin_ms);
  {
    struct iris_err rerr = {0};
    if (iris_lease_release(c->app.db, "coordinator", inv->request_id, &rerr))
      IRIS_LOG_WARN("lease not released (it will expire): %s", rerr.msg);
  }
  iris_metrics_flush(c->app.metrics);
  if (rc)
    return rc;
  doc = json_pack("{s:i, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}",
                  "ticks", ticks, "lease_token", (json_int_t)token, "new_incidents",
                  total.new_incidents, "repeats", total.repeats, "escalations", total.escalations,
                  "deactivated", total.deactivated, "messages_created", total.messages,
                  "tracking_created", total.tracking, "messages_enqueued", qtotal.enqueued,
                  "enqueue_failures", qtotal.failed, "failed_incidents", total.failed_incidents,
                  "messages_held", atotal.held, "batches_flushed", atotal.batches,
                  "aggregations_started", atotal.started, "aggregations_reset", atotal.reset);
  text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  rc = text ? iris_buf_appends(response, text) : iris_err_set(err, IRIS_ENOMEM, "summary");
  iris_free(text);
  return rc;
}

int main(void) {
  struct coordinator c;
  struct iris_err err = {0};
  int rc;
  memset(&c, 0, sizeof c);
  rc = iris_app_init(&c.app, "coordinator", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "coordinator.tick_seconds", 5, 1, 60, &c.tick_s, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "coordinator.lease_seconds", 90, 10, 3600, &c.lease_s, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "coordinator.redrive_seconds", 300, 10, 86400,
                            &c.redrive_s, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "coordinator.margin_ms", 3000, 0, 60000, &c.margin_ms, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "housekeeping.every_seconds", 14400, 60, 7 * 86400,
                            &c.hk.every_s, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "housekeeping.changelog_days", 90, 0, 36500,
                            &c.hk.changelog_days, &err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c.app.cfg, "housekeeping.sender_days", 30, 0, 36500,
                            &c.hk.sender_days, &err);
  if (rc) {
    struct iris_err rerr = {0};
    if (iris_runtime_init_error(rc, err.msg, &rerr))
      IRIS_LOG_ERR("start-up failed: %s (and could not report it: %s)", err.msg, rerr.msg);
    iris_app_cleanup(&c.app);
    return 1;
  }
  rc = iris_runtime_run(handle, &c, 0, &err);
  if (rc && rc != IRIS_ERUNTIME)
    IRIS_LOG_ERR("%s", err.msg);
  iris_app_cleanup(&c.app);
  return rc && rc != IRIS_ERUNTIME ? 1 : 0;
}
