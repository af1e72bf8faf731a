/* render.c — Iris's message rendering (see render.h). */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "markdown.h"
#include "oneclick.h"
#include "tmpl.h"

#define IRIS_LOG_MODULE "render"
#include "log.h"

#define DEFAULT_MAX_BODY 40000

void iris_rendered_cleanup(struct iris_rendered *r) {
  if (!r)
    return;
  iris_free(r->subject);
  iris_free(r->body);
  iris_free(r->email_html);
  iris_free(r->failure);
  memset(r, 0, sizeof *r);
}

static int set_str(char **dst, const char *s) {
  iris_free(*dst);
  *dst = iris_strdup(s ? s : "");
  return *dst ? IRIS_OK : IRIS_ENOMEM;
}

/* The context a template sees: the incident's, with `iris` replaced by Iris's variables. */
static json_t *build_context(const struct iris_render_request *q) {
  json_t *ctx = json_is_object(q->context) ? json_deep_copy(q->context) : json_object();
  json_t *iris = json_object();
  int bad = !ctx || !iris;
  if (!q->message_id) {
    /* Out-of-band notifications: Iris renders them with an empty `iris` object. */
    if (!bad && json_object_set_new(ctx, "iris", iris) == 0)
      return ctx;
    if (bad)
      json_decref(iris); /* set_new took it otherwise, even on failure */
    json_decref(ctx);
    return NULL;
  }
#define PUT_S(k, v) bad |= json_object_set_new(iris, k, (v) ? json_string(v) : json_null())
#define PUT_I(k, v) bad |= json_object_set_new(iris, k, (v) ? json_integer(v) : json_null())
  PUT_S("body", q->body_prefix ? q->body_prefix : "");
  PUT_I("message_id", q->message_id);
  PUT_S("target", q->target);
  PUT_S("priority", q->priority);
  PUT_I("priority_id", q->priority_id);
  PUT_S("application", q->application);
  PUT_S("plan", q->plan);
  PUT_I("plan_id", q->plan_id);
  PUT_I("incident_id", q->incident_id);
  PUT_S("incident_created", q->incident_created);
  PUT_S("template", q->template_name);
  PUT_S("dynamic_target", q->dynamic_target); /* Iris: None unless a dynamic plan slot */
#undef PUT_S
#undef PUT_I
  if (!bad && json_object_set_new(ctx, "iris", iris) == 0)
    return ctx;
  if (!bad)
    iris = NULL; /* set_new took it even on failure */
  json_decref(iris);
  json_decref(ctx);
  return NULL;
}

/* The safe text sent when a template cannot be used: names the template and the error,
 * never the message's data (Iris put repr(message) here). */
static int fallback(const struct iris_render_request *q, const char *why,
                    struct iris_rendered *out) {
  char *subject, *body;
  subject = q->message_id
                ? iris_asprintf("%" PRId64 " Iris failed to render your message", q->message_id)
                : iris_strdup("Iris failed to render your message");
  body = iris_asprintf("Iris could not render template '%s' for application %s, mode %s: %s\n\n"
                       "Open %s in Iris to see the details.",
                       q->template_name ? q->template_name : "-",
                       q->application ? q->application : "-", q->mode, why,
                       q->incident_id ? "the incident" : "the notification");
  if (!subject || !body) {
    iris_free(subject);
    iris_free(body);
    return IRIS_ENOMEM;
  }
  iris_free(out->subject);
  iris_free(out->body);
  out->subject = subject;
  out->body = body;
  out->failed = 1;
  out->template_id = 0;
  iris_free(out->failure);
  out->failure = iris_strdup(why);
  return out->failure ? IRIS_OK : IRIS_ENOMEM;
}

