/*
 * iris-sender — the sender function's bootstrap (core/sender.h does the work).
 *
 *   inside Lambda (AWS_LAMBDA_RUNTIME_API set): serve SQS events from the event source
 *   mappings, answering partial batch responses;
 *   `iris-sender --worker [LANE...]`: long-poll the lanes' queues (default: all configured
 *   lanes) until SIGTERM/SIGINT — for local runs and containers;
 *   `--max-idle N` stops the worker after N empty polls in a row (tests, demos).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "runtime.h"
#include "sender.h"

#define IRIS_LOG_MODULE "sender"
#include "log.h"

static volatile sig_atomic_t stop_flag;
static volatile int stop_int;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
  stop_int = 1;
}

static int handle(void *data, const struct iris_runtime_invocation *inv, const char *event,
                  size_t len, struct iris_buf *response, struct iris_err *err) {
  return iris_sender_handle_event(data, inv->request_id, event, len, response, err);
}

int main(int argc, char **argv) {
  static const char *const all_lanes[] = {"email", "sms", "call", "im", "slack", "hipchat"};
  struct iris_app app;
  struct iris_sender *sender = NULL;
  struct iris_err err = {0};
  const char *lanes[16];
  size_t nlanes = 0;
  int worker = 0, max_idle = 0, i, rc;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--worker") == 0)
      worker = 1;
    else if (strcmp(argv[i], "--max-idle") == 0 && i + 1 < argc)
      max_idle = atoi(argv[++i]); /* checksrc:allow */
    else if (nlanes < 16)
      lanes[nlanes++] = argv[i];
  }
  rc = iris_app_init(&app, "sender", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_sender_new(&app, &sender, &err);
  if (rc) {
    if (!worker && getenv("AWS_LAMBDA_RUNTIME_API")) {
      struct iris_err rerr = {0};
      if (iris_runtime_init_error(rc, err.msg, &rerr))
        IRIS_LOG_ERR("could not report the init error: %s", rerr.msg);
    } else {
      IRIS_LOG_ERR("start-up failed: %s", err.msg);
    }
    iris_app_cleanup(&app);
    return 1;
  }
  if (worker) {
    if (!nlanes) {
      for (i = 0; i < 6; i++) {
        char path[32];
        const char *url = NULL;
        struct iris_err ignored = {0};
        snprintf(path, sizeof path, "queues.%s", all_lanes[i]);
        if (iris_config_str_or(app.cfg, path, NULL, &url, &ignored) == IRIS_OK && url)
          lanes[nlanes++] = all_lanes[i];
      }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    IRIS_LOG_INFO("worker polling %zu lane(s)", nlanes);
    rc = iris_sender_work(sender, lanes, nlanes, &stop_int, max_idle, &err);
  } else {
    rc = iris_runtime_run(handle, sender, 0, &err);
    if (rc == IRIS_ERUNTIME)
      rc = IRIS_OK;
  }
  if (rc)
    IRIS_LOG_ERR("%s", err.msg);
  iris_sender_free(sender);
  iris_app_cleanup(&app);
  return rc ? 1 : 0;
}
