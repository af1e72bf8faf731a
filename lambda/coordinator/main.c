/*
 * iris-coordinator — the coordinator function's bootstrap. The work is in
 * core/coordinator/coordinator.h; this reads the configuration and serves invocations, or
 * runs the same ticks in a loop outside Lambda.
 *
 *   iris-coordinator                 run under the Lambda Runtime API
 *   iris-coordinator --loop [--clock-scale N] [--ticks K]
 *                                    tick continuously until SIGINT/SIGTERM (local runs)
 *   iris-coordinator --help          this text
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "buf.h"
#include "coordinator.h"
#include "runtime.h"

#define IRIS_LOG_MODULE "coordinator"
#include "log.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static const char usage[] =
    "usage: iris-coordinator          serve scheduled invocations under the Lambda Runtime\n"
    "                                 API ($AWS_LAMBDA_RUNTIME_API)\n"
    "       iris-coordinator --loop [--clock-scale N] [--ticks K]\n"
    "                                 outside Lambda: tick every coordinator.tick_seconds,\n"
    "                                 the same work as an invocation, holding the MySQL lease\n"
    "                                 (waiting while another coordinator holds it), until\n"
    "                                 SIGINT/SIGTERM: the current tick finishes, the lease is\n"
    "                                 released and a summary is printed\n"
    "         --clock-scale N         (with --loop only) a compressed clock for trying plans\n"
    "                                 on a TEST database: waits, repeats and aggregation\n"
    "                                 windows pass N (1-10000) times faster; rows are stamped\n"
    "                                 ahead of real time. Never against a real database.\n"
    "         --ticks K               stop after K ticks (default: until stopped)\n"
    "       iris-coordinator --help\n"
    "configuration: $IRIS_CONFIG (file), $IRIS_CONFIG_JSON, IRIS__SECTION__KEY overrides\n";

/* A whole decimal number in [lo, hi], or -1. */
static long long parse_count(const char *s, long long lo, long long hi) {
  char *end = NULL;
  long long v;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return -1;
  return v;
}

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "iris-coordinator: %s%s\n%s", what, arg ? arg : "", usage);
  return 2;
}

/* The local loop: signals stop it after the current tick; the summary goes to stdout. */
static int loop(struct iris_coordinator *c, const struct iris_coordinator_loop_opts *o,
                struct iris_err *err) {
  struct sigaction sa;
  struct iris_buf out;
  int rc;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART; /* database and SQS calls in flight go on; the tick ends whole */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  iris_buf_init(&out, 64 * 1024);
  rc = iris_coordinator_loop(c, o, &out, err);
  if (rc == IRIS_OK)
    printf("%s\n", iris_buf_ptr(&out));
  iris_buf_cleanup(&out);
  return rc;
}

int main(int argc, char **argv) {
  struct iris_app app;
  struct iris_coordinator *c = NULL;
  struct iris_coordinator_loop_opts lo = {1, 0, &stop_flag};
  struct iris_err err = {0};
  int looping = 0, scaled = 0, i, rc;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--loop") == 0) {
      looping = 1;
    } else if (strcmp(argv[i], "--clock-scale") == 0 && i + 1 < argc) {
      if ((lo.clock_scale = parse_count(argv[++i], 1, 10000)) < 0)
        return usage_error("--clock-scale takes a whole number from 1 to 10000: ", argv[i]);
      scaled = 1;
    } else if (strcmp(argv[i], "--ticks") == 0 && i + 1 < argc) {
      if ((lo.max_ticks = parse_count(argv[++i], 1, 1000000000)) < 0)
        return usage_error("--ticks takes a whole number from 1 to 1000000000: ", argv[i]);
    } else {
      return usage_error("unknown argument ", argv[i]);
    }
  }
  if ((scaled || lo.max_ticks) && !looping)
    return usage_error("--clock-scale and --ticks are for the local loop only (--loop)", NULL);
  /* A compressed clock stamps rows ahead of real time: never inside a deployed function. */
  if (scaled && getenv("AWS_LAMBDA_FUNCTION_NAME"))
    return usage_error("--clock-scale refused inside a Lambda function (AWS_LAMBDA_FUNCTION_NAME"
                       " is set): it is for trying plans on a test database",
                       NULL);
  rc = iris_app_init(&app, "coordinator", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_coordinator_new(&app, &c, &err);
  if (rc)
    return iris_app_start_failed(&app, rc, err.msg, !looping);
  if (looping) {
    rc = loop(c, &lo, &err);
  } else {
    rc = iris_runtime_run(iris_coordinator_handle, c, 0, &err);
    if (rc == IRIS_ERUNTIME)
      rc = IRIS_OK;
  }
  if (rc)
    IRIS_LOG_ERR("%s", err.msg);
  iris_coordinator_free(c);
  iris_app_cleanup(&app);
  return rc ? 1 : 0;
}
