/*
 * The coordinator's invocation: take the MySQL lease (lease.h) — a late, duplicated or
 * overlapping invocation finds it held and does nothing — then tick every
 * `coordinator.tick_seconds` (default 5) until shortly before the deadline: escalate
 * (escalate.h), aggregate (aggregate.h), enqueue due messages, batches and tracking copies
 * (enqueue.h), prune when due (housekeeping.h), renewing the lease each tick. Every
 * transaction is fenced by the lease's token, so a coordinator that lost the lease (paused
 * past it) cannot write. A backlog is worked off in slices (escalate and aggregate for at
 * most `coordinator.slice_ms`, then enqueue what is due) with no sleep until it is gone, so
 * the first pages of a burst go out while the rest is still being created. Answers a
 * summary of the invocation as JSON.
 *
 * The local loop (iris_coordinator_loop, `iris-coordinator --loop`) runs the same ticks
 * through the same code with no deadline, until it is stopped; its compressed clock for
 * trying plans is applied in one place, clock_compress() below.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "aggregate.h"
#include "alloc.h"
#include "clock.h"
#include "coordinator.h"
#include "enqueue.h"
#include "escalate.h"
#include "gmail_watch.h"
#include "housekeeping.h"
#include "lease.h"

#define IRIS_LOG_MODULE "coordinator"
#include "log.h"

#define LEASE "coordinator"

struct iris_coordinator {
  struct iris_app *app; /* borrowed from the caller */
  int64_t tick_s, lease_s, redrive_s, margin_ms, slice_ms, parallel, page, max_unrolled;
  struct iris_housekeeping_opts hk;
  struct iris_gmail_watch_opts gmail; /* gmail.google NULL: no Gmail watch configured */
  struct iris_enqueue *enqueue;       /* owned */
  struct iris_aggregate *aggregate;   /* owned; its lane cache outlives invocations */
  struct iris_lease_fence fence;      /* this invocation's lease (owner and token) */
  char owner[96];                     /* this process's lease holder id */
};

struct totals {
  struct iris_escalate_stats es;
  struct iris_aggregate_stats as;
  struct iris_enqueue_stats qs;
  int ticks, failed_ticks;
  int64_t tick_ms_total, tick_ms_max;
};

/* What bounds one run of the tick loop: a Lambda invocation, or the local loop. */
struct iris_run {
  const char *id;      /* the request id, or the loop's lease holder id; borrowed */
  int64_t deadline_ms; /* epoch ms (core/base/clock.h time) to stop before */
  const struct iris_coordinator_loop_opts *loop; /* borrowed; NULL under Lambda */
  int64_t origin_ms; /* the local loop's start: where the compressed clock departs */
};

/* Failures that end the invocation: the lease is gone, memory, the database unreachable or
 * a connection lost inside a transaction. Anything else ends only the tick. */
static int tick_fatal(int rc) {
  return rc == IRIS_EFENCED || rc == IRIS_ENOMEM || rc == IRIS_ECONN || rc == IRIS_ESTATE;
}

/* Milliseconds the oldest due row of `sql` has waited (0 when nothing is due). */
static int64_t lag_ms(struct iris_db *db, const char *sql) {
  struct iris_db_rows *rows = NULL;
  struct iris_err err = {0};
  int64_t ms = 0;
  if (iris_db_query(db, IRIS_DB_IDEMPOTENT, sql, NULL, 0, &rows, &err) == IRIS_OK &&
      iris_db_next(rows, &err) == IRIS_DB_ROW && !iris_db_is_null(rows, 0) &&
      iris_db_get_i64(rows, 0, &ms, &err) != IRIS_OK)
    ms = 0;
  iris_db_rows_free(rows);
  return ms;
}

static void put(struct iris_metrics *m, const char *name, double v, enum iris_metric_unit u) {
  (void)iris_metrics_put(m, name, v, u, NULL);
}

