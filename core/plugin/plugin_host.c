/* plugin_host.c — vendor instances and the host services given to plugins (plugin_host.h). */
#include "plugin_host.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "utf8.h"

#define HTTP_MAX_BODY ((size_t)1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_MAX_HEADERS 64

struct iris_vendor {
  struct iris_plugin_host host; /* handed to the plugin; host.data points back here */
  const struct iris_plugin_mode_ops *ops;
  void *instance;
  char *plugin, *mode, *name, *log_module;
  struct iris_vendor_env env;
  struct iris_http *http; /* reused so connections to the vendor stay warm */
};

const char *iris_plugin_status_name(int status) {
  switch (status) {
  case IRIS_PLUGIN_SENT: return "sent";
  case IRIS_PLUGIN_RETRYABLE: return "retryable";
  case IRIS_PLUGIN_PERMANENT: return "permanent";
  case IRIS_PLUGIN_RATE_LIMITED: return "rate_limited";
  default: return "invalid";
  }
}

/* ---- host services --------------------------------------------------------------------- */

static void svc_log(void *data, enum iris_plugin_log_level level, const char *fmt, ...) {
  struct iris_vendor *v = data;
  enum iris_log_level lv = level == IRIS_PLUGIN_LOG_DEBUG  ? IRIS_LOG_LEVEL_DEBUG
                           : level == IRIS_PLUGIN_LOG_INFO ? IRIS_LOG_LEVEL_INFO
                           : level == IRIS_PLUGIN_LOG_WARN ? IRIS_LOG_LEVEL_WARN
                                                           : IRIS_LOG_LEVEL_ERROR;
  va_list ap;
  va_start(ap, fmt);
  iris_log_vwrite(lv, v->log_module, fmt, ap);
  va_end(ap);
}

static int64_t svc_now(void *data) {
  (void)data;
  return iris_clock_now_ms();
}

static void svc_free(void *data, void *p) {
  (void)data;
  iris_free(p);
}

static int svc_secret(void *data, const char *name, char **value) {
  struct iris_vendor *v = data;
  struct iris_err err = {0};
  *value = NULL;
  if (!v->env.secret || !name) {
    IRIS_LOG_WARN("plugin %s asked for secret '%s' but no secret service is configured", v->plugin,
                  name ? name : "(null)");
    return -1;
  }
  if (v->env.secret(v->env.secret_data, name, value, &err)) {
    IRIS_LOG_WARN("plugin %s: secret '%s': %s", v->plugin, name, err.msg);
    return -1;
  }
  return 0;
}

static void svc_metric(void *data, const char *name, double value, const char *unit) {
  struct iris_vendor *v = data;
  const char *dims[] = {"Plugin", v->plugin, "Mode", v->mode, "Vendor", v->name, NULL};
  enum iris_metric_unit u = IRIS_METRIC_NONE;
  if (!v->env.metrics || !name)
    return;
  if (unit && strcmp(unit, "Count") == 0)
    u = IRIS_METRIC_COUNT;
  else if (unit && strcmp(unit, "Milliseconds") == 0)
    u = IRIS_METRIC_MILLISECONDS;
  else if (unit && strcmp(unit, "Bytes") == 0)
    u = IRIS_METRIC_BYTES;
  (void)iris_metrics_put(v->env.metrics, name, value, u, dims);
}

struct http_state {
  struct iris_buf body;
  struct iris_plugin_kv *headers;
  size_t nheaders;
  int oom;
};

static int on_header(void *data, const char *name, size_t name_len, const char *value,
                     size_t value_len) {
  struct http_state *st = data;
  size_t k;
  char *key, *val;
  if (!name) {
    /* A new response (after a 100-continue): forget earlier headers. */
    for (k = 0; k < st->nheaders; k++) {
      iris_free((char *)st->headers[k].key);
      iris_free((char *)st->headers[k].value);
    }
    st->nheaders = 0;
    return 0;
  }
  if (st->nheaders >= HTTP_MAX_HEADERS)
    return 0;
  key = iris_strndup(name, name_len);
  val = iris_strndup(value, value_len);
  if (!key || !val) {
    iris_free(key);
    iris_free(val);
    st->oom = 1;
    return -1;
  }
  for (k = 0; key[k]; k++)
    key[k] = (char)tolower((unsigned char)key[k]);
  st->headers[st->nheaders].key = key;
  st->headers[st->nheaders].value = val;
  st->nheaders++;
  return 0;
}

