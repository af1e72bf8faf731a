/*
 * config.h — one JSON configuration for the three functions, with environment overrides
 * and AWS Secrets Manager references.
 *
 * Layer: core, above err/alloc/log; read by the lambda/ main()s and handed down as typed
 * values (no module below reads the environment itself).
 *
 * Sources, later ones win:
 *   1. the file named by $IRIS_CONFIG (or the path given to iris_config_load);
 *   2. inline JSON in $IRIS_CONFIG_JSON (the Lambda environment), merged key by key;
 *   3. shorthand variables set by the CloudFormation template:
 *        IRIS_QUEUE_<LANE>=url → queues.<lane>, IRIS_PLUGIN_DIR → plugins.dir,
 *        IRIS_TICK_SECONDS → coordinator.tick_seconds, IRIS_LOG_LEVEL → log.level;
 *   4. IRIS__<A>__<B>=value → key path a.b (segments lower-cased; the value is parsed as
 *      JSON when it is valid JSON — 5, true, {"x":1}, "quoted" — and taken as a string
 *      otherwise).
 * Objects merge recursively; any other value replaces.
 *
 * Secret references: a string value "secretsmanager:<secret id or ARN>" or
 * "secretsmanager:<id>#<json key>" is replaced by the secret's value (or one field of a
 * JSON secret) when iris_config_resolve_secrets() runs. Resolved values are registered
 * for log redaction. $IRIS_CONFIG_SECRET names a secret whose JSON object is merged like
 * step 2 (after it), for deployments that keep the whole sensitive part in one secret.
 */
#ifndef IRIS_CONFIG_H
#define IRIS_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

struct iris_config; /* opaque */

/* Fetch the secret string `id`; on success *value is owned by the caller (iris_free). */
typedef int (*iris_config_secret_fn)(void *data, const char *id, char **value,
                                     struct iris_err *err);

/*
 * Load and merge the sources above. `path` overrides $IRIS_CONFIG (both may be NULL: then
 * only the environment counts). *out owned by the caller (iris_config_free).
 * IRIS_ECONFIG names the file, line and column of a syntax error or the bad variable.
 */
int iris_config_load(const char *path, struct iris_config **out,
                     struct iris_err *err) IRIS_WARN_UNUSED;
/* Build from JSON text only (tests, tools); no environment is read. */
int iris_config_from_string(const char *json, struct iris_config **out,
                            struct iris_err *err) IRIS_WARN_UNUSED;
void iris_config_free(struct iris_config *cfg);

/* Merge $IRIS_CONFIG_SECRET (if set) and replace every secret reference, through fetch. */
int iris_config_resolve_secrets(struct iris_config *cfg, iris_config_secret_fn fetch, void *data,
                                struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Typed getters by dotted path ("db.port"). The _get forms fail with IRIS_ENOTFOUND when the
 * key is absent ("config: key 'db.user' is required"); the _or forms return the default.
 * Present but wrong type or out of [min, max] → IRIS_ECONFIG with path, rule and value.
 * Strings are borrowed, valid until iris_config_free.
 */
int iris_config_get_str(const struct iris_config *cfg, const char *path, const char **out,
                        struct iris_err *err) IRIS_WARN_UNUSED;
int iris_config_str_or(const struct iris_config *cfg, const char *path, const char *def,
                       const char **out, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_config_get_i64(const struct iris_config *cfg, const char *path, int64_t min, int64_t max,
                        int64_t *out, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_config_i64_or(const struct iris_config *cfg, const char *path, int64_t def, int64_t min,
                       int64_t max, int64_t *out, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_config_bool_or(const struct iris_config *cfg, const char *path, int def, int *out,
                        struct iris_err *err) IRIS_WARN_UNUSED;
int iris_config_double_or(const struct iris_config *cfg, const char *path, double def, double min,
                          double max, double *out, struct iris_err *err) IRIS_WARN_UNUSED;
/* A section (object or array) or any value, borrowed; NULL if absent. */
json_t *iris_config_json(const struct iris_config *cfg, const char *path);

/* The merged document as JSON text with every secret value replaced by "[REDACTED]";
 * caller frees with iris_free. For `--print-config` style diagnostics. */
char *iris_config_dump_redacted(const struct iris_config *cfg);

#endif /* IRIS_CONFIG_H */