static void add_stats(struct totals *t, const struct iris_escalate_stats *es,
                      const struct iris_aggregate_stats *as, const struct iris_enqueue_stats *qs) {
  t->es.new_incidents += es->new_incidents;
  t->es.repeats += es->repeats;
  t->es.escalations += es->escalations;
  t->es.deactivated += es->deactivated;
  t->es.messages += es->messages;
  t->es.tracking += es->tracking;
  t->es.adopted += es->adopted;
  t->es.lookup_failures += es->lookup_failures;
  t->es.failed_incidents += es->failed_incidents;
  t->as.held += as->held;
  t->as.batches += as->batches;
  t->as.started += as->started;
  t->as.reset += as->reset;
  t->as.failed += as->failed;
  t->qs.enqueued += qs->enqueued;
  t->qs.adopted += qs->adopted;
  t->qs.failed += qs->failed;
  t->qs.calls += qs->calls;
}

/* One tick: escalate and aggregate (each within the slice), then enqueue everything due.
 * *busy = 1 when the slice ran out (more work waits: tick again without sleeping). */
static int tick(struct iris_coordinator *c, struct iris_escalate *esc, int64_t hard_deadline,
                int *busy, struct totals *t, struct iris_err *err) {
  struct iris_escalate_stats es;
  struct iris_aggregate_stats as;
  struct iris_enqueue_stats qs;
  int64_t t0 = iris_clock_mono_ms(), slice = t0 + c->slice_ms, elapsed, t1 = 0, t2 = 0;
  int rc;
  memset(&as, 0, sizeof as);
  memset(&qs, 0, sizeof qs);
  if (slice > hard_deadline)
    slice = hard_deadline;
  rc = iris_escalate_tick(esc, slice, &es, err);
  t1 = iris_clock_mono_ms();
  *busy = t1 >= slice;
  if (rc == IRIS_OK)
    rc = iris_aggregate_tick(c->aggregate, slice + c->slice_ms / 2, &as, err);
  t2 = iris_clock_mono_ms();
  if (rc == IRIS_OK)
    rc = iris_enqueue_tick(c->enqueue, c->app->db, hard_deadline, &qs, err);
  elapsed = iris_clock_mono_ms() - t0;
  add_stats(t, &es, &as, &qs);
  t->ticks++;
  t->tick_ms_total += elapsed;
  if (elapsed > t->tick_ms_max)
    t->tick_ms_max = elapsed;
  put(c->app->metrics, "tick_duration", (double)elapsed, IRIS_METRIC_MILLISECONDS);
  put(c->app->metrics, "incidents_escalated", es.new_incidents + es.escalations, IRIS_METRIC_COUNT);
  put(c->app->metrics, "incidents_deactivated", es.deactivated, IRIS_METRIC_COUNT);
  put(c->app->metrics, "messages_created", es.messages, IRIS_METRIC_COUNT);
  put(c->app->metrics, "messages_enqueued", qs.enqueued, IRIS_METRIC_COUNT);
  put(c->app->metrics, "enqueue_failures", qs.failed, IRIS_METRIC_COUNT);
  put(c->app->metrics, "messages_held", as.held, IRIS_METRIC_COUNT);
  put(c->app->metrics, "batches_flushed", as.batches, IRIS_METRIC_COUNT);
  put(c->app->metrics, "tracking_created", es.tracking, IRIS_METRIC_COUNT);
  put(c->app->metrics, "role_lookup_failures", es.lookup_failures, IRIS_METRIC_COUNT);
  put(c->app->metrics, "failed_incidents", es.failed_incidents + as.failed, IRIS_METRIC_COUNT);
  put(c->app->metrics, "enqueue_lag",
      (double)lag_ms(c->app->db,
                     "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(next_attempt_at),"
                     " UTC_TIMESTAMP(3)) DIV 1000 FROM sender_enqueue"
                     " WHERE state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(3)"),
      IRIS_METRIC_MILLISECONDS);
  put(c->app->metrics, "escalation_lag",
      (double)lag_ms(c->app->db, "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(due_at),"
                                 " UTC_TIMESTAMP(3)) DIV 1000 FROM sender_escalation"
                                 " WHERE due_at <= UTC_TIMESTAMP(3)"),
      IRIS_METRIC_MILLISECONDS);
  if (es.new_incidents || es.messages || qs.enqueued || es.deactivated || as.held || as.batches ||
      es.escalations || es.failed_incidents)
    IRIS_LOG_INFO("tick %d: %d new incident(s), %d repeat(s), %d escalation(s), %d message(s), "
                  "%d held, %d batch(es), %d enqueued, %d deactivated, %d failed; %lld ms"
                  " (escalate %lld, aggregate %lld, enqueue %lld in %d page(s): upkeep %lld,"
                  " collect %lld, send %lld, mark %lld)",
                  t->ticks, es.new_incidents, es.repeats, es.escalations, es.messages, as.held,
                  as.batches, qs.enqueued, es.deactivated, es.failed_incidents + as.failed,
                  (long long)elapsed, (long long)(t1 - t0), (long long)(t2 - t1),
                  (long long)(t0 + elapsed - t2), qs.pages, (long long)qs.ms_upkeep,
                  (long long)qs.ms_collect, (long long)qs.ms_send, (long long)qs.ms_mark);
  return rc;
}

