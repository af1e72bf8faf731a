/*
 * push.h — the mobile push Iris sent before every SMS and call (src/iris/push/fcm.py, called
 * from its Twilio vendor), through FCM's HTTP v1 API: Google shut down the legacy server-key
 * API Iris used in 2024, so a service account's OAuth token replaces the server key.
 *
 * Layer: sender, above db and clients/google. Best effort, as in Iris: a push never holds
 * back or fails the page; a device FCM no longer knows is deleted from Iris's `device` table.
 *
 * Configuration (`push` section): `credentials` (the service account's JSON key; keep it in
 * Secrets Manager and reference it), `project` (the Firebase project id), `title` (optional:
 * the notification title instead of the page's subject), `ttl_seconds` (0), `api` (tests).
 */
#ifndef IRIS_PUSH_H
#define IRIS_PUSH_H

#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "metrics.h"

struct iris_push; /* opaque */

/* *out is NULL (push off) when the configuration has no push.credentials. IRIS_ECONFIG names
 * what is wrong. *out owned by the caller (iris_push_free). */
int iris_push_new(const struct iris_config *cfg, struct iris_metrics *metrics,
                  struct iris_push **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_push_free(struct iris_push *p);

/* Push the page to every device of the user `target`. Returns how many pushes were sent;
 * failures are logged and counted (metric push_failed), never returned. */
int iris_push_page(struct iris_push *p, struct iris_db *db, const char *target,
                   const char *subject, const char *body, int64_t incident_id);

#endif /* IRIS_PUSH_H */
