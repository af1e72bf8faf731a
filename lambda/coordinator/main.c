/*
 * iris-coordinator — the coordinator function's bootstrap. The work is in
 * core/coordinator/coordinator.h; this reads the configuration and serves invocations.
 *
 *   iris-coordinator                 run under the Lambda Runtime API
 *   iris-coordinator --help          this text
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "coordinator.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "coordinator"
#include "log.h"

static const char usage[] =
    "usage: iris-coordinator          serve scheduled invocations under the Lambda Runtime\n"
    "                                 API ($AWS_LAMBDA_RUNTIME_API)\n"
    "       iris-coordinator --help\n"
    "configuration: $IRIS_CONFIG (file), $IRIS_CONFIG_JSON, IRIS__SECTION__KEY overrides\n";

int main(int argc, char **argv) {
  struct iris_app app;
  struct iris_coordinator *c = NULL;
  struct iris_err err = {0};
  int rc;
  if (argc > 1) {
    int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    if (!help)
      fprintf(stderr, "iris-coordinator: unknown argument %s\n", argv[1]);
    fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  rc = iris_app_init(&app, "coordinator", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_coordinator_new(&app, &c, &err);
  if (rc)
    return iris_app_start_failed(&app, rc, err.msg, 1);
  rc = iris_runtime_run(iris_coordinator_handle, c, 0, &err);
  if (rc && rc != IRIS_ERUNTIME)
    IRIS_LOG_ERR("%s", err.msg);
  iris_coordinator_free(c);
  iris_app_cleanup(&app);
  return rc && rc != IRIS_ERUNTIME ? 1 : 0;
}
