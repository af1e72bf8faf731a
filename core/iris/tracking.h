/*
 * tracking.h — Iris's tracking message: the plan-level copy of a new incident (made for new
 * incidents by escalate() in src/iris/bin/sender.py), loaded from sender_tracking and
 * rendered from the plan's tracking_template.
 *
 * Layer: core, above db and tmpl; used by the sender for envelopes of kind "tracking" (the
 * coordinator creates the rows, escalate.c). The plan's tracking_template is JSON keyed by
 * application name: {"<app>": {"email_subject", "email_text", "email_html"?}} for tracking
 * type email, {"<app>": {"body"}} for any other mode. The context is the incident's context
 * plus `iris` = {incident_id, plan, plan_id, application, incident_created}. A part that does
 * not compile or render becomes Iris's text "plan <name> - tracking notification <part> failed
 * to render: <error>" (so the copy still goes out and says why it is odd).
 */
#ifndef IRIS_TRACKING_H
#define IRIS_TRACKING_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_tracking {
  int64_t incident_id, plan_id;
  char *mode; /* owned strings; free with iris_tracking_cleanup */
  char *destination;
  char *application;
  char *plan;
  char *state;       /* sender_tracking.state: pending, enqueued, done */
  char *subject;     /* email only, else NULL */
  char *body;        /* email_text for email */
  char *email_html;  /* email with an email_html template, else NULL */
  int render_failed; /* a part was replaced by the failure text */
};

/* Load the row of `incident_id` and render it. IRIS_ENOTFOUND when there is no row or the
 * plan no longer has a template for the application (the reason in err). */
int iris_tracking_load(struct iris_db *db, int64_t incident_id, struct iris_tracking *out,
                       struct iris_err *err) IRIS_WARN_UNUSED;
void iris_tracking_cleanup(struct iris_tracking *t);

/* Copy the outcome of the delivery's claim ("t:<incident_id>" in sender_claim) onto the row
 * once that claim is settled (sent, suppressed or failed for good): state done, outcome,
 * vendor, vendor id, last error. Does nothing while the claim is still open. */
int iris_tracking_settle(struct iris_db *db, int64_t incident_id,
                         struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_TRACKING_H */
