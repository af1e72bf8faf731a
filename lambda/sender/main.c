/*
 * iris-sender — the sender function's bootstrap (core/sender/sender.h does the work).
 *
 *   inside Lambda (AWS_LAMBDA_RUNTIME_API set): serve SQS events from the event source
 *   mappings, answering partial batch responses;
 *   `iris-sender --worker [LANE...]`: long-poll the lanes' queues (default: all configured
 *   lanes) until SIGTERM/SIGINT — for local runs and containers;
 *   `--max-idle N` stops the worker after N empty polls in a row (tests, demos).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "contract.h"
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
  return iris_sender_handle_event(data, inv->request_id, inv->deadline_ms, event, len, response,
                                  err);
}

static const char usage[] =
    "usage: iris-sender                      serve SQS events under the Lambda Runtime API\n"
    "       iris-sender --worker [--max-idle N] [LANE...]\n"
    "                                        long-poll the lanes' queues (default: every\n"
    "                                        lane with a queues.<lane> URL configured)\n"
    "       iris-sender --help\n"
    "lanes: email sms call im slack hipchat notifications\n"
    "configuration: $IRIS_CONFIG (file), $IRIS_CONFIG_JSON, IRIS__SECTION__KEY overrides\n";

/* A whole decimal number in [lo, hi], or -1. */
static long parse_count(const char *s, long lo, long hi) {
  char *end = NULL;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return -1;
  return v;
}

int main(int argc, char **argv) {
  const char *const *all_lanes = iris_contract_lanes();
  struct iris_app app;
  struct iris_sender *sender = NULL;
  struct iris_err err = {0};
  const char *lanes[16];
  size_t nlanes = 0;
  int worker = 0, max_idle = 0, i, rc;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--worker") == 0) {
      worker = 1;
    } else if (strcmp(argv[i], "--max-idle") == 0 && i + 1 < argc) {
      long v = parse_count(argv[++i], 0, 1000000);
      if (v < 0) {
        fprintf(stderr, "iris-sender: --max-idle takes a whole number from 0 to 1000000\n%s",
                usage);
        return 2;
      }
      max_idle = (int)v;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "iris-sender: unknown option %s\n%s", argv[i], usage);
      return 2;
    } else {
      const char *const *l = all_lanes;
      while (*l && strcmp(*l, argv[i]) != 0)
        l++;
      if (!*l || nlanes >= sizeof lanes / sizeof lanes[0]) {
        fprintf(stderr, "iris-sender: %s: not a lane (or too many lanes)\n%s", argv[i], usage);
        return 2;
      }
      lanes[nlanes++] = *l;
    }
  }
  rc = iris_app_init(&app, "sender", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_sender_new(&app, &sender, &err);
  if (rc)
    return iris_app_start_failed(&app, rc, err.msg, !worker);
  if (worker) {
    if (!nlanes) {
      for (i = 0; all_lanes[i]; i++) {
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
