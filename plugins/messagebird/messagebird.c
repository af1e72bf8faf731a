/*
 * messagebird.c — the "messagebird" vendor plugin: modes sms and call through MessageBird's
 * REST API (https://rest.messagebird.com), written as a third party writes a plugin: one
 * file, built with nothing but the installed SDK (`pkg-config --cflags iris-plugin`) and
 * libc, no JSON library, no helper of this repository. docs/plugin-guide.md walks through it.
 *
 * Requests (MessageBird's documented contract):
 *   sms:  POST <api_base>/messages
 *   call: POST <api_base>/voicemessages (text to speech)
 *   headers  Authorization: AccessKey <access_key>, Content-Type: application/json,
 *            Accept: application/json
 *   body     {"originator": ..., "recipients": ["<msisdn digits>"], "body": ...,
 *             "reference": "<Iris message id>"} and, for calls, "language", "voice",
 *             "repeat", "ifMachine".
 *   success  201 Created with the message object; its "id" becomes the vendor message id.
 *   errors   {"errors": [{"code": n, "description": "...", "parameter": "..."}]}:
 *            401 (code 2, access key refused) and 422 (bad or missing parameters, no balance)
 *            are permanent, 429 rate-limited (Retry-After honoured), 5xx and transport
 *            failures retryable.
 * Ported from Iris's MessageBird vendor (src/iris/vendors/iris_messagebird.py): SMS with the
 * message body as text and a configurable originator (Iris fixed "Iris"). Added: voice calls
 * (Iris's vendor had none), the message id as MessageBird's reference, failures classified
 * instead of logged and dropped, a timeout.
 *
 * Options: access_key (required; a secret: write "secretsmanager:<id>"), originator (default
 * "Iris": a phone number or at most 11 letters and digits), api_base (default
 * https://rest.messagebird.com), language (en-gb), voice (female | male), repeat (1-10, 1),
 * if_machine (continue | delay | hangup), timeout_ms (1-900000, 10000).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iris_plugin.h>

#define DEFAULT_API "https://rest.messagebird.com"
#define MAX_OPTION 2048 /* the longest option value accepted */
#define MAX_BODY 65536  /* the longest text sent; MessageBird splits long SMS itself */

