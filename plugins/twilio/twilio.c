/*
 * twilio.c — the "twilio" vendor plugin: modes sms and call through Twilio's REST API
 * (2010-04-01, form-encoded, HTTP Basic auth with the account SID and auth token).
 *
 * Behaviour ported from Iris's Twilio vendor:
 *   text = subject and body, each stripped, the non-empty ones joined with ". ";
 *   SMS: To, From, Body (at most 1600 characters), StatusCallback = <relay>/api/v0/twilio/status;
 *   call: To, From, StatusCallback, Url = <relay><endpoint>?content=<text, at most 480
 *         characters>&loop=3&source=<application>[&message_id=<id>&instruction=<menu>],
 *         the gather endpoint when there is a message id (the callee can press 2 to claim),
 *         the say endpoint otherwise.
 * Differences, on purpose: a text over the limit is cut with a visible marker instead of
 * silently; the vendor SID is returned to the host (which records it for delivery status);
 * answers are classified (429 → rate-limited with Retry-After, invalid number → permanent,
 * 5xx/timeouts → retryable) instead of an exception that rotated vendors blindly.
 *
 * Options: account_sid, auth_token (a secret: write it as "secretsmanager:<id>"), from_number,
 * from.<application>=<number> (per-application caller id), relay_base_url, say_endpoint,
 * gather_endpoint, instruction, api_base (default https://api.twilio.com), timeout_ms.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"
#include "plugin_opts.h"
#include "plugin_util.h"

#define SMS_MAX 1600
#define CALL_MAX 480
#define CUT_MARKER " [truncated]"

struct twilio {
  const struct iris_plugin_host *host;
  int is_call;
  char *name, *sid, *token, *from, *relay, *say, *gather, *instruction, *api;
  struct iris_plugin_kv *app_from;
  size_t napp_from;
  long timeout_ms;
};

static const struct pu_opt options[] =
    {PU_STR("account_sid", 1, NULL, struct twilio, sid),
     PU_SECRET("auth_token", 1, struct twilio, token),
     {"from_number", PU_OPT_STR, 1, NULL, 0, 0, 0, offsetof(struct twilio, from), "twilio_number"},
     PU_STR("relay_base_url", 1, NULL, struct twilio, relay),
     PU_STR("say_endpoint", 0, "/api/v0/twilio/calls/say", struct twilio, say),
     PU_STR("gather_endpoint", 0, "/api/v0/twilio/calls/gather", struct twilio, gather),
     PU_STR("instruction", 0, "Press 2 to claim.", struct twilio, instruction),
     PU_STR("api_base", 0, "https://api.twilio.com", struct twilio, api),
     PU_LONG("timeout_ms", 1, PU_TIMEOUT_MAX_MS, 10000, struct twilio, timeout_ms),
     PU_PREFIX("from."),
     PU_OPTS_END};

static void destroy(void *instance) {
  struct twilio *t = instance;
  size_t i;
  if (!t)
    return;
  pu_opts_free(options, t);
  free(t->name);
  for (i = 0; i < t->napp_from; i++) {
    free((char *)t->app_from[i].key);
    free((char *)t->app_from[i].value);
  }
  free(t->app_from);
  free(t);
}

static int init_common(int is_call, const struct iris_plugin_host *host, const char *name,
                       const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                       size_t esize) {
  struct twilio *t = calloc(1, sizeof *t);
  size_t i;
  if (!t) {
    snprintf(error, esize, "out of memory");
    return -1;
  }
  t->host = host;
  t->is_call = is_call;
  if (pu_opts_read(options, t, c, n, error, esize) != 0)
    goto fail;
  t->name = pu_dup(name ? name : "twilio");
  if (!t->name) {
    snprintf(error, esize, "out of memory");
    goto fail;
  }
  for (i = 0; i < n; i++) {
    struct iris_plugin_kv *g;
    if (strncmp(c[i].key, "from.", 5) != 0 || !c[i].key[5])
      continue;
    g = realloc(t->app_from, (t->napp_from + 1) * sizeof *g);
    if (!g) {
      snprintf(error, esize, "out of memory reading option '%.100s'", c[i].key);
      goto fail;
    }
    t->app_from = g;
    g[t->napp_from].key = pu_dup(c[i].key + 5);
    g[t->napp_from].value = pu_dup(c[i].value ? c[i].value : "");
    t->napp_from++; /* counted even when a copy failed, so destroy frees the other one */
    if (!g[t->napp_from - 1].key || !g[t->napp_from - 1].value) {
      snprintf(error, esize, "out of memory reading option '%.100s'", c[i].key);
      goto fail;
    }
  }
  if (strncmp(t->sid, "AC", 2) != 0 || strlen(t->sid) != 34) {
    snprintf(error, esize, "account_sid must be 34 characters starting with AC");
    goto fail;
  }
  *instance = t;
  return 0;
fail:
  destroy(t);
  return -1;
}

static int init_sms(const struct iris_plugin_host *h, const char *name,
                    const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_common(0, h, name, c, n, inst, e, es);
}
static int init_call(const struct iris_plugin_host *h, const char *name,
                     const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_common(1, h, name, c, n, inst, e, es);
}

/* Strip leading/trailing whitespace into out. */
static void add_stripped(struct pu_str *out, const char *s) {
  size_t n;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    n--;
  pu_str_add(out, s, n);
}

static void compose_text(const struct iris_plugin_message *m, struct pu_str *text) {
  struct pu_str subj = {0}, body = {0};
  if (m->subject)
    add_stripped(&subj, m->subject);
  add_stripped(&body, m->body ? m->body : "");
  if (subj.len)
    pu_str_add(text, subj.p, subj.len);
  if (subj.len && body.len)
    pu_str_adds(text, ". ");
  if (body.len)
    pu_str_add(text, body.p, body.len);
  pu_str_free(&subj);
  pu_str_free(&body);
}

