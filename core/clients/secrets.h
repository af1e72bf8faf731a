/*
 * secrets.h — AWS Secrets Manager GetSecretValue through the signed JSON-protocol client.
 *
 * Layer: core, above aws.c; used at start-up by the lambda/ main()s to resolve the secret
 * references of the configuration (config.h) and by plugins through the host's secret
 * service. Values are cached for the life of the process and registered for log redaction
 * the moment they arrive.
 */
#ifndef IRIS_SECRETS_H
#define IRIS_SECRETS_H

#include "aws.h"
#include "err.h"

struct iris_secrets; /* opaque */

int iris_secrets_new(const struct iris_aws_opts *opts, struct iris_secrets **out,
                     struct iris_err *err) IRIS_WARN_UNUSED;
void iris_secrets_free(struct iris_secrets *s);

/*
 * The SecretString of `id` (name or ARN). *value owned by the caller (iris_free).
 * IRIS_EAWS names the AWS code (ResourceNotFoundException...) and the id, never a value;
 * IRIS_EUNSUPPORTED for a binary-only secret. Signature matches iris_config_secret_fn.
 */
int iris_secrets_fetch(void *secrets, const char *id, char **value,
                       struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_SECRETS_H */
