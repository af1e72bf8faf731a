/* push.c — mobile push before SMS and calls, through FCM HTTP v1 (see push.h). */
#include "push.h"

#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "google.h"

#define IRIS_LOG_MODULE "push"
#include "log.h"

#define MAX_DEVICES 20 /* a user's devices pushed per page (bounds the calls a page makes) */

struct iris_push {
  struct iris_google *google;        /* owned */
  struct iris_metrics *metrics;      /* borrowed */
  const char *project, *title, *api; /* borrowed from the configuration */
  int64_t ttl_s;
};

void iris_push_free(struct iris_push *p) {
  if (!p)
    return;
  iris_google_free(p->google);
  iris_free(p);
}

int iris_push_new(const struct iris_config *cfg, struct iris_metrics *metrics,
                  struct iris_push **out, struct iris_err *err) {
  struct iris_google_opts o;
  struct iris_push *p;
  const char *creds = NULL;
  int rc;
  *out = NULL;
  rc = iris_config_str_or(cfg, "push.credentials", NULL, &creds, err);
  if (rc || !creds)
    return rc;
  p = iris_calloc(1, sizeof *p);
  if (!p)
    return iris_err_set(err, IRIS_ENOMEM, "push");
  p->metrics = metrics;
  rc = iris_config_get_str(cfg, "push.project", &p->project, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "push.title", NULL, &p->title, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(cfg, "push.api", NULL, &p->api, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(cfg, "push.ttl_seconds", 0, 0, 2419200, &p->ttl_s, err);
  if (rc == IRIS_OK) {
    memset(&o, 0, sizeof o);
    o.credentials = creds;
    o.scope = "https://www.googleapis.com/auth/firebase.messaging";
    rc = iris_config_str_or(cfg, "push.token_uri", NULL, &o.token_uri, err);
    if (rc == IRIS_OK)
      rc = iris_google_new(&o, &p->google, err);
    if (rc == IRIS_ECONFIG) {
      (void)iris_err_prefix(err, "configuration: push.credentials");
      rc = err->rc = IRIS_ECONFIG;
    }
  }
  if (rc) {
    iris_push_free(p);
    return rc;
  }
  *out = p;
  return IRIS_OK;
}

static void count(struct iris_push *p, const char *name) {
  if (p->metrics)
    (void)iris_metrics_put(p->metrics, name, 1, IRIS_METRIC_COUNT, NULL);
}

int iris_push_page(struct iris_push *p, struct iris_db *db, const char *target,
                   const char *subject, const char *body, int64_t incident_id) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param q[] = {IRIS_DB_STR(target)};
  struct iris_err err = {0};
  char *tokens[MAX_DEVICES], *platforms[MAX_DEVICES];
  size_t n = 0, i;
  int sent = 0, rc;
  if (!p || !target)
    return 0;
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT d.registration_id, d.platform FROM device d"
                     " JOIN target t ON t.id = d.user_id"
                     " JOIN target_type tt ON tt.id = t.type_id AND tt.name = 'user'"
                     " WHERE t.name = ? ORDER BY d.id LIMIT 20",
                     q, 1, &rows, &err);
  while (rc == IRIS_OK && n < MAX_DEVICES && (rc = iris_db_next(rows, &err)) == IRIS_DB_ROW) {
    tokens[n] = platforms[n] = NULL;
    rc = iris_db_get_strdup(rows, 0, &tokens[n], &err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 1, &platforms[n], &err);
    n++;
  }
  iris_db_rows_free(rows);
  if (rc) {
    IRIS_LOG_WARN("push to %s skipped: the devices could not be read: %s", target, err.msg);
    count(p, "push_failed");
  }
  for (i = 0; i < n; i++) {
    struct iris_fcm_push one = {tokens[i], platforms[i], p->title ? p->title : subject,
                                body,      incident_id,  p->ttl_s};
    if (rc == IRIS_OK && tokens[i] && platforms[i]) {
      int prc = iris_fcm_send(p->google, p->api, p->project, &one, &err);
      if (prc == IRIS_OK) {
        sent++;
        count(p, "push_sent");
      } else if (prc == IRIS_ENOTFOUND) {
        /* The app forgot the token (uninstalled, logged out): Iris deleted the device. */
        struct iris_db_param d[] = {IRIS_DB_STR(tokens[i])};
        struct iris_err derr = {0};
        IRIS_LOG_INFO("push to a device of %s: %s; forgetting the device", target, err.msg);
        if (iris_db_exec(db, 0, "DELETE FROM device WHERE registration_id = ?", d, 1, NULL, &derr))
          IRIS_LOG_WARN("could not forget the device: %s", derr.msg);
        count(p, "push_unregistered");
      } else {
        IRIS_LOG_WARN("push to a device of %s failed: %s", target, err.msg);
        count(p, "push_failed");
      }
    }
    iris_free(tokens[i]);
    iris_free(platforms[i]);
  }
  return sent;
}