static void svc_http_free(void *data, struct iris_plugin_http_response *resp) {
  size_t k;
  (void)data;
  if (!resp)
    return;
  for (k = 0; k < resp->nheaders; k++) {
    iris_free((char *)resp->headers[k].key);
    iris_free((char *)resp->headers[k].value);
  }
  iris_free(resp->headers);
  iris_free(resp->body);
  resp->headers = NULL;
  resp->nheaders = 0;
  resp->body = NULL;
  resp->body_len = 0;
}

static int svc_http(void *data, const struct iris_plugin_http_request *req,
                    struct iris_plugin_http_response *resp) {
  struct iris_vendor *v = data;
  struct http_state st;
  struct iris_http_request hreq = {0};
  struct iris_err herr = {0};
  char **lines = NULL;
  size_t k, nlines = 0;
  int hrc, rc = -1;

  /* Only the fields of ABI 1.0 are written; resp->struct_size tells how big it is. */
  resp->transport = IRIS_PLUGIN_HTTP_FAILED;
  resp->status = 0;
  resp->body = NULL;
  resp->body_len = 0;
  resp->headers = NULL;
  resp->nheaders = 0;
  resp->error[0] = '\0';
  memset(&st, 0, sizeof st);
  iris_buf_init(&st.body, HTTP_MAX_BODY);
  if (!req || !req->url || !req->method ||
      (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0)) {
    snprintf(resp->error, sizeof resp->error, "request needs a method and an http(s) URL");
    goto out;
  }
  if (req->nheaders > HTTP_MAX_HEADERS || (req->nheaders && !req->headers)) {
    snprintf(resp->error, sizeof resp->error, "request has %zu headers (at most %d)",
             req->nheaders, HTTP_MAX_HEADERS);
    goto out;
  }
  st.headers = iris_calloc(HTTP_MAX_HEADERS, sizeof *st.headers);
  lines = iris_calloc(req->nheaders ? req->nheaders : 1, sizeof *lines);
  if (!st.headers || !lines) {
    snprintf(resp->error, sizeof resp->error, "out of memory");
    goto out;
  }
  for (k = 0; k < req->nheaders; k++) {
    if (!req->headers[k].key || !req->headers[k].value)
      continue;
    lines[nlines] = iris_asprintf("%s: %s", req->headers[k].key, req->headers[k].value);
    if (!lines[nlines]) {
      snprintf(resp->error, sizeof resp->error, "out of memory");
      goto out;
    }
    nlines++;
  }
  hreq.method = req->method;
  hreq.url = req->url;
  hreq.headers = (const char *const *)lines;
  hreq.nheaders = nlines;
  hreq.body = req->body;
  hreq.body_len = req->body ? req->body_len : 0;
  hreq.basic_user = req->basic_user;
  hreq.basic_password = req->basic_password;
  hreq.timeout_ms = req->timeout_ms;
  /* A vendor URL's path may be the credential itself (a Slack or HipChat webhook). */
  hreq.hide_path = 1;
  hreq.on_header = on_header;
  hreq.header_data = &st;
  hrc = iris_http_perform(v->http, &hreq, &resp->status, &st.body, &herr);
  if (hrc == IRIS_OK) {
    resp->transport = IRIS_PLUGIN_HTTP_OK;
    resp->body = iris_buf_take(&st.body, &resp->body_len);
    if (!resp->body) {
      resp->transport = IRIS_PLUGIN_HTTP_FAILED;
      snprintf(resp->error, sizeof resp->error, "out of memory");
      goto out;
    }
    resp->headers = st.headers;
    resp->nheaders = st.nheaders;
    st.headers = NULL;
    st.nheaders = 0;
    rc = 0;
  } else {
    resp->transport = hrc == IRIS_ETIMEOUT  ? IRIS_PLUGIN_HTTP_TIMEOUT
                      : hrc == IRIS_ETOOBIG ? IRIS_PLUGIN_HTTP_TOO_BIG
                      : hrc == IRIS_ECONN   ? IRIS_PLUGIN_HTTP_CONNECT
                                            : IRIS_PLUGIN_HTTP_FAILED;
    snprintf(resp->error, sizeof resp->error, "%.*s", (int)sizeof resp->error - 1, herr.msg);
  }
out:
  for (k = 0; k < nlines; k++) {
    /* header lines carry the vendor's tokens; volatile so the wipe is not optimised away */
    volatile char *c = lines[k];
    while (*c)
      *c++ = '\0';
    iris_free(lines[k]);
  }
  iris_free(lines);
  if (st.headers) {
    for (k = 0; k < st.nheaders; k++) {
      iris_free((char *)st.headers[k].key);
      iris_free((char *)st.headers[k].value);
    }
    iris_free(st.headers);
  }
  iris_buf_cleanup(&st.body);
  return rc;
}

