/*
 * slack.c — the "slack" vendor plugin: mode slack through chat.postMessage (bot token).
 *
 * Ported from Iris's Slack vendor: channel = destination, prefixed "@" unless it starts
 * with "@" or "#"; text = "[<application or Iris incident>] " + body; a body that is a JSON
 * object contributes the keys blocks, attachments, link_names, mrkdwn, parse,
 * reply_broadcast, text, thread_ts, unfurl_links and unfurl_media; incident messages carry
 * incident_id and message_id and an attachment titled "Iris incident <id>" linking to the
 * incident, with Claim and Claim All buttons (callback_id = message id) that Slack posts to
 * the Iris relay.
 * Fixed on purpose: channel_not_found / not_in_channel are permanent failures (Iris counted
 * them as sent, so nobody was paged and nobody knew); 429 and "ratelimited" honour
 * Retry-After instead of sleeping inside the worker; Slack's transient errors are
 * retryable, the rest permanent, each with Slack's error code in the reason.
 *
 * Options: auth_token (a secret: write it as "secretsmanager:<id>"), base_url (default
 * https://slack.com/api), iris_incident_url, attachment_fallback, attachment_pretext,
 * timeout_ms.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"
#include "plugin_opts.h"
#include "plugin_util.h"

struct slack {
  const struct iris_plugin_host *host;
  char *token, *base, *incident_url, *fallback, *pretext;
  long timeout_ms;
};

static const struct pu_opt options[] =
    {PU_SECRET("auth_token", 1, struct slack, token),
     PU_STR("base_url", 0, "https://slack.com/api", struct slack, base),
     PU_STR("iris_incident_url", 1, NULL, struct slack, incident_url),
     PU_STR("attachment_fallback", 0, "New Iris incident", struct slack, fallback),
     PU_STR("attachment_pretext", 0, "", struct slack, pretext),
     PU_LONG("timeout_ms", 1, PU_TIMEOUT_MAX_MS, 10000, struct slack, timeout_ms),
     PU_OPTS_END};

static void destroy(void *instance) {
  struct slack *s = instance;
  if (!s)
    return;
  pu_opts_free(options, s);
  free(s);
}

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                size_t esize) {
  struct slack *s = calloc(1, sizeof *s);
  (void)name;
  if (!s) {
    snprintf(error, esize, "out of memory");
    return -1;
  }
  s->host = host;
  if (pu_opts_read(options, s, c, n, error, esize) != 0) {
    destroy(s);
    return -1;
  }
  *instance = s;
  return 0;
}

/* The claim attachment Iris puts on incident messages. */
static json_t *claim_attachment(const struct slack *s, const struct iris_plugin_message *m) {
  char title[64], link[1024];
  snprintf(title, sizeof title, "Iris incident %lld", (long long)m->incident_id);
  snprintf(link, sizeof link, "%s/%lld", s->incident_url, (long long)m->incident_id);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[{s:s, s:s, s:s, s:s}, "
                   "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}]}",
                   "fallback", s->fallback, "pretext", s->pretext, "title", title, "title_link",
                   link, "callback_id", m->message_id ? m->message_id : "", "color", "danger",
                   "attachment_type", "default", "mrkdwn_in", "pretext", "actions", "name",
                   "claim", "text", "Claim Incident", "type", "button", "value", "claimed", "name",
                   "claim all", "text", "Claim All", "style", "danger", "type", "button", "value",
                   "claimed all", "confirm", "title", "Are you sure?", "text",
                   "This will claim all active incidents targeting you.", "ok_text", "Yes",
                   "dismiss_text", "No");
}