static int summary(const struct totals *t, int64_t token, const struct iris_run *r,
                   struct iris_buf *response, struct iris_err *err) {
  json_t *doc =
      json_pack("{s:i, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i,"
                " s:i, s:i, s:i, s:i}",
                "ticks", t->ticks, "tick_ms_mean",
                (json_int_t)(t->ticks ? t->tick_ms_total / t->ticks : 0), "tick_ms_max",
                (json_int_t)t->tick_ms_max, "lease_token", (json_int_t)token, "new_incidents",
                t->es.new_incidents, "repeats", t->es.repeats, "escalations", t->es.escalations,
                "deactivated", t->es.deactivated, "messages_created", t->es.messages,
                "tracking_created", t->es.tracking, "adopted_incidents", t->es.adopted,
                "role_lookup_failures", t->es.lookup_failures, "failed_incidents",
                t->es.failed_incidents + t->as.failed, "messages_enqueued", t->qs.enqueued,
                "enqueue_failures", t->qs.failed, "sqs_calls", t->qs.calls, "messages_held",
                t->as.held, "batches_flushed", t->as.batches, "aggregations_started",
                t->as.started, "aggregations_reset", t->as.reset, "failed_ticks", t->failed_ticks);
  char *text = NULL;
  int rc;
  if (doc && r->loop &&
      json_object_set_new(doc, "clock_scale", json_integer((json_int_t)r->loop->clock_scale))) {
    json_decref(doc);
    doc = NULL;
  }
  text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  rc = text ? iris_buf_appends(response, text) : iris_err_set(err, IRIS_ENOMEM, "summary");
  json_decref(doc);
  iris_free(text);
  return rc;
}

/* The local loop's end: stopped by a signal, or its tick budget spent. */
static int loop_done(const struct iris_run *r, const struct totals *t) {
  const struct iris_coordinator_loop_opts *o = r->loop;
  return o && ((o->stop && *o->stop) || (o->max_ticks > 0 && t->ticks >= o->max_ticks));
}

/* Sleep ms; in the local loop in short slices, so a stop request is seen within 100 ms. */
static void pause_ms(const struct iris_run *r, int64_t ms) {
  if (!r->loop) {
    iris_clock_sleep_ms(ms);
    return;
  }
  while (ms > 0 && !(r->loop->stop && *r->loop->stop)) {
    int64_t step = ms < 100 ? ms : 100;
    iris_clock_sleep_ms(step);
    ms -= step;
  }
}

/*
 * The compressed clock (iris-coordinator --loop --clock-scale N), applied in this one place.
 * Everything the coordinator decides by time — a notification's next round, a step's
 * escalation, deactivation, aggregation windows and resets, the redrive of unsettled
 * markers, the lags it reports — is SQL comparing rows with the database's clock
 * (UTC_TIMESTAMP()), and every such statement runs inside a tick on the coordinator's one
 * connection. So before each tick the session's clock (MariaDB's `timestamp` variable, which
 * UTC_TIMESTAMP() and NOW() read) is set to
 *     origin + N × (real time − origin)        (origin: when the loop started)
 * and after the tick it is put back to the server's. The lease (its expiry is real time, so
 * a coordinator on real time is never taken over early), housekeeping and the Gmail watch
 * run between ticks, on real time. Within a tick the clock stands still. If the connection is
 * lost inside a tick, the rest of that tick runs on real time (a fresh session); rows it
 * writes then look older, so their waits take longer, never shorter.
 */