/* ---- instances --------------------------------------------------------------------------- */

void iris_vendor_free(struct iris_vendor *v) {
  if (!v)
    return;
  if (v->instance)
    v->ops->destroy(v->instance);
  iris_http_free(v->http);
  iris_free(v->plugin);
  iris_free(v->mode);
  iris_free(v->name);
  iris_free(v->log_module);
  iris_free(v);
}

int iris_vendor_new(const struct iris_plugins *plugins, const char *plugin, const char *mode,
                    const char *name, const struct iris_plugin_kv *config, size_t nconfig,
                    const struct iris_vendor_env *env, struct iris_vendor **out,
                    struct iris_err *err) {
  const struct iris_plugin_mode_ops *ops;
  struct iris_vendor *v = NULL;
  char why[512] = "";
  int rc = IRIS_OK;

  *out = NULL;
  ops = iris_plugins_find(plugins, plugin, mode);
  if (!ops)
    return iris_err_set(err, IRIS_ENOTFOUND, "vendor %s: no loaded plugin '%s' serves mode '%s'",
                        name, plugin, mode);
  v = iris_calloc(1, sizeof *v);
  if (!v)
    return iris_err_set(err, IRIS_ENOMEM, "vendor %s: allocating", name);
  v->ops = ops;
  v->plugin = iris_strdup(plugin);
  v->mode = iris_strdup(mode);
  v->name = iris_strdup(name);
  v->log_module = iris_asprintf("plugin:%s", plugin);
  if (!v->plugin || !v->mode || !v->name || !v->log_module) {
    rc = iris_err_set(err, IRIS_ENOMEM, "vendor %s: allocating", name);
    goto out;
  }
  {
    struct iris_http_opts hopts = {0};
    hopts.connect_timeout_ms = 5000;
    hopts.timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    rc = iris_http_new(&hopts, &v->http, err);
    if (rc) {
      iris_err_prefix(err, "vendor %s", name);
      goto out;
    }
  }
  if (env)
    v->env = *env;
  v->host.abi_major = IRIS_PLUGIN_ABI_MAJOR;
  v->host.abi_minor = IRIS_PLUGIN_ABI_MINOR;
  v->host.struct_size = sizeof v->host;
  v->host.data = v;
  v->host.log = svc_log;
  v->host.http = svc_http;
  v->host.http_free = svc_http_free;
  v->host.now_ms = svc_now;
  v->host.get_secret = svc_secret;
  v->host.metric = svc_metric;
  v->host.free = svc_free;
  if (ops->init(&v->host, name, config, nconfig, &v->instance, why, sizeof why) != 0) {
    v->instance = NULL;
    why[sizeof why - 1] = '\0';
    rc = iris_err_set(err, IRIS_EPLUGIN, "vendor %s (plugin %s, mode %s): init failed: %s", name,
                      plugin, mode, why[0] ? why : "no reason given");
    goto out;
  }
  *out = v;
  v = NULL;
out:
  iris_vendor_free(v);
  return rc;
}

