/*
 * fuzz_host.h — the host services a plugin's fuzz target hands the plugin (fuzz_plugin.c,
 * fuzz_plugin_smtp.c): logging and metrics go nowhere, the clock stands still, every secret
 * resolves to one value, memory is the C allocator's. The target supplies http and
 * http_free (FUZZ_HOST builds the table with them).
 */
#ifndef IRIS_FUZZ_HOST_H
#define IRIS_FUZZ_HOST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"

static void fuzz_host_log(void *data, enum iris_plugin_log_level level, const char *fmt, ...) {
  (void)data;
  (void)level;
  (void)fmt;
}

static int64_t fuzz_host_now(void *data) {
  (void)data;
  return 1764806400000LL;
}

static int fuzz_host_secret(void *data, const char *name, char **value) {
  (void)data;
  (void)name;
  *value = strdup("fuzz-secret-value");
  return *value ? 0 : -1;
}

static void fuzz_host_metric(void *data, const char *name, double value, const char *unit) {
  (void)data;
  (void)name;
  (void)value;
  (void)unit;
}

static void fuzz_host_free(void *data, void *ptr) {
  (void)data;
  free(ptr);
}

#define FUZZ_HOST(http, http_free) \
  { \
    IRIS_PLUGIN_ABI_MAJOR, IRIS_PLUGIN_ABI_MINOR, sizeof(struct iris_plugin_host), NULL, \
        fuzz_host_log, http, http_free, fuzz_host_now, fuzz_host_secret, fuzz_host_metric, \
        fuzz_host_free \
  }

#endif /* IRIS_FUZZ_HOST_H */
