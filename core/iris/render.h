/*
 * render.h — Iris's render(): the subject, body and email HTML of one message.
 *
 * Layer: core, above templates, tmpl, oneclick and libcmark; called by the sender for each
 * message it delivers (and again, from scratch, when it falls back to email). Ported from
 * Iris's sender (render(), the Templates cache, the email HTML path), with its render bugs
 * fixed: a failed render never puts the message or its context into the page — the page
 * says which template failed and why — and a fallback re-renders instead of appending.
 *
 * Cases, in Iris's order:
 *   batch     (batch_id set): subject "[<application>] <N> messages from plan <plan>",
 *             body "Batch ID: <batch_id>";
 *   literal   (no template_name): subject/body/email_html as given (out-of-band notifications
 *             with a body, messages whose content the API wrote);
 *   template: context = the incident context plus `iris` = {body, message_id, target,
 *             priority, priority_id, application, plan, plan_id, incident_id,
 *             incident_created, template} (a context key named `iris` is replaced); the
 *             template's content for (application, mode) — `drop` uses `email`'s — renders
 *             subject and body; body = body_prefix + rendered body; the subject is prefixed
 *             with the message id ("<id> <subject>", or just the id) unless the subject or the
 *             body already shows iris.message_id.
 * Then, for email: email_html = "<body>" + Markdown(body) (libcmark) + the one-click claim
 * markup (incident messages, when configured) + "</body>", unless an email_html was given.
 * Finally a body over max_body characters (Iris: 40 000) is cut to that length and flagged.
 */
#ifndef IRIS_RENDER_H
#define IRIS_RENDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "templates.h"

struct iris_render_config {
  int oneclick; /* add Gmail one-click claim markup to incident emails */
  const char *oneclick_endpoint;
  const char *oneclick_key; /* secret */
  size_t max_body;          /* characters; 0 = 40000 */
};

/* Everything borrowed for the duration of the call; optional strings may be NULL. */
struct iris_render_request {
  const char *mode;    /* the resolved mode (email, sms, call, im, slack, hipchat, drop) */
  int64_t message_id;  /* 0 for out-of-band notifications */
  int64_t incident_id; /* 0 when not an incident message */
  const char *application;
  const char *target;
  const char *priority;
  int64_t priority_id;
  const char *plan;
  int64_t plan_id;
  const char *template_name;    /* NULL: literal content */
  const char *incident_created; /* "YYYY-MM-DD HH:MM:SS" */
  const char *dynamic_target;   /* the dynamic plan slot's target name, NULL: none (None) */
  json_t *context;              /* incident context (object) or NULL */
  const char *body_prefix;      /* the message row's body (e.g. the plan-creator note) */
  const char *batch_id;         /* set for an aggregated batch */
  size_t batch_count;
  const char *subject; /* literal content */
  const char *body;
  const char *email_html;
  const char *destination; /* the email address (one-click links) */
};

struct iris_rendered {
  char *subject; /* owned; free with iris_rendered_cleanup */
  char *body;
  char *email_html;    /* email only, else NULL */
  int64_t template_id; /* 0 unless a template rendered */
  int failed;          /* the template could not be used: safe fallback text sent */
  char *failure;       /* why (for the message's audit log), NULL if none */
  int too_long;        /* body was over max_body and was cut */
  size_t body_chars;   /* length of the body before any cut, in characters */
};
void iris_rendered_cleanup(struct iris_rendered *r);

/*
 * Render req into out. Template problems do not fail the call (out->failed, out->failure);
 * the return is IRIS_OK, or IRIS_EDB/IRIS_ECONN (templates could not be read: retry later),
 * IRIS_EINVAL (missing mode), IRIS_ENOMEM.
 */
int iris_render(const struct iris_render_config *cfg, struct iris_templates *cache,
                struct iris_db *db, const struct iris_render_request *req,
                struct iris_rendered *out, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_RENDER_H */
