/*
 * hello.c — a complete third-party vendor plugin for the Iris Serverless Sender, kept small
 * on purpose: it serves the "sms" mode by POSTing JSON to a webhook URL.
 *
 * Build (against the installed ABI only):
 *   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags iris-plugin) hello.c -o iris-hello.so
 * Try it:
 *   iris-plugin-harness --load ./iris-hello.so --plugin hello --mode sms \
 *       --set url=http://127.0.0.1:8080/hook --messages message.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iris_plugin.h>

struct hello {
  const struct iris_plugin_host *host;
  char url[512];
};

static int hello_init(const struct iris_plugin_host *host, const char *name,
                      const struct iris_plugin_kv *config, size_t nconfig, void **instance,
                      char *error, size_t error_size) {
  struct hello *h;
  size_t i;
  (void)name;
  h = calloc(1, sizeof *h);
  if (!h) {
    snprintf(error, error_size, "out of memory");
    return -1;
  }
  h->host = host;
  /* config lives only during init: copy what is kept, and refuse what does not fit. */
  for (i = 0; i < nconfig; i++) {
    if (strcmp(config[i].key, "url") != 0) {
      snprintf(error, error_size, "unknown option '%.100s'", config[i].key);
      free(h);
      return -1;
    }
    if (strlen(config[i].value) >= sizeof h->url) {
      snprintf(error, error_size, "option 'url' is longer than %zu bytes", sizeof h->url - 1);
      free(h);
      return -1;
    }
    memcpy(h->url, config[i].value, strlen(config[i].value) + 1);
  }
  if (!h->url[0]) {
    snprintf(error, error_size, "option 'url' is required");
    free(h);
    return -1;
  }
  *instance = h;
  return 0;
}

static void hello_send(void *instance, const struct iris_plugin_message *m,
                       struct iris_plugin_result *r) {
  struct hello *h = instance;
  struct iris_plugin_kv headers[] = {{"Content-Type", "application/json"}};
  struct iris_plugin_http_request req = {0};
  struct iris_plugin_http_response resp = {0};
  char body[256];

  /* A real plugin escapes user text properly; here only the message id is sent. */
  snprintf(body, sizeof body, "{\"message_id\": \"%s\", \"to\": \"%s\"}",
           m->message_id ? m->message_id : "", m->ndestinations ? m->destinations[0] : "");
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = h->url;
  req.headers = headers;
  req.nheaders = 1;
  req.body = body;
  req.body_len = strlen(body);
  resp.struct_size = sizeof resp;
  if (h->host->http(h->host->data, &req, &resp) != 0) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "webhook unreachable: %s", resp.error);
  } else if (resp.status == 429) {
    r->status = IRIS_PLUGIN_RATE_LIMITED;
    r->retry_after_ms = 1000;
    snprintf(r->error, sizeof r->error, "webhook rate-limited us");
  } else if (resp.status >= 500) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "webhook answered %ld", resp.status);
  } else if (resp.status >= 400) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "webhook refused the message: %ld", resp.status);
  } else {
    r->status = IRIS_PLUGIN_SENT;
    snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "hello-%s",
             m->message_id ? m->message_id : "0");
  }
  h->host->http_free(h->host->data, &resp);
}

static void hello_destroy(void *instance) { free(instance); }

static const struct iris_plugin_mode_ops sms_ops =
    {sizeof(struct iris_plugin_mode_ops), "sms", hello_init, hello_send, hello_destroy, NULL};
static const struct iris_plugin_mode_ops *const modes[] = {&sms_ops};
static const struct iris_plugin_descriptor descriptor =
    {IRIS_PLUGIN_DESCRIPTOR_HEAD, "hello", "0.1.0", "example.com", modes, 1};

IRIS_PLUGIN_EXPORT const struct iris_plugin_descriptor *iris_plugin_entry(void) {
  return &descriptor;
}