struct mb {
  const struct iris_plugin_host *host;
  int is_call;
  char *access_key;  /* secret: wiped before it is freed */
  char *auth_header; /* "AccessKey <key>": secret too */
  char *originator, *api, *language, *voice, *if_machine;
  long repeat, timeout_ms;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static void wipe_free(char *s) {
  if (s) {
    volatile char *p = s;
    while (*p)
      *p++ = '\0';
  }
  free(s);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* A growable text; `oom` latches an allocation failure. */
struct text {
  char *p;
  size_t len, cap;
  int oom;
};

static void text_add(struct text *t, const char *s, size_t n) {
  if (t->oom)
    return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = (t->len + n + 1) * 2;
    char *g = realloc(t->p, cap);
    if (!g) {
      t->oom = 1;
      return;
    }
    t->p = g;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void text_adds(struct text *t, const char *s) { text_add(t, s, strlen(s)); }

/* A JSON string literal of s (UTF-8 passes through; quotes, backslashes and controls
 * escaped). */
static void text_add_json(struct text *t, const char *s) {
  static const char hex[] = "0123456789abcdef";
  text_add(t, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      text_add(t, e, 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      text_add(t, e, 6);
    } else {
      text_add(t, (const char *)&c, 1);
    }
  }
  text_add(t, "\"", 1);
}

static void text_pair(struct text *t, const char *key, const char *value) {
  text_add(t, t->len > 1 ? "," : "", t->len > 1 ? 1 : 0);
  text_add_json(t, key);
  text_add(t, ":", 1);
  text_add_json(t, value);
}

/*
 * The string value of the first "key": "..." in a JSON answer, unescaped only for the plain
 * characters an id or a description uses (an escape becomes '?'), at most size-1 bytes.
 * Returns 1 if found. Bounded by len: the answer is not trusted to be terminated or sane.
 */
static int json_string_field(const char *json, size_t len, const char *key, char *out,
                             size_t size) {
  size_t klen = strlen(key), i, n = 0;
  for (i = 0; i + klen + 2 < len; i++) {
    size_t j;
    if (json[i] != '"' || strncmp(json + i + 1, key, klen) != 0 || json[i + 1 + klen] != '"')
      continue;
    j = i + klen + 2;
    while (j < len && (json[j] == ' ' || json[j] == ':' || json[j] == '\t' || json[j] == '\n'))
      j++;
    if (j >= len || json[j] != '"')
      continue;
    for (j++; j < len && json[j] != '"' && n + 1 < size; j++) {
      if (json[j] == '\\') {
        out[n++] = '?';
        j++;
      } else {
        out[n++] = json[j];
      }
    }
    out[n] = '\0';
    return 1;
  }
  return 0;
}

/* The whole number after the first "key": in a JSON answer (at most 9 digits), or -1. */
static long json_number_field(const char *json, size_t len, const char *key) {
  size_t klen = strlen(key), i, j;
  for (i = 0; i + klen + 2 < len; i++) {
    long v = 0;
    int digits = 0;
    if (json[i] != '"' || strncmp(json + i + 1, key, klen) != 0 || json[i + 1 + klen] != '"')
      continue;
    j = i + klen + 2;
    while (j < len && (json[j] == ' ' || json[j] == ':' || json[j] == '\t' || json[j] == '\n'))
      j++;
    while (j < len && json[j] >= '0' && json[j] <= '9' && digits < 9) {
      v = v * 10 + (json[j++] - '0');
      digits++;
    }
    return digits ? v : -1;
  }
  return -1;
}

/* ---- configuration ---------------------------------------------------------------------- */

static void destroy(void *instance) {
  struct mb *b = instance;
  if (!b)
    return;
  wipe_free(b->access_key);
  wipe_free(b->auth_header);
  free(b->originator);
  free(b->api);
  free(b->language);
  free(b->voice);
  free(b->if_machine);
  free(b);
}

static int parse_long(const char *v, long min, long max, long *out) {
  char *end = NULL;
  long x;
  if (!*v || *v < '0' || *v > '9')
    return -1;
  errno = 0;
  x = strtol(v, &end, 10);
  if (errno || *end || x < min || x > max)
    return -1;
  *out = x;
  return 0;
}

/* A phone number ("+" and up to 17 digits) or at most 11 letters and digits. */
static int originator_ok(const char *o) {
  size_t i, n = strlen(o), digits = 0, alnum = 0;
  for (i = 0; i < n; i++) {
    char c = o[i];
    if (c >= '0' && c <= '9')
      digits++;
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      alnum++;
    else if (!(c == '+' && i == 0))
      return 0;
  }
  if (alnum == 0)
    return digits > 0 && digits <= 17;
  return o[0] != '+' && n <= 11;
}

static int one_of(const char *v, const char *const *allowed) {
  for (; *allowed; allowed++)
    if (strcmp(v, *allowed) == 0)
      return 1;
  return 0;
}

static int init_mode(int is_call, const struct iris_plugin_host *host, const char *name,
                     const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                     size_t esize) {
  static const char *const known[] = {"access_key", "originator", "api_base",
                                      "language",   "voice",      "repeat",
                                      "if_machine", "timeout_ms", NULL};
  static const char *const voices[] = {"female", "male", NULL};
  static const char *const machine[] = {"continue", "delay", "hangup", NULL};
  struct mb *b = calloc(1, sizeof *b);
  const char *key = NULL, *orig = "Iris", *api = DEFAULT_API, *lang = "en-gb", *voice = "female",
             *ifm = "continue";
  size_t i;
  (void)name;
  if (!b) {
    snprintf(error, esize, "out of memory");
    return -1;
  }
  b->host = host;
  b->is_call = is_call;
  b->repeat = 1;
  b->timeout_ms = 10000;
  /* name and config live only during init: everything kept is copied below. */
  for (i = 0; i < n; i++) {
    const char *k = c[i].key, *v = c[i].value ? c[i].value : "";
    if (!one_of(k, known)) {
      snprintf(error, esize, "unknown option '%.100s'", k);
      goto fail;
    }
    if (strlen(v) > MAX_OPTION) {
      snprintf(error, esize, "option '%s' is longer than %d bytes", k, MAX_OPTION);
      goto fail;
    }
    if (strcmp(k, "access_key") == 0)
      key = v;
    else if (strcmp(k, "originator") == 0)
      orig = v;
    else if (strcmp(k, "api_base") == 0)
      api = v;
    else if (strcmp(k, "language") == 0)
      lang = v;
    else if (strcmp(k, "voice") == 0)
      voice = v;
    else if (strcmp(k, "if_machine") == 0)
      ifm = v;
    else if (strcmp(k, "repeat") == 0 && parse_long(v, 1, 10, &b->repeat) != 0) {
      snprintf(error, esize, "option 'repeat' must be a whole number from 1 to 10, got '%.40s'", v);
      goto fail;
    } else if (strcmp(k, "timeout_ms") == 0 && parse_long(v, 1, 900000, &b->timeout_ms) != 0) {
      snprintf(error, esize,
               "option 'timeout_ms' must be a whole number from 1 to 900000, got '%.40s'", v);
      goto fail;
    }
  }
  if (!key || !*key) {
    snprintf(error, esize,
             "option 'access_key' is required (write it as "
             "\"secretsmanager:<id>\")");
    goto fail;
  }
  if (!originator_ok(orig)) {
    snprintf(error, esize,
             "option 'originator' must be a phone number or at most 11 letters "
             "and digits, got '%.40s'",
             orig);
    goto fail;
  }
  if (strncmp(api, "https://", 8) != 0 && strncmp(api, "http://", 7) != 0) {
    snprintf(error, esize, "option 'api_base' must be an http(s) URL");
    goto fail;
  }
  if (!one_of(voice, voices) || !one_of(ifm, machine)) {
    snprintf(error, esize,
             "option 'voice' must be female or male and 'if_machine' continue, "
             "delay or hangup");
    goto fail;
  }
  b->access_key = dup_str(key);
  b->originator = dup_str(orig);
  b->api = dup_str(api);
  b->language = dup_str(lang);
  b->voice = dup_str(voice);
  b->if_machine = dup_str(ifm);
  if (b->access_key) {
    size_t len = strlen(b->access_key) + sizeof "AccessKey ";
    b->auth_header = malloc(len);
    if (b->auth_header)
      snprintf(b->auth_header, len, "AccessKey %s", b->access_key);
  }
  if (!b->access_key || !b->auth_header || !b->originator || !b->api || !b->language ||
      !b->voice || !b->if_machine) {
    snprintf(error, esize, "out of memory");
    goto fail;
  }
  if (b->api[strlen(b->api) - 1] == '/')
    b->api[strlen(b->api) - 1] = '\0';
  *instance = b;
  return 0;
fail:
  destroy(b);
  return -1;
}

static int init_sms(const struct iris_plugin_host *h, const char *name,
                    const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_mode(0, h, name, c, n, inst, e, es);
}

static int init_call(const struct iris_plugin_host *h, const char *name,
                     const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_mode(1, h, name, c, n, inst, e, es);
}

/* ---- sending ---------------------------------------------------------------------------- */

/* MessageBird's recipient: the MSISDN's digits ("+1 (555) 010-0000" → "15550100000"). */
static int msisdn(const char *dest, char *out, size_t size) {
  size_t n = 0;
  for (; *dest; dest++) {
    if (*dest >= '0' && *dest <= '9') {
      if (n + 1 >= size)
        return -1;
      out[n++] = *dest;
    } else if (!strchr("+ -().", *dest)) {
      return -1;
    }
  }
  out[n] = '\0';
  return n >= 3 ? 0 : -1;
}

/* The first error's code and description of an error answer, for the operator. */
static void describe_errors(const struct iris_plugin_http_response *resp, char *out, size_t size) {
  char desc[200] = "", param[64] = "";
  long code = json_number_field(resp->body, resp->body_len, "code");
  json_string_field(resp->body, resp->body_len, "description", desc, sizeof desc);
  json_string_field(resp->body, resp->body_len, "parameter", param, sizeof param);
  if (code >= 0 || desc[0])
    snprintf(out, size, "error %ld: %s%s%s%s", code, desc[0] ? desc : "(no description)",
             param[0] ? " (parameter " : "", param, param[0] ? ")" : "");
  else
    snprintf(out, size, "no MessageBird error document");
}

static long long retry_after_ms(const struct iris_plugin_http_response *r) {
  size_t i;
  for (i = 0; i < r->nheaders; i++) {
    if (strcmp(r->headers[i].key, "retry-after") == 0) {
      long s;
      if (parse_long(r->headers[i].value, 0, 900, &s) == 0)
        return (long long)s * 1000;
    }
  }
  return 1000;
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct mb *b = instance;
  struct iris_plugin_kv headers[3];
  struct iris_plugin_http_request req = {0};
  struct iris_plugin_http_response resp = {0};
  struct text url = {0}, body = {0};
  char to[32], detail[300];
  const char *text = m->body && *m->body ? m->body : (m->subject ? m->subject : "");

  if (!m->ndestinations || !m->destinations[0] || msisdn(m->destinations[0], to, sizeof to)) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "messagebird: '%.40s' is not a phone number",
             m->ndestinations && m->destinations[0] ? m->destinations[0] : "");
    return;
  }
  if (strlen(text) > MAX_BODY || !*text) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "messagebird: the text is %s",
             *text ? "longer than 65536 bytes" : "empty");
    return;
  }
  text_adds(&url, b->api);
  text_adds(&url, b->is_call ? "/voicemessages" : "/messages");
  text_add(&body, "{", 1);
  text_pair(&body, "originator", b->originator);
  text_adds(&body, ",\"recipients\":[");
  text_add_json(&body, to);
  text_adds(&body, "]");
  text_pair(&body, "body", text);
  if (m->message_id)
    text_pair(&body, "reference", m->message_id);
  if (b->is_call) {
    char repeat[16];
    snprintf(repeat, sizeof repeat, "%ld", b->repeat);
    text_pair(&body, "language", b->language);
    text_pair(&body, "voice", b->voice);
    text_adds(&body, ",\"repeat\":");
    text_adds(&body, repeat);
    text_pair(&body, "ifMachine", b->if_machine);
  }
  text_add(&body, "}", 1);
  if (url.oom || body.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "messagebird: out of memory");
    goto out;
  }
  headers[0].key = "Authorization";
  headers[0].value = b->auth_header;
  headers[1].key = "Content-Type";
  headers[1].value = "application/json";
  headers[2].key = "Accept";
  headers[2].value = "application/json";
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = url.p;
  req.headers = headers;
  req.nheaders = 3;
  req.body = body.p;
  req.body_len = body.len;
  req.timeout_ms = b->timeout_ms;
  resp.struct_size = sizeof resp;
  if (b->host->http(b->host->data, &req, &resp) != 0) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "messagebird unreachable: %s", resp.error);
  } else if (resp.status == 201) {
    char id[sizeof r->vendor_message_id];
    r->status = IRIS_PLUGIN_SENT;
    if (json_string_field(resp.body, resp.body_len, "id", id, sizeof id))
      snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s", id);
  } else {
    describe_errors(&resp, detail, sizeof detail);
    if (resp.status == 429) {
      r->status = IRIS_PLUGIN_RATE_LIMITED;
      r->retry_after_ms = retry_after_ms(&resp);
    } else if (resp.status >= 500 || resp.status == 408) {
      r->status = IRIS_PLUGIN_RETRYABLE;
    } else {
      r->status = IRIS_PLUGIN_PERMANENT; /* 401 access key, 422 parameters or balance, ... */
    }
    snprintf(r->error, sizeof r->error, "messagebird %s: HTTP %ld: %s",
             b->is_call ? "voice message" : "SMS", resp.status, detail);
  }
  b->host->http_free(b->host->data, &resp);