static int clock_compress(struct iris_coordinator *c, const struct iris_run *r,
                          struct iris_err *err) {
  int64_t now, at;
  if (!r->loop || r->loop->clock_scale <= 1)
    return IRIS_OK;
  now = iris_clock_now_ms();
  at = r->origin_ms + (now - r->origin_ms) * r->loop->clock_scale;
  {
    struct iris_db_param p[] = {IRIS_DB_DOUBLE((double)at / 1000.0)};
    return iris_db_exec(c->app->db, 0, "SET timestamp = ?", p, 1, NULL, err);
  }
}

static void clock_restore(struct iris_coordinator *c, const struct iris_run *r) {
  struct iris_err e = {0};
  if (!r->loop || r->loop->clock_scale <= 1)
    return;
  if (iris_db_exec(c->app->db, 0, "SET timestamp = DEFAULT", NULL, 0, NULL, &e))
    IRIS_LOG_WARN("compressed clock not put back (a new session starts on real time): %s", e.msg);
}

/*
 * One run of the tick loop under the lease: a Lambda invocation (until its deadline), or a
 * stretch of the local loop (until it is stopped or loses the lease). *skipped = 1 when
 * another coordinator holds the lease (nothing done). The totals accumulate in *t;
 * *token gets the lease's token.
 */
static int run(struct iris_coordinator *c, const struct iris_run *r, struct totals *t,
               int64_t *token, int *skipped, struct iris_err *err) {
  struct iris_escalate *esc = NULL;
  struct iris_escalate_opts eo;
  int held = 0, rc;
  *skipped = 0;
  rc = iris_lease_acquire(c->app->db, LEASE, c->owner, (int)c->lease_s, &held, token, err);
  if (rc)
    return rc;
  if (!held) {
    *skipped = 1;
    return IRIS_OK;
  }
  IRIS_LOG_INFO("lease taken by %s (token %lld)", c->owner, (long long)*token);
  c->fence.name = LEASE;
  c->fence.owner = c->owner;
  c->fence.token = *token;
  eo.oncall = c->app->oncall;
  eo.max_unrolled_users = c->max_unrolled;
  eo.fence = &c->fence;
  rc = iris_escalate_new(c->app->db, &eo, &esc, err);
  while (rc == IRIS_OK) {
    int64_t t0 = iris_clock_mono_ms();
    int64_t hard = t0 + (r->deadline_ms - iris_clock_now_ms()) - c->margin_ms;
    int busy = 0;
    char hk_owner[160];
    struct iris_housekeeping_stats hs;
    struct iris_err herr = {0};
    rc = clock_compress(c, r, err);
    if (rc == IRIS_OK) {
      rc = tick(c, esc, hard, &busy, t, err);
      clock_restore(c, r);
    }
    if (rc && !tick_fatal(rc)) {
      /* A deadlock that outlived its replays, a statement the server refused: what this
       * tick did not do is still due, so the next tick does it. Ending the invocation
       * would leave a burst waiting for the next scheduled one (a minute). */
      IRIS_LOG_ERR("tick %d failed: %s; going on with the next tick", t->ticks, err->msg);
      t->failed_ticks++;
      put(c->app->metrics, "tick_failures", 1, IRIS_METRIC_COUNT);
      rc = IRIS_OK;
      busy = 0;
    }
    if (rc)
      break;
    snprintf(hk_owner, sizeof hk_owner, "%.100s#%d", r->id, t->ticks);
    if (!busy && iris_housekeeping_run(c->app->db, hk_owner, &c->hk, &hs, &herr))
      IRIS_LOG_ERR("housekeeping failed (next run in %lld s): %s", (long long)c->hk.every_s,
                   herr.msg);
    if (!busy && c->gmail.google) {
      int ran = 0;
      struct iris_err gerr = {0};
      if (iris_gmail_watch_run(c->app->db, hk_owner, &c->gmail, &ran, &gerr))
        IRIS_LOG_ERR("gmail watch not renewed (next try in %lld s): %s",
                     (long long)c->gmail.retry_s, gerr.msg);
    }
    if (r->deadline_ms - iris_clock_now_ms() < c->tick_s * 1000 + c->margin_ms || loop_done(r, t))
      break;
    if (!busy) {
      int64_t elapsed = iris_clock_mono_ms() - t0;
      pause_ms(r, c->tick_s * 1000 - elapsed > 0 ? c->tick_s * 1000 - elapsed : 0);
      if (loop_done(r, t))
        break;
    }
    rc = iris_lease_acquire(c->app->db, LEASE, c->owner, (int)c->lease_s, &held, NULL, err);
    if (rc == IRIS_OK && !held) {
      IRIS_LOG_WARN("lost the lease; stopping");
      break;
    }
  }
  if (rc == IRIS_EFENCED) {
    IRIS_LOG_WARN("%s; stopping (another coordinator carries on)", err->msg);
    rc = IRIS_OK;
  }
  iris_escalate_free(esc);
  {
    struct iris_err rerr = {0};
    if (iris_db_in_transaction(c->app->db))
      (void)iris_db_rollback(c->app->db, &rerr);
    if (iris_lease_release(c->app->db, LEASE, c->owner, &rerr))
      IRIS_LOG_WARN("lease not released (it will expire): %s", rerr.msg);
    else if (r->loop)
      IRIS_LOG_INFO("lease released by %s", c->owner);
  }
  iris_metrics_flush(c->app->metrics);
  return rc;
}

