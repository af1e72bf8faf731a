/*
 * dispatch.h — the vendor instances configured per mode, and which one handles an attempt.
 *
 * Layer: core, above plugin_loader and plugin_host; used by sender.c. Configuration:
 *   "vendors": {"email": [{"plugin": "smtp", "name": "smtp-a", "config": {...}}, ...],
 *               "sms":   [{"plugin": "twilio", "name": "twilio-1", "config": {...}}], ...}
 * Every instance is created at start-up (a bad configuration is an init error, not a failed
 * page). Attempts rotate across a mode's instances starting from a random one per process, as
 * Iris's vendor manager did, so a failing vendor is skipped on the next attempt.
 */
#ifndef IRIS_DISPATCH_H
#define IRIS_DISPATCH_H

#include <jansson.h>

#include "err.h"
#include "iris_plugin.h"
#include "plugin_host.h"
#include "plugin_loader.h"

struct iris_dispatch; /* opaque */

int iris_dispatch_new(const struct iris_plugins *plugins, json_t *vendors,
                      const struct iris_vendor_env *env, struct iris_dispatch **out,
                      struct iris_err *err) IRIS_WARN_UNUSED;
void iris_dispatch_free(struct iris_dispatch *d);

/* The instance for attempt number `attempt` (0-based) of `mode`, or NULL if the mode has
 * no vendor. Borrowed. */
struct iris_vendor *iris_dispatch_pick(struct iris_dispatch *d, const char *mode, int attempt);

/* How many instances serve `mode`. */
size_t iris_dispatch_count(const struct iris_dispatch *d, const char *mode);

#endif /* IRIS_DISPATCH_H */
