/*
 * plugin_host.h — vendor instances: a plugin's mode ops bound to a configuration, with the
 * host services (log, HTTP, clock, secrets, metrics) the ABI promises.
 *
 * Layer: core, above plugin_loader, log, clock, metrics; used by the sender's dispatcher and
 * the plugin harness. The host side of every call is defensive: results are validated
 * (status in range, texts terminated) so a buggy plugin cannot corrupt the host's record of
 * what happened.
 */
#ifndef IRIS_PLUGIN_HOST_H
#define IRIS_PLUGIN_HOST_H

#include "config.h"
#include "err.h"
#include "iris_plugin.h"
#include "metrics.h"
#include "plugin_loader.h"

struct iris_vendor; /* opaque: one configured instance of a plugin for one mode */

/* Optional services behind the host struct; any may be NULL. Borrowed, must outlive the
 * vendor. */
struct iris_vendor_env {
  iris_config_secret_fn secret; /* get_secret service (e.g. iris_secrets_fetch) */
  void *secret_data;
  struct iris_metrics *metrics; /* metric service */
};

/*
 * Create the instance `name` of plugin `plugin` for `mode` with settings `config`.
 * IRIS_ENOTFOUND if the plugin or mode is unknown; IRIS_EPLUGIN with the plugin's own reason
 * if its init fails. *out owned by the caller (iris_vendor_free).
 */
int iris_vendor_new(const struct iris_plugins *plugins, const char *plugin, const char *mode,
                    const char *name, const struct iris_plugin_kv *config, size_t nconfig,
                    const struct iris_vendor_env *env, struct iris_vendor **out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
void iris_vendor_free(struct iris_vendor *v);

/* Call send() and validate what came back; always leaves a well-formed result. */
void iris_vendor_send(struct iris_vendor *v, const struct iris_plugin_message *msg,
                      struct iris_plugin_result *result);

/* Call health() if the plugin has one: IRIS_OK, IRIS_EUNSUPPORTED, or IRIS_EPLUGIN. */
int iris_vendor_health(struct iris_vendor *v, struct iris_err *err) IRIS_WARN_UNUSED;

const char *iris_vendor_name(const struct iris_vendor *v);
const char *iris_vendor_plugin(const struct iris_vendor *v);
const char *iris_vendor_mode(const struct iris_vendor *v);

/* "sent", "retryable", "permanent", "rate_limited". */
const char *iris_plugin_status_name(int status);

#endif /* IRIS_PLUGIN_HOST_H */