static const char *from_for(const struct twilio *t, const char *application) {
  size_t i;
  for (i = 0; application && i < t->napp_from; i++)
    if (strcmp(t->app_from[i].key, application) == 0)
      return t->app_from[i].value;
  return t->from;
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct twilio *t = instance;
  struct pu_str text = {0}, limited = {0}, form = {0}, url = {0}, callback = {0}, call_url = {0};
  struct iris_plugin_kv headers[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                     {"Accept", "application/json"}};
  struct iris_plugin_http_request req = {0};
  struct iris_plugin_http_response resp = {0};
  json_t *doc = NULL;

  if (!m->ndestinations || !m->destinations[0] || !*m->destinations[0]) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "no phone number to %s", t->is_call ? "call" : "text");
    return;
  }
  compose_text(m, &text);
  pu_str_adds(&callback, t->relay);
  pu_str_adds(&callback, "/api/v0/twilio/status");
  pu_form_pair(&form, "To", m->destinations[0]);
  pu_form_pair(&form, "From", from_for(t, m->application));
  pu_form_pair(&form, "StatusCallback", callback.p ? callback.p : "");
  if (!t->is_call) {
    if (pu_limit(&limited, text.p ? text.p : "", SMS_MAX, CUT_MARKER))
      t->host->log(t->host->data, IRIS_PLUGIN_LOG_WARN,
                   "message %s: SMS text cut to %d characters",
                   m->message_id ? m->message_id : "-", SMS_MAX);
    pu_form_pair(&form, "Body", limited.p ? limited.p : "");
  } else {
    struct pu_str q = {0};
    if (pu_limit(&limited, text.p ? text.p : "", CALL_MAX, CUT_MARKER))
      t->host->log(t->host->data, IRIS_PLUGIN_LOG_WARN,
                   "message %s: call text cut to %d characters",
                   m->message_id ? m->message_id : "-", CALL_MAX);
    pu_form_pair(&q, "content", limited.p ? limited.p : "");
    pu_form_pair(&q, "loop", "3");
    pu_form_pair(&q, "source", m->application ? m->application : "");
    if (m->message_id && m->incident_id) {
      pu_form_pair(&q, "message_id", m->message_id);
      pu_form_pair(&q, "instruction", t->instruction);
    }
    pu_str_adds(&call_url, t->relay);
    pu_str_adds(&call_url, (m->message_id && m->incident_id) ? t->gather : t->say);
    pu_str_adds(&call_url, "?");
    if (q.p)
      pu_str_add(&call_url, q.p, q.len);
    pu_str_free(&q);
    pu_form_pair(&form, "Url", call_url.p ? call_url.p : "");
  }
  pu_str_adds(&url, t->api);
  pu_str_adds(&url, "/2010-04-01/Accounts/");
  pu_str_adds(&url, t->sid);
  pu_str_adds(&url, t->is_call ? "/Calls.json" : "/Messages.json");
  if (text.oom || limited.oom || form.oom || url.oom || callback.oom || call_url.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Twilio request");
    goto out;
  }
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = url.p;
  req.headers = headers;
  req.nheaders = 2;
  req.body = form.p;
  req.body_len = form.len;
  req.basic_user = t->sid;
  req.basic_password = t->token;
  req.timeout_ms = t->timeout_ms;
  resp.struct_size = sizeof resp;
  t->host->http(t->host->data, &req, &resp);
  if (resp.transport == IRIS_PLUGIN_HTTP_OK && resp.status >= 200 && resp.status < 300) {
    doc = json_loadb(resp.body, resp.body_len, 0, NULL);
    r->status = IRIS_PLUGIN_SENT; /* accepted: never resend, even if the answer is odd */
    if (json_is_string(json_object_get(doc, "sid")))
      snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s",
               json_string_value(json_object_get(doc, "sid")));
    else
      t->host->log(t->host->data, IRIS_PLUGIN_LOG_WARN,
                   "Twilio accepted message %s (HTTP %ld) but sent no sid",
                   m->message_id ? m->message_id : "-", resp.status);
  } else {
    char detail[300] = "";
    int code = 0;
    doc = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    if (json_is_object(doc)) {
      code = (int)json_integer_value(json_object_get(doc, "code"));
      snprintf(detail, sizeof detail, "Twilio error %d: %s", code,
               json_string_value(json_object_get(doc, "message"))
                   ? json_string_value(json_object_get(doc, "message"))
                   : "(no message)");
    } else if (resp.transport == IRIS_PLUGIN_HTTP_OK) {
      snprintf(detail, sizeof detail, "unreadable answer");
    }
    pu_http_failure("Twilio", &resp, r, detail[0] ? detail : NULL);
    /* Twilio's own throttling code arrives as 429 too; 20429 on other statuses. */
    if (code == 20429 || code == 14107) {
      r->status = IRIS_PLUGIN_RATE_LIMITED;
      r->retry_after_ms = pu_retry_after_ms(&resp, 1000);
    }
  }
out:
  json_decref(doc);
  t->host->http_free(t->host->data, &resp);
  pu_str_free(&text);
  pu_str_free(&limited);
  pu_str_free(&form);
  pu_str_free(&url);
  pu_str_free(&callback);
  pu_str_free(&call_url);
}

PU_MODE_OPS(sms_ops, "sms", init_sms, send_msg, destroy, NULL);
PU_MODE_OPS(call_ops, "call", init_call, send_msg, destroy, NULL);
PU_PLUGIN_ENTRY("twilio", "1.0.0", &sms_ops, &call_ops)
