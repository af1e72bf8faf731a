/*
 * iris-notify-cli — the notify function's enqueue path and status lookup from a shell, for
 * producers without HTTP and for operators' checks. The same code as the API (core/notify),
 * minus the HMAC: whoever runs it has the database and queue credentials already.
 *
 *   iris-notify-cli submit --app NAME [--idempotency-key KEY] [FILE|-]
 *   iris-notify-cli status --app NAME ID
 *
 * Prints one JSON line {"status": HTTP status, "id": notification id or null, "answer": the
 * API's answer}; exits 0 for a 2xx answer, 1 for any other, 2 for a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "app.h"
#include "buf.h"
#include "notify.h"

#define IRIS_LOG_MODULE "notify-cli"
#include "log.h"

static const char usage[] =
    "usage: iris-notify-cli submit --app NAME [--idempotency-key KEY] [FILE|-]\n"
    "       iris-notify-cli status --app NAME ID\n"
    "Prints {\"status\":N,\"id\":...,\"answer\":...}; exit 0 on a 2xx answer, 1 otherwise.\n"
    "configuration: $IRIS_CONFIG (file), $IRIS_CONFIG_JSON, IRIS__SECTION__KEY overrides\n";

/* Read a whole stream into b (capped by b's max). */
static int slurp(FILE *f, struct iris_buf *b) {
  char chunk[8192];
  size_t got;
  int rc = IRIS_OK;
  while (rc == IRIS_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
    rc = iris_buf_append(b, chunk, got);
  return rc == IRIS_OK && ferror(f) ? IRIS_EIO : rc;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "", *application = NULL, *key = NULL, *arg = NULL;
  struct iris_app app;
  struct iris_notify *notify = NULL;
  struct iris_notify_answer a = {0};
  struct iris_err err = {0};
  struct iris_buf body;
  json_t *answer, *line;
  char *text;
  int i, rc;

  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--app") == 0 && i + 1 < argc)
      application = argv[++i];
    else if (strcmp(argv[i], "--idempotency-key") == 0 && i + 1 < argc)
      key = argv[++i];
    else if (!arg && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
      arg = argv[i];
    else
      break;
  }
  if (i < argc || !application || (strcmp(cmd, "submit") != 0 && strcmp(cmd, "status") != 0) ||
      (strcmp(cmd, "status") == 0 && (!arg || key))) {
    fputs(usage, stderr);
    return 2;
  }
  memset(&app, 0, sizeof app);
  iris_buf_init(&body, 8u * 1024 * 1024);
  if (strcmp(cmd, "submit") == 0) {
    FILE *f = !arg || strcmp(arg, "-") == 0 ? stdin : fopen(arg, "rb");
    if (!f) {
      fprintf(stderr, "iris-notify-cli: %s: %s\n", arg, strerror(errno));
      return 2;
    }
    rc = slurp(f, &body);
    if (f != stdin)
      fclose(f);
    if (rc) {
      fprintf(stderr, "iris-notify-cli: could not read the request (%s)\n", iris_rc_str(rc));
      iris_buf_cleanup(&body);
      return 2;
    }
  }
  rc = iris_app_init(&app, "notify", IRIS_APP_DB | IRIS_APP_SQS, &err);
  if (rc == IRIS_OK)
    rc = iris_notify_new(&app, &notify, &err);
  if (rc == IRIS_OK && strcmp(cmd, "submit") == 0)
    rc = iris_notify_submit(notify, application, key,
                            iris_buf_ptr(&body) ? iris_buf_ptr(&body) : "", iris_buf_len(&body),
                            &a, &err);
  else if (rc == IRIS_OK)
    rc = iris_notify_status(notify, application, arg, &a, &err);
  if (rc) {
    IRIS_LOG_ERR("%s", err.msg);
    iris_notify_free(notify);
    iris_app_cleanup(&app);
    iris_buf_cleanup(&body);
    return 1;
  }
  answer = a.body && *a.body ? json_loads(a.body, 0, NULL) : json_null();
  line = json_pack("{s:i, s:s?, s:o}", "status", a.status, "id", a.notification_id, "answer",
                   answer ? answer : json_null());
  text = line ? json_dumps(line, JSON_COMPACT) : NULL;
  if (text)
    printf("%s\n", text);
  rc = a.status >= 200 && a.status < 300 ? 0 : 1;
  iris_free(text);
  json_decref(line);
  iris_notify_answer_cleanup(&a);
  iris_notify_free(notify);
  iris_app_cleanup(&app);
  iris_buf_cleanup(&body);
  return rc;
}