static int render_template(struct iris_templates *cache, struct iris_db *db,
                           const struct iris_render_request *q, struct iris_rendered *out,
                           struct iris_err *err) {
  struct iris_template_pair pair;
  struct iris_buf subject, body;
  struct iris_err terr = {0};
  json_t *ctx = NULL;
  const char *lookup_mode = strcmp(q->mode, "drop") == 0 ? "email" : q->mode;
  int rc;

  iris_buf_init(&subject, 64 * 1024);
  iris_buf_init(&body, 4 * 1024 * 1024);
  rc = iris_templates_get(cache, db, q->template_name, q->application ? q->application : "",
                          lookup_mode, &pair, &terr);
  if (rc == IRIS_ENOTFOUND || rc == IRIS_ETEMPLATE) {
    rc = fallback(q, terr.msg, out);
    goto out;
  }
  if (rc) {
    rc = iris_err_set(err, rc, "render: %s", terr.msg);
    goto out;
  }
  ctx = build_context(q);
  if (!ctx) {
    rc = iris_err_set(err, IRIS_ENOMEM, "render: building the context");
    goto out;
  }
  if (q->message_id && !pair.shows_message_id)
    rc = iris_buf_appendf(&subject, "%" PRId64, q->message_id);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&body, q->body_prefix ? q->body_prefix : "");
  if (rc) {
    rc = iris_err_set(err, rc, "render: out of memory");
    goto out;
  }
  {
    size_t id_len = iris_buf_len(&subject);
    struct iris_buf rendered;
    iris_buf_init(&rendered, 64 * 1024);
    rc = iris_tmpl_render(pair.subject, ctx, &rendered, &terr);
    if (rc == IRIS_OK && iris_buf_len(&rendered)) {
      if (id_len)
        rc = iris_buf_appendc(&subject, ' ');
      if (rc == IRIS_OK)
        rc = iris_buf_append(&subject, iris_buf_ptr(&rendered), iris_buf_len(&rendered));
    }
    iris_buf_cleanup(&rendered);
  }
  if (rc == IRIS_OK)
    rc = iris_tmpl_render(pair.body, ctx, &body, &terr);
  if (rc == IRIS_ETEMPLATE || rc == IRIS_ETOOBIG) {
    rc = fallback(q, terr.msg[0] ? terr.msg : "the rendered text is too large", out);
    goto out;
  }
  if (rc) {
    rc = iris_err_set(err, rc, "render: %s", terr.msg);
    goto out;
  }
  iris_free(out->subject);
  iris_free(out->body);
  out->subject = iris_buf_take(&subject, NULL);
  out->body = iris_buf_take(&body, NULL);
  out->template_id = pair.template_id;
  if (!out->subject || !out->body)
    rc = iris_err_set(err, IRIS_ENOMEM, "render: out of memory");
out:
  json_decref(ctx);
  iris_buf_cleanup(&subject);
  iris_buf_cleanup(&body);
  return rc;
}

static int email_html(const struct iris_render_config *cfg, const struct iris_render_request *q,
                      struct iris_rendered *out, struct iris_err *err) {
  struct iris_buf html;
  int rc;
  iris_buf_init(&html, 0);
  rc = iris_buf_appends(&html, "<body>");
  if (rc == IRIS_OK) {
    struct iris_err merr = {0};
    rc = iris_markdown_to_html(out->body, strlen(out->body), &html, &merr);
  }
  if (rc == IRIS_OK && cfg->oneclick && !out->failed && q->incident_id && q->message_id &&
      q->destination) {
    struct iris_err oerr = {0};
    rc = iris_oneclick_markup(cfg->oneclick_endpoint, cfg->oneclick_key, q->message_id,
                              q->incident_id, q->destination, &html, &oerr);
    if (rc == IRIS_EINVAL) {
      IRIS_LOG_WARN("one-click link left out: %s", oerr.msg);
      rc = IRIS_OK;
    }
  }
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&html, "</body>");
  if (rc == IRIS_OK) {
    iris_free(out->email_html);
    out->email_html = iris_buf_take(&html, NULL);
    if (!out->email_html)
      rc = IRIS_ENOMEM;
  }
  iris_buf_cleanup(&html);
  return rc ? iris_err_set(err, rc, "render: building the email HTML") : IRIS_OK;
}

/* Code points in s; byte offset of code point n. */
static size_t chars(const char *s, size_t *cut_at, size_t n) {
  size_t i, c = 0;
  *cut_at = strlen(s);
  for (i = 0; s[i]; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (c == n)
        *cut_at = i;
      c++;
    }
  }
  return c;
}

int iris_render(const struct iris_render_config *cfg, struct iris_templates *cache,
                struct iris_db *db, const struct iris_render_request *q, struct iris_rendered *out,
                struct iris_err *err) {
  size_t max = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY, cut;
  int rc = IRIS_OK;

  memset(out, 0, sizeof *out);
  if (!q->mode || !*q->mode)
    return iris_err_set(err, IRIS_EINVAL, "render: the message has no mode");
  if (q->batch_id) {
    out->subject = iris_asprintf("[%s] %zu messages from plan %s",
                                 q->application ? q->application : "", q->batch_count,
                                 q->plan ? q->plan : "");
    out->body = iris_asprintf("Batch ID: %s", q->batch_id);
    if (!out->subject || !out->body)
      rc = IRIS_ENOMEM;
  } else if (!q->template_name) {
    rc = set_str(&out->subject, q->subject);
    if (rc == IRIS_OK)
      rc = set_str(&out->body, q->body);
    if (rc == IRIS_OK && q->email_html)
      rc = set_str(&out->email_html, q->email_html);
  } else {
    rc = render_template(cache, db, q, out, err);
    if (rc) {
      iris_rendered_cleanup(out);
      return rc;
    }
  }
  if (rc) {
    iris_rendered_cleanup(out);
    return iris_err_set(err, rc, "render: out of memory");
  }
  out->body_chars = chars(out->body, &cut, max);
  if (out->body_chars > max) {
    out->too_long = 1;
    out->body[cut] = '\0';
  }
  if ((strcmp(q->mode, "email") == 0 || strcmp(q->mode, "drop") == 0) && !out->email_html) {
    rc = email_html(cfg, q, out, err);
    if (rc)
      iris_rendered_cleanup(out);
  }
  return rc;
}
