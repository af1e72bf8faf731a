/*
 * iris-smoke — a Lambda bootstrap that proves the plumbing works together: the handler
 * reads Iris's database (counts of applications, users, plans, templates), sends the
 * event to the smoke queue and reads it back, records metrics, and answers a summary.
 *
 * Configuration (config.h): db.{host,port,user,password,database}, aws.{region,endpoint},
 * queues.smoke, metrics.namespace. Secret references are resolved at start-up; a failed
 * start-up is reported to the Runtime API as an init error.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "app.h"
#include "plugin_loader.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "smoke"
#include "log.h"

struct smoke {
  struct iris_app app;
  const char *queue;
  struct iris_plugins *plugins; /* loaded from plugins.dir when set */
};

static int count_rows(struct iris_db *db, const char *sql, int64_t *out, struct iris_err *err) {
  return iris_db_query_i64(db, IRIS_DB_IDEMPOTENT, sql, NULL, 0, out, err);
}

/* {"loaded": [{"name", "version", "modes", "load_us"}...], "rejected": [...]} */
static json_t *plugin_report(const struct iris_plugins *p) {
  json_t *loaded = json_array(), *rejected = json_array();
  size_t i, m;
  for (i = 0; i < iris_plugins_count(p); i++) {
    const struct iris_plugin_descriptor *d = iris_plugins_get(p, i);
    json_t *modes = json_array();
    for (m = 0; m < d->nmodes; m++)
      json_array_append_new(modes, json_string(d->modes[m]->mode));
    json_array_append_new(loaded, json_pack("{s:s, s:s, s:o, s:I}", "name", d->name, "version",
                                            d->version, "modes", modes, "load_us",
                                            (json_int_t)iris_plugins_load_us(p, i)));
  }
  for (i = 0; i < iris_plugins_rejections(p); i++)
    json_array_append_new(rejected, json_string(iris_plugins_rejection(p, i)));
  return json_pack("{s:o, s:o}", "loaded", loaded, "rejected", rejected);
}

static int handle(void *data, const struct iris_runtime_invocation *inv, const char *event,
                  size_t len, struct iris_buf *out, struct iris_err *err) {
  struct smoke *s = data;
  int64_t apps = 0, users = 0, plans = 0, templates = 0, t0 = iris_clock_mono_ms();
  struct iris_sqs_out msg = {0};
  struct iris_sqs_attr attr = {"kind", "String", "smoke"};
  struct iris_sqs_received got = {0};
  char *sent_id = NULL, *text = NULL;
  json_t *doc = NULL;
  int rc, roundtrip = 0;
  size_t i;

  doc = json_loadb(event, len, 0, NULL);
  if (!json_is_object(doc)) {
    rc = iris_err_set(err, IRIS_EPARSE, "smoke: the event must be a JSON object");
    goto out;
  }
  rc = count_rows(s->app.db, "SELECT COUNT(*) FROM application", &apps, err);
  if (rc == IRIS_OK)
    rc = count_rows(s->app.db, "SELECT COUNT(*) FROM user", &users, err);
  if (rc == IRIS_OK)
    rc = count_rows(s->app.db, "SELECT COUNT(*) FROM plan", &plans, err);
  if (rc == IRIS_OK)
    rc = count_rows(s->app.db, "SELECT COUNT(*) FROM template_content", &templates, err);
  if (rc)
    goto out;
  IRIS_LOG_INFO("database: %lld applications, %lld users, %lld plans, %lld template contents",
                (long long)apps, (long long)users, (long long)plans, (long long)templates);

  msg.body = event;
  msg.attrs = &attr;
  msg.nattrs = 1;
  rc = iris_sqs_send(s->app.sqs, s->queue, &msg, &sent_id, err);
  if (rc)
    goto out;
  rc = iris_sqs_receive(s->app.sqs, s->queue, 10, 2, 30, &got, err);
  if (rc)
    goto out;
  for (i = 0; i < got.n; i++) {
    if (strcmp(got.msgs[i].message_id, sent_id) == 0 && strcmp(got.msgs[i].body, event) == 0)
      roundtrip = 1;
    rc = iris_sqs_delete(s->app.sqs, s->queue, got.msgs[i].receipt_handle, err);
    if (rc)
      goto out;
  }
  if (!roundtrip) {
    rc = iris_err_set(err, IRIS_ENOTFOUND, "smoke: message %s did not come back from %s", sent_id,
                      s->queue);
    goto out;
  }
  IRIS_LOG_INFO("queue round trip ok: message %s", sent_id);
  iris_metrics_put(s->app.metrics, "smoke_ok", 1, IRIS_METRIC_COUNT, NULL);
  iris_metrics_put(s->app.metrics, "smoke_duration", (double)(iris_clock_mono_ms() - t0),
                   IRIS_METRIC_MILLISECONDS, NULL);
  json_decref(doc);
  doc = json_pack("{s:s, s:{s:I, s:I, s:I, s:I}, s:{s:s, s:s}, s:I, s:o}", "request_id",
                  inv->request_id, "database", "applications", (json_int_t)apps, "users",
                  (json_int_t)users, "plans", (json_int_t)plans, "template_contents",
                  (json_int_t)templates, "queue", "url", s->queue, "message_id", sent_id,
                  "remaining_ms", (json_int_t)iris_runtime_remaining_ms(inv), "plugins",
                  plugin_report(s->plugins));
  text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  rc = text ? iris_buf_appends(out, text) : iris_err_set(err, IRIS_ENOMEM, "smoke: answer");
out:
  iris_metrics_flush(s->app.metrics);
  iris_sqs_received_cleanup(&got);
  iris_free(sent_id);
  iris_free(text);
  json_decref(doc);
  return rc;
}

static int init(struct smoke *s, struct iris_err *err) {
  const char *dir = NULL;
  int rc = iris_app_init(&s->app, "smoke", IRIS_APP_DB | IRIS_APP_SQS, err);
  if (rc == IRIS_OK)
    rc = iris_config_get_str(s->app.cfg, "queues.smoke", &s->queue, err);
  if (rc == IRIS_OK)
    rc = iris_plugins_new(&s->plugins, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(s->app.cfg, "plugins.dir", NULL, &dir, err);
  if (rc == IRIS_OK && dir)
    rc = iris_plugins_load_dir(s->plugins, dir, err);
  return rc;
}

int main(void) {
  struct smoke s;
  struct iris_err err = {0};
  int rc;

  memset(&s, 0, sizeof s);
  rc = init(&s, &err);
  if (rc) {
    struct iris_err rerr = {0};
    if (iris_runtime_init_error(rc, err.msg, &rerr))
      IRIS_LOG_ERR("could not report the init error: %s", rerr.msg);
  } else {
    rc = iris_runtime_run(handle, &s, 0, &err);
    if (rc == IRIS_ERUNTIME)
      rc = IRIS_OK; /* the Runtime API asked us to stop */
    else if (rc)
      IRIS_LOG_ERR("runtime loop failed: %s", err.msg);
  }
  iris_plugins_free(s.plugins);
  iris_app_cleanup(&s.app);
  return rc ? 1 : 0;
}
