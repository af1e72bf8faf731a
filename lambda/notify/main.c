/*
 * iris-notify — the notify function's bootstrap (core/notify/notify.h does the work): serves
 * API Gateway events (REST proxy v1 or HTTP API v2) under the Lambda Runtime API:
 * POST /v0/notifications, GET /v0/notifications/{id}, POST /v0/twilio/{messages,calls}/status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "notify.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "notify"
#include "log.h"

static int handle(void *data, const struct iris_runtime_invocation *inv, const char *event,
                  size_t len, struct iris_buf *response, struct iris_err *err) {
  (void)inv;
  return iris_notify_handle_event(data, event, len, response, err);
}

static const char usage[] =
    "usage: iris-notify           serve API Gateway events under the Lambda Runtime API\n"
    "       iris-notify --help\n"
    "routes: POST /v0/notifications, GET /v0/notifications/{id},\n"
    "        POST /v0/twilio/messages/status, POST /v0/twilio/calls/status\n"
    "configuration: $IRIS_CONFIG (file), $IRIS_CONFIG_JSON, IRIS__SECTION__KEY overrides\n";

int main(int argc, char **argv) {
  struct iris_app app;
  struct iris_notify *notify = NULL;
  struct iris_err err = {0};
  int rc;

  if (argc > 1) {
    int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    fputs(usage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  rc = iris_app_init(&app, "notify", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_notify_new(&app, &notify, &err);
  if (rc)
    return iris_app_start_failed(&app, rc, err.msg, 1);
  rc = iris_runtime_run(handle, notify, 0, &err);
  if (rc == IRIS_ERUNTIME)
    rc = IRIS_OK;
  if (rc)
    IRIS_LOG_ERR("%s", err.msg);
  iris_notify_free(notify);
  iris_app_cleanup(&app);
  return rc ? 1 : 0;
}
