/*
 * app.h — start-up of a function process: configuration, credentials, secrets, database,
 * SQS, metrics and the Oncall client, built from one configuration the same way for every
 * bootstrap.
 *
 * Layer: core, the top of the plumbing (config, secrets, aws, db, sqs, metrics, log, oncall);
 * called only by the lambda/ main()s and tools, so each main() stays a few lines. Everything is
 * created eagerly at start-up so a bad configuration or an unreachable database is an init
 * error reported to Lambda, not a failure of the first page.
 */
#ifndef IRIS_APP_H
#define IRIS_APP_H

#include "aws.h"
#include "config.h"
#include "db.h"
#include "err.h"
#include "metrics.h"
#include "oncall.h"
#include "secrets.h"
#include "sqs.h"

struct iris_app {
  struct iris_config *cfg;      /* owned */
  struct iris_aws_creds creds;  /* owned */
  struct iris_aws_opts aws;     /* region/endpoint borrowed from cfg, creds from above */
  struct iris_secrets *secrets; /* owned */
  struct iris_db *db;           /* owned; NULL unless IRIS_APP_DB */
  struct iris_sqs *sqs;         /* owned; NULL unless IRIS_APP_SQS */
  struct iris_metrics *metrics; /* owned */
  struct iris_oncall *oncall;   /* owned; NULL unless oncall.api is configured (no network
                                   at start-up: the first role lookup connects) */
};

#define IRIS_APP_DB 1u
#define IRIS_APP_SQS 2u

/*
 * Load the configuration (config.h sources), apply log.level, read AWS credentials, resolve
 * secret references, then open what `needs` asks for. `function` names the process in
 * metrics ("sender"). On failure everything built so far is released and err says what.
 */
int iris_app_init(struct iris_app *app, const char *function, unsigned int needs,
                  struct iris_err *err) IRIS_WARN_UNUSED;
void iris_app_cleanup(struct iris_app *app);

/* A bootstrap could not start (rc, msg): under the Lambda Runtime API ($AWS_LAMBDA_RUNTIME_API
 * set and `runtime` non-zero) report it as the init error, else log it; then clean up app.
 * Returns the process's exit status (1). */
int iris_app_start_failed(struct iris_app *app, int rc, const char *msg, int runtime);

/* Fill Oncall client options from the `oncall` section (strings borrowed from cfg; metrics
 * left NULL). opts->api is NULL when oncall.api is absent: no client then. IRIS_ECONFIG names
 * the key: api not an http(s) URL, app without key or key without app, a number out of range
 * (timeout_ms 1-300000, cache_seconds 0-3600). */
int iris_app_oncall_opts(const struct iris_config *cfg, struct iris_oncall_opts *opts,
                         struct iris_err *err) IRIS_WARN_UNUSED;

/* Fill database options from the `db` section (strings borrowed from cfg). */
int iris_app_db_opts(const struct iris_config *cfg, struct iris_db_opts *opts,
                     struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_APP_H */
