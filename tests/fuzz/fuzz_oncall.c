/*
 * fuzz_oncall.c — Oncall's answers (core/clients/oncall.c) over fake_curl.c: team, manager,
 * director and on-call lookups get a fuzzed status and body; a successful answer must give
 * sorted, unique, NUL-terminated names.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_common.h"
#include "log.h"
#include "oncall.h"

static struct fuzz_answer answers[4];
static size_t nanswers, served;

static const struct fuzz_answer *next(void) {
  return served < nanswers ? &answers[served++] : NULL;
}

/* One client for every input: its cache time is 0, so no answer outlives the input that
 * brought it (each lookup forgets older ones first) and inputs stay independent. */
static struct iris_oncall *client(void) {
  static struct iris_oncall *oc;
  struct iris_oncall_opts o = {0};
  struct iris_err err = {0};
  if (oc)
    return oc;
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  fuzz_http_set(next);
  o.api = "http://127.0.0.1:9/api/v0";
  o.app = "iris";
  o.key = "fuzz-key";
  o.cache_seconds = 0;
  if (iris_oncall_new(&o, &oc, &err))
    abort();
  return oc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const roles[] = {"team",   "manager",        "director",
                                      "oncall", "oncall-primary", "oncall-secondary"};
  struct iris_oncall *oc = client();
  struct iris_err err = {0};
  const char *const *names = NULL;
  size_t n = 0, i;
  if (size < 1)
    return 0;
  nanswers = fuzz_split(data + 1, size - 1, answers, sizeof answers / sizeof answers[0]);
  served = 0;
  if (iris_oncall_get(oc, roles[data[0] % 6], "storage team", &names, &n, &err) == IRIS_OK) {
    for (i = 0; i < n; i++)
      if (!names[i] || (i && strcmp(names[i - 1], names[i]) >= 0))
        __builtin_trap();
  } else {
    fuzz_check_err(&err);
  }
  return 0;
}
