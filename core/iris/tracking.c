/* tracking.c — tracking messages of new incidents (see tracking.h). */
#include "tracking.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "tmpl.h"

#define IRIS_LOG_MODULE "tracking"
#include "log.h"

void iris_tracking_cleanup(struct iris_tracking *t) {
  if (!t)
    return;
  iris_free(t->mode);
  iris_free(t->destination);
  iris_free(t->application);
  iris_free(t->plan);
  iris_free(t->state);
  iris_free(t->subject);
  iris_free(t->body);
  iris_free(t->email_html);
  memset(t, 0, sizeof *t);
}

/* Render the template text `source` (part `part` of the plan's tracking template) into *out
 * (owned); a failure yields Iris's replacement text instead. */
static int render_part(const struct iris_tracking *t, const char *part, const char *source,
                       json_t *ctx, char **out, int *failed, struct iris_err *err) {
  struct iris_tmpl *tp = NULL;
  struct iris_buf b;
  struct iris_err terr = {0};
  char name[160];
  int rc;
  iris_buf_init(&b, 0);
  snprintf(name, sizeof name, "tracking %s/%s", t->plan, part);
  rc = source ? iris_tmpl_compile(name, source, strlen(source), &tp, &terr)
              : iris_err_set(&terr, IRIS_ETEMPLATE, "the template has no '%s'", part);
  if (rc == IRIS_OK)
    rc = iris_tmpl_render(tp, ctx, &b, &terr);
  iris_tmpl_free(tp);
  if (rc == IRIS_ETEMPLATE || rc == IRIS_ETOOBIG) {
    const char *what = strcmp(part, "email_subject") == 0 ? "subject"
                       : strcmp(part, "email_html") == 0  ? "html body"
                                                          : "body";
    iris_buf_reset(&b);
    rc = iris_buf_appendf(&b, "plan %s - tracking notification %s failed to render: %s", t->plan,
                          what, terr.msg);
    IRIS_LOG_WARN("incident %" PRId64 ": %s", t->incident_id, iris_buf_ptr(&b));
    *failed = 1;
  }
  if (rc == IRIS_OK)
    rc = (*out = iris_buf_take(&b, NULL)) ? IRIS_OK : iris_err_set(err, IRIS_ENOMEM, "tracking");
  else
    rc = iris_err_set(err, rc, "tracking: %s", terr.msg[0] ? terr.msg : "out of memory");
  iris_buf_cleanup(&b);
  return rc;
}

int iris_tracking_load(struct iris_db *db, int64_t incident_id, struct iris_tracking *out,
                       struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(incident_id)};
  const char *tmpl_text = NULL, *context = NULL, *created = NULL;
  json_t *tmpl = NULL, *ctx = NULL, *app_t;
  int rc;

  memset(out, 0, sizeof *out);
  out->incident_id = incident_id;
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT st.mode, st.destination, st.state, p.name, p.id, p.tracking_template,"
                     " a.name, i.context, DATE_FORMAT(i.created, '%Y-%m-%d %H:%i:%s')"
                     " FROM sender_tracking st JOIN incident i ON i.id = st.incident_id"
                     " JOIN plan p ON p.id = st.plan_id JOIN application a ON a.id = i.application_id"
                     " WHERE st.incident_id = ?",
                     p, 1, &rows, err);
  if (rc)
    goto out;
  rc = iris_db_next(rows, err);
  if (rc != IRIS_DB_ROW) {
    if (rc == IRIS_OK)
      rc = iris_err_set(err, IRIS_ENOTFOUND, "incident %" PRId64 " has no tracking row",
                        incident_id);
    goto out;
  }
  if ((rc = iris_db_get_strdup(rows, 0, &out->mode, err)) ||
      (rc = iris_db_get_strdup(rows, 1, &out->destination, err)) ||
      (rc = iris_db_get_strdup(rows, 2, &out->state, err)) ||
      (rc = iris_db_get_strdup(rows, 3, &out->plan, err)) ||
      (rc = iris_db_get_i64(rows, 4, &out->plan_id, err)) ||
      (rc = iris_db_get_strdup(rows, 6, &out->application, err)))
    goto out;
  if (!iris_db_is_null(rows, 5) && (rc = iris_db_get_str(rows, 5, &tmpl_text, NULL, err)))
    goto out;
  if (!iris_db_is_null(rows, 7) && (rc = iris_db_get_str(rows, 7, &context, NULL, err)))
    goto out;
  if ((rc = iris_db_get_str(rows, 8, &created, NULL, err)))
    goto out;
  tmpl = tmpl_text ? json_loads(tmpl_text, 0, NULL) : NULL;
  app_t = json_object_get(tmpl, out->application);
  if (!json_is_object(app_t)) {
    rc = iris_err_set(err, IRIS_ENOTFOUND,
                      "plan %s has no tracking template for application %s any more", out->plan,
                      out->application);
    goto out;
  }
  ctx = context ? json_loads(context, 0, NULL) : NULL;
  if (!json_is_object(ctx)) {
    json_decref(ctx);
    ctx = json_object();
  }
  if (!ctx ||
      json_object_set_new(ctx, "iris",
                          json_pack("{s:I, s:s, s:I, s:s, s:s}", "incident_id",
                                    (json_int_t)incident_id, "plan", out->plan, "plan_id",
                                    (json_int_t)out->plan_id, "application", out->application,
                                    "incident_created", created ? created : ""))) {
    rc = iris_err_set(err, IRIS_ENOMEM, "tracking: context");
    goto out;
  }
  if (strcmp(out->mode, "email") == 0) {
    const char *html = json_string_value(json_object_get(app_t, "email_html"));
    rc = render_part(out, "email_subject",
                     json_string_value(json_object_get(app_t, "email_subject")), ctx,
                     &out->subject, &out->render_failed, err);
    if (rc == IRIS_OK)
      rc = render_part(out, "email_text", json_string_value(json_object_get(app_t, "email_text")),
                       ctx, &out->body, &out->render_failed, err);
    if (rc == IRIS_OK && html && *html)
      rc = render_part(out, "email_html", html, ctx, &out->email_html, &out->render_failed, err);
  } else {
    rc = render_part(out, "body", json_string_value(json_object_get(app_t, "body")), ctx,
                     &out->body, &out->render_failed, err);
  }
out:
  json_decref(ctx);
  json_decref(tmpl);
  iris_db_rows_free(rows);
  if (rc)
    iris_tracking_cleanup(out);
  return rc;
}

int iris_tracking_settle(struct iris_db *db, int64_t incident_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(incident_id)};
  return iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                      "UPDATE sender_tracking st JOIN sender_claim c"
                      " ON c.claim_key = CONCAT('t:', st.incident_id)"
                      " SET st.state = 'done', st.outcome = IF(c.state = 'sent', 'sent', 'failed'),"
                      " st.vendor = c.vendor, st.vendor_message_id = c.vendor_message_id,"
                      " st.last_error = c.last_error, st.done_at = UTC_TIMESTAMP(3),"
                      " st.next_attempt_at = NULL"
                      " WHERE st.incident_id = ? AND st.state <> 'done'"
                      " AND (c.state IN ('sent','suppressed') OR (c.state = 'failed' AND c.final = 1))",
                      p, 1, NULL, err);
}
