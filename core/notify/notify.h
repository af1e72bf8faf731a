/*
 * notify.h — the notify function: Iris's POST /v0/notifications straight onto the
 * notifications lane, a per-target status lookup, and Twilio's delivery status callbacks
 * (docs/api-integration.md).
 *
 * Layer: core/notify, the top (uses base, db, clients, app, iris); called by
 * lambda/notify (the iris-notify bootstrap and iris-notify-cli). One struct iris_notify per
 * thread: it borrows the app's database and SQS connections.
 *
 * Routes served by iris_notify_handle_event (API Gateway REST proxy v1 or HTTP API v2):
 *   POST /v0/notifications                Iris's application HMAC, Iris's validation and
 *                                         answers, quotas, one envelope per target
 *   GET  /v0/notifications/{id}           where each target stands (same HMAC; only the
 *                                         application that posted it)
 *   POST /v0/twilio/messages/status       Twilio's status callbacks (X-Twilio-Signature)
 *   POST /v0/twilio/calls/status
 * Configuration (docs/config.md, "notify"): queues.notifications (required),
 * notify.max_body_bytes, notify.max_targets, notify.keep_days, notify.public_url; the Twilio
 * auth tokens are those of the twilio entries under vendors.sms and vendors.call.
 */
#ifndef IRIS_NOTIFY_H
#define IRIS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "err.h"

#define IRIS_NOTIFY_DEFAULT_MAX_BODY 262144
#define IRIS_NOTIFY_DEFAULT_MAX_TARGETS 100

struct iris_notify; /* opaque */

/*
 * Read the configuration and keep `app` (borrowed: it must outlive the handle; it needs
 * IRIS_APP_DB and IRIS_APP_SQS). IRIS_ECONFIG names the key: queues.notifications missing,
 * a notify.* number out of range.
 */
int iris_notify_new(struct iris_app *app, struct iris_notify **out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
void iris_notify_free(struct iris_notify *n);

/*
 * One API Gateway event: append the proxy response to `response`. Every request gets an
 * HTTP answer (4xx for the client's mistakes, 500/503 for ours, logged); a non-OK return is
 * left for events that are not API Gateway requests at all (IRIS_EPARSE) and IRIS_ENOMEM.
 */
int iris_notify_handle_event(struct iris_notify *n, const char *event, size_t len,
                             struct iris_buf *response, struct iris_err *err) IRIS_WARN_UNUSED;

/* An answer as the HTTP API would give it. */
struct iris_notify_answer {
  int status;            /* 200, 400, 401, 404, 409, 413, 500, 503 */
  char *body;            /* owned: the JSON text of the answer */
  char *notification_id; /* owned: the notification's id when accepted (or found), else NULL */
};
void iris_notify_answer_cleanup(struct iris_notify_answer *a);

/*
 * The enqueue path without HTTP (C producers, iris-notify-cli): `body` is the JSON request
 * Iris's API takes, sent on behalf of `application` (trusted: no signature is checked; the
 * application must exist). idempotency_key may be NULL. IRIS_OK with *out filled for every
 * answer, errors included; a non-OK return only for IRIS_ENOMEM.
 */
int iris_notify_submit(struct iris_notify *n, const char *application, const char *idempotency_key,
                       const char *body, size_t len, struct iris_notify_answer *out,
                       struct iris_err *err) IRIS_WARN_UNUSED;

/* GET /v0/notifications/{id} without HTTP, for `application`. Same answers. */
int iris_notify_status(struct iris_notify *n, const char *application, const char *id,
                       struct iris_notify_answer *out, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_NOTIFY_H */