/*
 * Make a plugin's text in a fixed buffer safe to record: NUL-terminated inside the buffer,
 * valid UTF-8 (each byte of a broken sequence, including one cut by the buffer's end,
 * becomes '?'), and control characters replaced ('?' in an id, ' ' in an error text), so
 * the text cannot break a log line, a JSON document or a database column.
 * Returns 1 if anything was changed.
 */
static int sanitize_text(char *s, size_t size, char control) {
  unsigned char *p = (unsigned char *)s;
  size_t n, i = 0, len;
  int changed = 0;
  if (s[size - 1] != '\0') {
    s[size - 1] = '\0';
    changed = 1;
  }
  n = strlen(s);
  while (i < n) {
    len = iris_utf8_seq(s + i, n - i);
    if (len == 0) {
      p[i++] = '?';
      changed = 1;
    } else if (len == 1 && (p[i] < 0x20 || p[i] == 0x7F)) {
      p[i++] = (unsigned char)control;
      changed = 1;
    } else {
      i += len;
    }
  }
  return changed;
}

void iris_vendor_send(struct iris_vendor *v, const struct iris_plugin_message *msg,
                      struct iris_plugin_result *r) {
  int64_t asked;
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  r->status = (enum iris_plugin_status) - 1;
  v->ops->send(v->instance, msg, r);
  /* Never trust what came back: terminate and clean the texts, range-check the status,
   * bound the retry delay. */
  if (sanitize_text(r->vendor_message_id, sizeof r->vendor_message_id, '?'))
    IRIS_LOG_WARN("plugin %s: vendor message id was not terminated, valid UTF-8 text; "
                  "repaired",
                  v->plugin);
  (void)sanitize_text(r->error, sizeof r->error, ' ');
  if ((int)r->status < IRIS_PLUGIN_SENT || (int)r->status > IRIS_PLUGIN_RATE_LIMITED) {
    int bad = (int)r->status;
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error,
             "plugin %s returned no valid status (%d); treated as retryable", v->plugin, bad);
  }
  asked = r->retry_after_ms;
  if (r->status == IRIS_PLUGIN_SENT || r->status == IRIS_PLUGIN_PERMANENT) {
    r->retry_after_ms = 0; /* nothing is retried */
  } else if (asked < 0) {
    IRIS_LOG_WARN("plugin %s: retry_after_ms %" PRId64 " is negative; ignored", v->plugin, asked);
    r->retry_after_ms = 0;
  } else if (asked > IRIS_PLUGIN_RETRY_AFTER_MAX_MS) {
    IRIS_LOG_WARN("plugin %s: retry_after_ms %" PRId64 " is above the maximum; %ld ms used",
                  v->plugin, asked, (long)IRIS_PLUGIN_RETRY_AFTER_MAX_MS);
    r->retry_after_ms = IRIS_PLUGIN_RETRY_AFTER_MAX_MS;
  }
  if (r->status == IRIS_PLUGIN_RATE_LIMITED && r->retry_after_ms == 0)
    r->retry_after_ms = 1000;
  if (r->status != IRIS_PLUGIN_SENT && r->error[0] == '\0')
    snprintf(r->error, sizeof r->error, "plugin %s: %s without a reason", v->plugin,
             iris_plugin_status_name(r->status));
}

int iris_vendor_health(struct iris_vendor *v, struct iris_err *err) {
  char why[512] = "";
  if (!IRIS_PLUGIN_HAS(v->ops, struct iris_plugin_mode_ops, health) || !v->ops->health)
    return iris_err_set(err, IRIS_EUNSUPPORTED, "vendor %s: plugin %s has no health check",
                        v->name, v->plugin);
  if (v->ops->health(v->instance, why, sizeof why) != 0) {
    why[sizeof why - 1] = '\0';
    return iris_err_set(err, IRIS_EPLUGIN, "vendor %s: unhealthy: %s", v->name, why);
  }
  return IRIS_OK;
}

const char *iris_vendor_name(const struct iris_vendor *v) { return v->name; }
const char *iris_vendor_plugin(const struct iris_vendor *v) { return v->plugin; }
const char *iris_vendor_mode(const struct iris_vendor *v) { return v->mode; }