static int is_transient(const char *code) {
  static const char *const t[] = {"internal_error",  "fatal_error",       "service_unavailable",
                                  "request_timeout", "team_added_to_org", NULL};
  size_t i;
  for (i = 0; t[i]; i++)
    if (strcmp(code, t[i]) == 0)
      return 1;
  return 0;
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  static const char *const copied[] = {"blocks",       "attachments", "link_names",
                                       "mrkdwn",       "parse",       "reply_broadcast",
                                       "text",         "thread_ts",   "unfurl_links",
                                       "unfurl_media", NULL};
  struct slack *s = instance;
  struct iris_plugin_kv headers[] = {{"Content-Type", "application/json; charset=utf-8"},
                                     {"Authorization", NULL}};
  struct iris_plugin_http_request req = {0};
  struct iris_plugin_http_response resp = {0};
  struct pu_str url = {0}, channel = {0}, auth = {0}, text = {0};
  json_t *payload = NULL, *answer = NULL, *attachments;
  const char *dest = m->ndestinations ? m->destinations[0] : NULL, *body = m->body ? m->body : "";
  char *json_text = NULL;
  size_t i;

  if (!dest || !*dest) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "no Slack channel or user to post to");
    return;
  }
  if (dest[0] != '@' && dest[0] != '#')
    pu_str_adds(&channel, "@");
  pu_str_adds(&channel, dest);
  payload = json_object();
  if (payload && body[0] == '{') {
    json_error_t jerr;
    json_t *custom = json_loads(body, 0, &jerr);
    if (!json_is_object(custom)) {
      json_decref(custom);
      r->status = IRIS_PLUGIN_PERMANENT;
      snprintf(r->error, sizeof r->error, "the body starts with '{' but is not a JSON object: %s",
               jerr.text);
      goto out;
    }
    for (i = 0; copied[i]; i++)
      if (json_object_get(custom, copied[i]))
        json_object_set(payload, copied[i], json_object_get(custom, copied[i]));
    json_decref(custom);
  } else if (payload) {
    json_object_set_new(payload, "text", json_string(body));
  }
  pu_str_adds(&text, "[");
  pu_str_adds(&text, m->application ? m->application : "Iris incident");
  pu_str_adds(&text, "] ");
  if (json_is_string(json_object_get(payload, "text")))
    pu_str_adds(&text, json_string_value(json_object_get(payload, "text")));
  if (!payload || text.oom || channel.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Slack request");
    goto out;
  }
  json_object_set_new(payload, "text", json_string(text.p));
  json_object_set_new(payload, "channel", json_string(channel.p));
  if (m->incident_id) {
    json_object_set_new(payload, "incident_id", json_integer(m->incident_id));
    if (m->message_id)
      json_object_set_new(payload, "message_id", json_string(m->message_id));
    attachments = json_object_get(payload, "attachments");
    if (!json_is_array(attachments)) {
      attachments = json_array();
      json_object_set_new(payload, "attachments", attachments);
    }
    json_array_append_new(attachments, claim_attachment(s, m));
  }
  json_text = json_dumps(payload, JSON_COMPACT);
  pu_str_adds(&url, s->base);
  pu_str_adds(&url, "/chat.postMessage");
  pu_str_adds(&auth, "Bearer ");
  pu_str_adds(&auth, s->token);
  if (!json_text || url.oom || auth.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Slack request");
    goto out;
  }
  headers[1].value = auth.p;
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = url.p;
  req.headers = headers;
  req.nheaders = 2;
  req.body = json_text;
  req.body_len = strlen(json_text);
  req.timeout_ms = s->timeout_ms;
  resp.struct_size = sizeof resp;
  s->host->http(s->host->data, &req, &resp);
  if (resp.transport != IRIS_PLUGIN_HTTP_OK || resp.status != 200) {
    pu_http_failure("Slack", &resp, r, NULL);
    goto out;
  }
  answer = json_loadb(resp.body, resp.body_len, 0, NULL);
  if (!json_is_object(answer)) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "Slack answered HTTP 200 with an unreadable body");
  } else if (json_is_true(json_object_get(answer, "ok"))) {
    r->status = IRIS_PLUGIN_SENT;
    snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s/%s",
             json_string_value(json_object_get(answer, "channel"))
                 ? json_string_value(json_object_get(answer, "channel"))
                 : "",
             json_string_value(json_object_get(answer, "ts"))
                 ? json_string_value(json_object_get(answer, "ts"))
                 : "");
  } else {
    const char *code = json_string_value(json_object_get(answer, "error"));
    code = code ? code : "unknown_error";
    if (strcmp(code, "ratelimited") == 0) {
      r->status = IRIS_PLUGIN_RATE_LIMITED;
      r->retry_after_ms = pu_retry_after_ms(&resp, 1000);
    } else {
      r->status = is_transient(code) ? IRIS_PLUGIN_RETRYABLE : IRIS_PLUGIN_PERMANENT;
    }
    snprintf(r->error, sizeof r->error, "Slack refused the post to %s: %s", channel.p, code);
  }
out:
  json_decref(answer);
  json_decref(payload);
  free(json_text);
  s->host->http_free(s->host->data, &resp);
  if (auth.p)
    memset(auth.p, 0, auth.len);
  pu_str_free(&auth);
  pu_str_free(&url);
  pu_str_free(&channel);
  pu_str_free(&text);
}

static const struct iris_plugin_mode_ops slack_ops =
    {sizeof(struct iris_plugin_mode_ops), "slack", init, send_msg, destroy, NULL};
static const struct iris_plugin_mode_ops *const modes[] = {&slack_ops};
static const struct iris_plugin_descriptor descriptor =
    {IRIS_PLUGIN_DESCRIPTOR_HEAD, "slack", "1.0.0", "iris-serverless-sender", modes, 1};

const struct iris_plugin_descriptor *iris_plugin_entry(void) { return &descriptor; }
