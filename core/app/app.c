/* app.c — function start-up from one configuration (see app.h). */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runtime.h"
#include "utf8.h"

int iris_app_db_opts(const struct iris_config *cfg, struct iris_db_opts *o, struct iris_err *err) {
  static const char *const tls_names[] = {"off", "preferred", "required", "verify-ca",
                                          "verify-identity"};
  const char *tls = NULL;
  int64_t port = 3306, ct = 5, rt = 30;
  size_t i;
  int rc;

  memset(o, 0, sizeof *o);
  rc = iris_config_str_or(cfg, "db.host", "127.0.0.1", &o->host, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "db.port", 3306, 1, 65535, &port, err);
  if (rc == IRIS_OK)
    rc = iris_config_get_str(cfg, "db.user", &o->user, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "db.password", NULL, &o->password, err);
  if (rc == IRIS_OK)
    rc = iris_config_get_str(cfg, "db.database", &o->database, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "db.unix_socket", NULL, &o->unix_socket, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "db.ca_file", NULL, &o->ca_file, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "db.connect_timeout", 5, 1, 120, &ct, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "db.read_timeout", 30, 1, 3600, &rt, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "db.tls", "off", &tls, err);
  if (rc)
    return rc;
  for (i = 0; i < sizeof tls_names / sizeof tls_names[0]; i++)
    if (strcmp(tls, tls_names[i]) == 0)
      break;
  if (i == sizeof tls_names / sizeof tls_names[0])
    return iris_err_set(err, IRIS_ECONFIG,
                        "config: key 'db.tls' must be off, preferred, required, verify-ca or "
                        "verify-identity, got \"%.*s\"",
                        iris_utf8_prec(tls, 40), tls);
  o->tls = (enum iris_db_tls)i;
  o->port = (unsigned int)port;
  o->connect_timeout_s = (unsigned int)ct;
  o->read_timeout_s = o->write_timeout_s = (unsigned int)rt;
  return IRIS_OK;
}

int iris_app_oncall_opts(const struct iris_config *cfg, struct iris_oncall_opts *o,
                         struct iris_err *err) {
  int64_t timeout = 10000, cache = 60;
  int rc;

  memset(o, 0, sizeof *o);
  rc = iris_config_str_or(cfg, "oncall.api", NULL, &o->api, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "oncall.app", NULL, &o->app, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "oncall.key", NULL, &o->key, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "oncall.timeout_ms", 10000, 1, 300000, &timeout, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "oncall.cache_seconds", 60, 0, 3600, &cache, err);
  if (rc)
    return rc;
  if (o->api && strncmp(o->api, "http://", 7) != 0 && strncmp(o->api, "https://", 8) != 0)
    return iris_err_set(err, IRIS_ECONFIG,
                        "config: key 'oncall.api' must be an http(s) URL, got \"%.*s\"",
                        iris_utf8_prec(o->api, 80), o->api);
  if ((o->app && o->app[0]) != (o->key && o->key[0]))
    return iris_err_set(err, IRIS_ECONFIG,
                        "config: keys 'oncall.app' and 'oncall.key' go together (only '%s' is set)",
                        o->app && o->app[0] ? "oncall.app" : "oncall.key");
  o->timeout_ms = (long)timeout;
  o->cache_seconds = (long)cache;
  return IRIS_OK;
}

void iris_app_cleanup(struct iris_app *app) {
  if (!app)
    return;
  iris_oncall_free(app->oncall);
  iris_metrics_free(app->metrics);
  iris_sqs_free(app->sqs);
  iris_db_close(app->db);
  iris_secrets_free(app->secrets);
  iris_aws_creds_cleanup(&app->creds);
  iris_config_free(app->cfg);
  memset(app, 0, sizeof *app);
}

int iris_app_init(struct iris_app *app, const char *function, unsigned int needs,
                  struct iris_err *err) {
  struct iris_db_opts db;
  struct iris_oncall_opts oncall;
  const char *level = NULL, *ns = NULL;
  enum iris_log_level lv;
  int rc;

  memset(app, 0, sizeof *app);
  rc = iris_config_load(NULL, &app->cfg, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "log.level", NULL, &level, err);
  if (rc == IRIS_OK && level) {
    rc = iris_log_level_parse(level, &lv);
    if (rc == IRIS_OK)
      iris_log_set_level(lv);
    else
      rc = iris_err_set(err, IRIS_ECONFIG,
                        "config: key 'log.level' must be debug, info, warn, "
                        "error or off, got \"%.*s\"",
                        iris_utf8_prec(level, 40), level);
  }
  if (rc == IRIS_OK)
    rc = iris_aws_creds_from_env(&app->creds, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "aws.region",
                            getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1",
                            &app->aws.region, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "aws.endpoint", NULL, &app->aws.endpoint, err);
  app->aws.creds = &app->creds;
  if (rc == IRIS_OK)
    rc = iris_secrets_new(&app->aws, &app->secrets, err);
  if (rc == IRIS_OK)
    rc = iris_config_resolve_secrets(app->cfg, iris_secrets_fetch, app->secrets, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "metrics.namespace", "Iris", &ns, err);
  if (rc == IRIS_OK)
    rc = iris_metrics_new(ns, function, NULL, &app->metrics, err);
  if (rc == IRIS_OK)
    rc = iris_app_oncall_opts(app->cfg, &oncall, err);
  if (rc == IRIS_OK && oncall.api) {
    oncall.metrics = app->metrics;
    rc = iris_oncall_new(&oncall, &app->oncall, err);
  }
  if (rc == IRIS_OK && (needs & IRIS_APP_DB)) {
    rc = iris_app_db_opts(app->cfg, &db, err);
    if (rc == IRIS_OK)
      rc = iris_db_open(&db, &app->db, err);
  }
  if (rc == IRIS_OK && (needs & IRIS_APP_SQS))
    rc = iris_sqs_new(&app->aws, &app->sqs, err);
  if (rc)
    iris_app_cleanup(app);
  return rc;
}

int iris_app_start_failed(struct iris_app *app, int rc, const char *msg, int runtime) {
  if (runtime && getenv("AWS_LAMBDA_RUNTIME_API")) {
    struct iris_err rerr = {0};
    if (iris_runtime_init_error(rc, msg, &rerr))
      IRIS_LOG_ERR("start-up failed: %s (and could not report it: %s)", msg, rerr.msg);
  } else {
    IRIS_LOG_ERR("start-up failed: %s", msg);
  }
  iris_app_cleanup(app);
  return 1;
}
