/*
 * hipchat.c — the "hipchat" vendor plugin: mode hipchat through the HipChat v2 REST API.
 *
 * Destinations, as Iris reads them:
 *   "@user"               a notification in the default room mentioning @user
 *   "room;token"          a notification in that room, with that room's token
 *   "room;token;@user"    the same, mentioning @user
 *   "user:<id or email>"  a private message to that user (POST /v2/user/{user}/message)
 *   anything else         the default room, without a mention
 * A room notification is {"message": "<mention> <body>", "color": "red", "notify": true,
 * "message_format": "text"}. Success is 204 (or 200). Errors: 401/403/404 permanent, 429
 * rate-limited (Retry-After), 5xx and transport failures retryable. Iris's "debug" option
 * (log and report failure) is not carried over.
 *
 * Options: auth_token (a secret: write it as "secretsmanager:<id>"), room_id (the default
 * room), base_url (e.g. https://hipchat.example.com), timeout_ms (1..900000).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"
#include "plugin_opts.h"
#include "plugin_util.h"

struct hipchat {
  const struct iris_plugin_host *host;
  char *token, *room, *base;
  long timeout_ms;
};

static const struct pu_opt options[] = {PU_SECRET("auth_token", 1, struct hipchat, token),
                                        PU_STR("room_id", 1, NULL, struct hipchat, room),
                                        PU_STR("base_url", 1, NULL, struct hipchat, base),
                                        PU_LONG("timeout_ms", 1, PU_TIMEOUT_MAX_MS, 10000,
                                                struct hipchat, timeout_ms),
                                        PU_OPTS_END};

static void destroy(void *instance) {
  struct hipchat *h = instance;
  if (!h)
    return;
  pu_opts_free(options, h);
  free(h);
}

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                size_t esize) {
  struct hipchat *h = pu_opts_instance(sizeof *h, options, c, n, error, esize);
  size_t i;
  (void)name;
  if (!h)
    return -1;
  h->host = host;
  for (i = 0; h->room[i]; i++)
    if (h->room[i] < '0' || h->room[i] > '9') {
      snprintf(error, esize, "room_id must be a number, got '%.40s'", h->room);
      destroy(h);
      return -1;
    }
  *instance = h;
  return 0;
}

static void add_path_segment(struct pu_str *s, const char *seg) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *seg; seg++) {
    unsigned char c = (unsigned char)*seg;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '@') {
      pu_str_add(s, (const char *)&c, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      pu_str_add(s, e, 3);
    }
  }
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct hipchat *h = instance;
  const char *dest = m->ndestinations && m->destinations[0] ? m->destinations[0] : "";
  struct pu_str text = {0}, room = {0}, token = {0}, mention = {0};
  struct pu_call call = {0};
  json_t *payload = NULL;
  int private_msg = 0;

  if (strncmp(dest, "user:", 5) == 0 && dest[5]) {
    private_msg = 1;
  } else if (dest[0] == '@') {
    pu_str_adds(&mention, dest);
  } else if (strchr(dest, ';')) {
    const char *a = strchr(dest, ';'), *b = strchr(a + 1, ';');
    int numeric = a > dest;
    const char *p;
    for (p = dest; p < a; p++)
      if (*p < '0' || *p > '9')
        numeric = 0;
    if (numeric) {
      pu_str_add(&room, dest, (size_t)(a - dest));
      pu_str_add(&token, a + 1, b ? (size_t)(b - a - 1) : strlen(a + 1));
    } else {
      h->host->log(h->host->data, IRIS_PLUGIN_LOG_WARN,
                   "destination '%s' has a bad room id; using the default room", dest);
    }
    if (b && b[1] == '@')
      pu_str_adds(&mention, b + 1);
  } else if (*dest) {
    h->host->log(h->host->data, IRIS_PLUGIN_LOG_WARN,
                 "destination '%s' is not @user, room;token[;@user] or user:<id>; using the "
                 "default room",
                 dest);
  }
  pu_str_adds(&call.url, h->base);
  if (private_msg) {
    pu_str_adds(&call.url, "/v2/user/");
    add_path_segment(&call.url, dest + 5);
    pu_str_adds(&call.url, "/message");
  } else {
    pu_str_adds(&call.url, "/v2/room/");
    add_path_segment(&call.url, room.len ? room.p : h->room);
    pu_str_adds(&call.url, "/notification");
  }
  if (mention.len) {
    pu_str_add(&text, mention.p, mention.len);
    pu_str_adds(&text, " ");
  }
  pu_str_adds(&text, m->body ? m->body : "");
  if (!text.len)
    pu_str_adds(&text, m->subject ? m->subject : "(empty message)");
  if (call.url.oom || text.oom || room.oom || token.oom || mention.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the HipChat request");
    goto out;
  }
  if (private_msg)
    payload = json_pack("{s:s, s:b, s:s}", "message", text.p, "notify", 1, "message_format",
                        "text");
  else
    payload = json_pack("{s:s, s:s, s:b, s:s}", "message", text.p, "color", "red", "notify", 1,
                        "message_format", "text");
  call.body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
  if (!call.body) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the HipChat request");
    goto out;
  }
  pu_call_bearer(&call, h->host, "POST", "application/json", token.len ? token.p : h->token,
                 h->timeout_ms);
  if (call.resp.transport == IRIS_PLUGIN_HTTP_OK &&
      (call.resp.status == 204 || call.resp.status == 200)) {
    r->status = IRIS_PLUGIN_SENT;
    snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s:%s",
             private_msg ? "user" : "room",
             private_msg ? dest + 5 : (room.len ? room.p : h->room));
  } else {
    json_t *doc = call.resp.body ? json_loadb(call.resp.body, call.resp.body_len, 0, NULL) : NULL;
    const char *why = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    pu_http_failure("HipChat", &call.resp, r, why);
    json_decref(doc);
  }
out:
  json_decref(payload);
  pu_call_cleanup(&call);
  pu_str_free(&text);
  pu_str_free(&room);
  pu_str_free(&token);
  pu_str_free(&mention);
}

PU_MODE_OPS(hipchat_ops, "hipchat", init, send_msg, destroy, NULL);
PU_PLUGIN_ENTRY("hipchat", "1.0.0", &hipchat_ops)