out:
  free(url.p);
  free(body.p);
}

static int health(void *instance, char *error, size_t esize) {
  struct mb *b = instance;
  struct iris_plugin_kv headers[2] = {{"Authorization", b->auth_header},
                                      {"Accept", "application/json"}};
  struct iris_plugin_http_request req = {0};
  struct iris_plugin_http_response resp = {0};
  struct text url = {0};
  int rc = -1;
  text_adds(&url, b->api);
  text_adds(&url, "/balance");
  if (url.oom) {
    snprintf(error, esize, "out of memory");
    return -1;
  }
  req.struct_size = sizeof req;
  req.method = "GET";
  req.url = url.p;
  req.headers = headers;
  req.nheaders = 2;
  req.timeout_ms = b->timeout_ms < 5000 ? b->timeout_ms : 5000;
  resp.struct_size = sizeof resp;
  if (b->host->http(b->host->data, &req, &resp) != 0)
    snprintf(error, esize, "messagebird unreachable: %s", resp.error);
  else if (resp.status != 200)
    snprintf(error, esize, "messagebird GET /balance: HTTP %ld", resp.status);
  else
    rc = 0;
  b->host->http_free(b->host->data, &resp);
  free(url.p);
  return rc;
}

static const struct iris_plugin_mode_ops sms_ops =
    {sizeof(struct iris_plugin_mode_ops), "sms", init_sms, send_msg, destroy, health};
static const struct iris_plugin_mode_ops call_ops =
    {sizeof(struct iris_plugin_mode_ops), "call", init_call, send_msg, destroy, health};
static const struct iris_plugin_mode_ops *const modes[] = {&sms_ops, &call_ops};
static const struct iris_plugin_descriptor descriptor =
    {IRIS_PLUGIN_DESCRIPTOR_HEAD, "messagebird", "1.0.0", "iris-serverless-sender", modes, 2};

IRIS_PLUGIN_EXPORT const struct iris_plugin_descriptor *iris_plugin_entry(void) {
  return &descriptor;
}