int iris_coordinator_handle(void *data, const struct iris_runtime_invocation *inv,
                            const char *event, size_t len, struct iris_buf *response,
                            struct iris_err *err) {
  struct iris_coordinator *c = data;
  struct iris_run r = {inv->request_id, inv->deadline_ms, NULL, 0};
  struct totals t;
  int64_t token = 0;
  int skipped = 0, rc;
  (void)event;
  (void)len;
  memset(&t, 0, sizeof t);
  rc = run(c, &r, &t, &token, &skipped, err);
  if (rc)
    return rc;
  if (skipped) {
    IRIS_LOG_INFO("another coordinator holds the lease; nothing to do");
    return iris_buf_appends(response, "{\"skipped\":\"the lease is held by another coordinator\"}");
  }
  return summary(&t, token, &r, response, err);
}

/* Errors after which the local loop takes the lease again, as the next scheduled invocation
 * would: the database went away (or a lock wait on the lease row timed out). */
static int loop_passing(int rc) {
  return rc == IRIS_ECONN || rc == IRIS_ESTATE || rc == IRIS_EBUSY;
}

int iris_coordinator_loop(struct iris_coordinator *c, const struct iris_coordinator_loop_opts *o,
                          struct iris_buf *out, struct iris_err *err) {
  /* "Never" for the deadline arithmetic: far enough, and no overflow when added to now. */
  struct iris_run r = {c->owner, INT64_MAX / 4, o, iris_clock_now_ms()};
  struct totals t;
  int64_t token = 0;
  int waiting = 0, rc = IRIS_OK;
  if (o->clock_scale < 1 || o->max_ticks < 0)
    return iris_err_set(err, IRIS_EINVAL,
                        "coordinator loop: clock_scale must be >= 1 and"
                        " max_ticks >= 0");
  memset(&t, 0, sizeof t);
  if (o->clock_scale > 1)
    IRIS_LOG_WARN("COMPRESSED CLOCK: every wait of every plan passes %lld times faster, and the"
                  " rows this coordinator writes are stamped ahead of real time. For trying"
                  " plans on a test database only; never on a database anything real uses.",
                  (long long)o->clock_scale);
  IRIS_LOG_INFO("loop started (tick every %lld s, clock x%lld%s)", (long long)c->tick_s,
                (long long)o->clock_scale, o->max_ticks ? ", tick budget set" : "");
  while (!loop_done(&r, &t)) {
    int skipped = 0;
    rc = run(c, &r, &t, &token, &skipped, err);
    if (rc && loop_passing(rc)) {
      IRIS_LOG_ERR("%s; taking the lease again in %lld s", err->msg, (long long)c->tick_s);
      rc = IRIS_OK;
      skipped = 1;
    }
    if (rc)
      break;
    if (skipped) {
      if (!waiting)
        IRIS_LOG_INFO("another coordinator holds the lease; waiting for it");
      waiting = 1;
      pause_ms(&r, c->tick_s * 1000);
    } else {
      waiting = 0;
    }
  }
  IRIS_LOG_INFO("loop stopped after %d tick(s)", t.ticks);
  if (rc)
    return rc;
  return summary(&t, token, &r, out, err);
}

