/*
 * iris-recipients — core/iris/recipients.h from the command line, for Python tests of the Oncall
 * role lookups (tests/integration/test_oncall.py) and for poking at a stack by hand.
 *
 *   iris-recipients [--tables] < lookups
 *
 * Starts like a function does (iris_app_init with a database: $IRIS_CONFIG / $IRIS_CONFIG_JSON,
 * the `oncall` section builds app.oncall), then reads one lookup per line, "<role>\t<target>",
 * and prints one JSON line per lookup:
 *   {"role": "oncall", "target": "t", "rc": "IRIS_OK", "names": ["ada"], "error": ""}
 * A line "sleep\t<ms>" waits (cache expiry tests) and prints nothing. --tables passes no Oncall
 * client, as the callers did before Oncall was wired. Exit 0 after the last line, 2 if start-up
 * failed (the error goes to stderr). Everything lives in one process, so its Oncall cache too.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "app.h"
#include "clock.h"
#include "recipients.h"

static int lookup(struct iris_app *app, int tables, const char *role, const char *target) {
  struct iris_recipients who = {0};
  struct iris_err err = {0};
  json_t *line = NULL, *names = NULL;
  char *text = NULL;
  size_t i;
  int rc, out = 1;

  struct iris_recipients_opts ro = {tables ? NULL : app->oncall, 0};
  int64_t cap = 0;
  if (iris_config_i64_or(app->cfg, "ldap_lists.max_unrolled_users", 0, 0, 1000000000, &cap,
                         &err) == IRIS_OK)
    ro.max_unrolled_users = cap;
  rc = iris_recipients_expand(app->db, &ro, role, target, &who, &err);
  names = json_array();
  for (i = 0; names && i < who.n; i++)
    if (json_array_append_new(names, json_string(who.names[i])))
      goto done;
  line = json_pack("{s:s, s:s, s:s, s:O, s:s}", "role", role, "target", target, "rc",
                   iris_rc_name(rc), "names", names, "error", rc ? err.msg : "");
  text = line ? json_dumps(line, JSON_COMPACT) : NULL;
  if (text) {
    puts(text);
    fflush(stdout);
    out = 0;
  }
done:
  iris_free(text);
  json_decref(line);
  json_decref(names);
  iris_recipients_cleanup(&who);
  return out;
}

int main(int argc, char **argv) {
  struct iris_app app;
  struct iris_err err = {0};
  char buf[4096];
  int tables = argc > 1 && strcmp(argv[1], "--tables") == 0, rc;

  rc = iris_app_init(&app, "recipients-cli", IRIS_APP_DB, &err);
  if (rc) {
    fprintf(stderr, "iris-recipients: %s: %s\n", iris_rc_name(rc), err.msg);
    return 2;
  }
  while (rc == 0 && fgets(buf, sizeof buf, stdin)) {
    char *tab = strchr(buf, '\t'), *end = buf + strcspn(buf, "\r\n");
    *end = '\0';
    if (!tab || tab > end) {
      fprintf(stderr, "iris-recipients: expected \"<role>\\t<target>\", got \"%s\"\n", buf);
      continue;
    }
    *tab = '\0';
    if (strcmp(buf, "sleep") == 0)
      iris_clock_sleep_ms(strtoll(tab + 1, NULL, 10));
    else
      rc = lookup(&app, tables, buf, tab + 1);
  }
  iris_app_cleanup(&app);
  return rc;
}
