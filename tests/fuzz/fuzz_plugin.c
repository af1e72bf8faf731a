/*
 * fuzz_plugin.c — a vendor plugin's handling of its vendor's answers. Built once per plugin
 * with that plugin's source (FUZZ_PLUGIN names it; FUZZ_CONFIG its configuration): the host
 * services are minimal, and host->http answers with the fuzzed status and body (first byte:
 * status, then the body; "\n--\n" separates the answers of consecutive requests; the first
 * byte of the input picks the mode). The result must be a known status with NUL-terminated,
 * bounded texts, and a retry-after that is not negative.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_host.h"
#include "iris_plugin.h"

static struct fuzz_answer answers[4];
static size_t nanswers, served;

static int host_http(void *data, const struct iris_plugin_http_request *req,
                     struct iris_plugin_http_response *resp) {
  const struct fuzz_answer *a = served < nanswers ? &answers[served++] : NULL;
  (void)data;
  (void)req;
  resp->transport = IRIS_PLUGIN_HTTP_OK;
  resp->headers = NULL;
  resp->nheaders = 0;
  resp->error[0] = '\0';
  if (!a || a->status == 0) {
    resp->transport = IRIS_PLUGIN_HTTP_CONNECT;
    resp->status = 0;
    resp->body = NULL;
    resp->body_len = 0;
    snprintf(resp->error, sizeof resp->error, "fuzz: no answer");
    return -1;
  }
  resp->status = a->status;
  resp->body = malloc(a->body_len + 1);
  if (!resp->body)
    abort();
  memcpy(resp->body, a->body, a->body_len);
  resp->body[a->body_len] = '\0';
  resp->body_len = a->body_len;
  return 0;
}

static void host_http_free(void *data, struct iris_plugin_http_response *resp) {
  (void)data;
  free(resp->body);
  resp->body = NULL;
}

static const struct iris_plugin_host host = FUZZ_HOST(host_http, host_http_free);

#define KV(k, v) \
  { k, v }
static const struct iris_plugin_kv config[] = {FUZZ_CONFIG};

/* The instances, one per mode, created at the first input: the configuration is fixed, so
 * creating them again for every input would only spend time. (The plugins keep no state
 * between sends; one that did would make a finding depend on earlier inputs.) */
static void *instances[8];

static void *instance(const struct iris_plugin_mode_ops *ops, size_t k) {
  char error[256];
  if (!instances[k] && ops->init(&host, "fuzz", config, sizeof config / sizeof config[0],
                                 &instances[k], error, sizeof error)) {
    fprintf(stderr, "fuzz: %s init: %s\n", ops->mode, error);
    abort(); /* the configuration is ours: it must be accepted */
  }
  return instances[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct iris_plugin_descriptor *d = iris_plugin_entry();
  const char *dest[] = {"+15550100101"};
  struct iris_plugin_message m = {0};
  const struct iris_plugin_mode_ops *ops;
  struct iris_plugin_result r;
  size_t k;
  if (size < 1 || d->nmodes > sizeof instances / sizeof instances[0])
    return 0;
  k = data[0] % d->nmodes; /* the first byte picks the mode */
  ops = d->modes[k];
  m.struct_size = sizeof m;
  m.message_id = "9101";
  m.mode = ops->mode;
  m.destinations = dest;
  m.ndestinations = 1;
  m.subject = "Disk alert \xe2\x98\x83";
  m.body = "db-1 is almost full";
  m.application = "Autoalerts";
  m.priority = "high";
  m.incident_id = 500;
  m.target = "ada";
  nanswers = fuzz_split(data + 1, size - 1, answers, sizeof answers / sizeof answers[0]);
  served = 0;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  ops->send(instance(ops, k), &m, &r);
  if (r.status > IRIS_PLUGIN_RATE_LIMITED || r.retry_after_ms < 0 ||
      strnlen(r.error, sizeof r.error) == sizeof r.error ||
      strnlen(r.vendor_message_id, sizeof r.vendor_message_id) == sizeof r.vendor_message_id)
    __builtin_trap();
  return 0;
}