/* The Gmail watch renewal, when gmail.credentials is configured (Iris's gmail section: the
 * mailbox whose replies its relay reads). */
static int gmail_new(struct iris_coordinator *c, struct iris_err *err) {
  const struct iris_config *cfg = c->app->cfg;
  struct iris_google_opts o;
  const char *creds = NULL;
  int rc = iris_config_str_or(cfg, "gmail.credentials", NULL, &creds, err);
  if (rc || !creds)
    return rc;
  memset(&o, 0, sizeof o);
  o.credentials = creds;
  c->gmail.retry_s = 300;
  c->gmail.metrics = c->app->metrics;
  rc = iris_config_get_str(cfg, "gmail.topic", &c->gmail.topic, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "gmail.user", "me", &c->gmail.user, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "gmail.api", NULL, &c->gmail.api, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "gmail.every_seconds", 28800, 60, 6 * 86400, &c->gmail.every_s,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "gmail.scope", "https://www.googleapis.com/auth/gmail.readonly",
                            &o.scope, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "gmail.subject", NULL, &o.subject, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "gmail.token_uri", NULL, &o.token_uri, err);
  if (rc == IRIS_OK)
    rc = iris_google_new(&o, &c->gmail.google, err);
  if (rc == IRIS_ECONFIG && strncmp(err->msg, "configuration", 13) != 0) {
    /* iris_err_prefix: err->msg cannot be its own argument */
    (void)iris_err_prefix(err, "configuration: gmail.credentials");
    rc = err->rc = IRIS_ECONFIG;
  }
  return rc;
}

int iris_coordinator_new(struct iris_app *app, struct iris_coordinator **out,
                         struct iris_err *err) {
  struct iris_coordinator *c = iris_calloc(1, sizeof *c);
  struct iris_enqueue_opts qo;
  int rc;
  *out = NULL;
  if (!c)
    return iris_err_set(err, IRIS_ENOMEM, "coordinator");
  c->app = app;
  rc = iris_lease_owner_id("coordinator", c->owner, sizeof c->owner, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.tick_seconds", 5, 1, 60, &c->tick_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.lease_seconds", 90, 10, 3600, &c->lease_s,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.redrive_seconds", 300, 10, 86400,
                            &c->redrive_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.margin_ms", 3000, 0, 60000, &c->margin_ms,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.slice_ms", 1000, 100, 60000, &c->slice_ms,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.enqueue_parallel", 16, 1, 32, &c->parallel,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "coordinator.enqueue_page", 2000, 10, 2000, &c->page, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "ldap_lists.max_unrolled_users", 0, 0, 1000000000,
                            &c->max_unrolled, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "housekeeping.every_seconds", 14400, 60, 7 * 86400,
                            &c->hk.every_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "housekeeping.changelog_days", 90, 0, 36500,
                            &c->hk.changelog_days, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(c->app->cfg, "housekeeping.sender_days", 30, 0, 36500,
                            &c->hk.sender_days, err);
  if (rc == IRIS_OK) {
    memset(&qo, 0, sizeof qo);
    qo.queues = iris_config_json(c->app->cfg, "queues");
    qo.redrive_seconds = c->redrive_s;
    qo.parallel = (int)c->parallel;
    qo.page = (int)c->page;
    qo.aws = &c->app->aws;
    rc = iris_enqueue_new(&qo, &c->enqueue, err);
    if (rc == IRIS_EINVAL) {
      (void)iris_err_prefix(err, "configuration"); /* not err->msg as its own argument */
      rc = err->rc = IRIS_ECONFIG;
    }
  }
  if (rc == IRIS_OK)
    rc = iris_aggregate_new(c->app->db, &c->fence, &c->aggregate, err);
  if (rc == IRIS_OK)
    rc = gmail_new(c, err);
  if (rc) {
    iris_coordinator_free(c);
    return rc;
  }
  *out = c;
  return IRIS_OK;
}

void iris_coordinator_free(struct iris_coordinator *c) {
  if (!c)
    return;
  iris_google_free(c->gmail.google);
  iris_aggregate_free(c->aggregate);
  iris_enqueue_free(c->enqueue);
  iris_free(c);
}
