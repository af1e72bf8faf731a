/*
 * dummy.c — the "dummy" vendor plugin: serves every Iris mode and delivers nothing.
 *
 * Each send is recorded — a log line, and a JSON line appended to `record_file` when set —
 * so tests and the demo can see exactly what the sender asked for. Behaviour options make it
 * fail on purpose:
 *   record_file=PATH       append {"instance","mode","message_id","destinations","bcc",
 *                          "subject","body","email_html","application","priority",
 *                          "incident_id","at_ms"} per send
 *   fail=retryable|permanent   every send fails that way
 *   fail_nth=N              only the Nth send of this instance fails (retryable)
 *   fail_destination=X      sends to destination X fail permanently
 *   rate_limit_ms=N         every send is rate-limited with retry-after N ms
 *   stall_ms=N              wait N ms before answering (a slow vendor)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iris_plugin.h"

struct dummy {
  const struct iris_plugin_host *host;
  char *name;
  char *record_file;
  char *fail_destination;
  int fail; /* 0 none, else an iris_plugin_status */
  long fail_nth;
  long rate_limit_ms;
  long stall_ms;
  long sent;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int parse_long(const char *v, long *out) {
  char *end = NULL;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < 0)
    return -1;
  *out = x;
  return 0;
}

static void destroy(void *instance) {
  struct dummy *d = instance;
  if (!d)
    return;
  free(d->name);
  free(d->record_file);
  free(d->fail_destination);
  free(d);
}

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *config, size_t nconfig, void **instance, char *error,
                size_t error_size) {
  struct dummy *d = calloc(1, sizeof *d);
  size_t i;
  if (!d || !(d->name = dup_str(name ? name : "dummy"))) {
    snprintf(error, error_size, "out of memory");
    destroy(d);
    return -1;
  }
  d->host = host;
  for (i = 0; i < nconfig; i++) {
    const char *k = config[i].key, *v = config[i].value;
    int bad = 0;
    if (strcmp(k, "record_file") == 0)
      bad = !(d->record_file = dup_str(v));
    else if (strcmp(k, "fail_destination") == 0)
      bad = !(d->fail_destination = dup_str(v));
    else if (strcmp(k, "fail") == 0) {
      if (strcmp(v, "retryable") == 0)
        d->fail = IRIS_PLUGIN_RETRYABLE;
      else if (strcmp(v, "permanent") == 0)
        d->fail = IRIS_PLUGIN_PERMANENT;
      else
        bad = 1;
    } else if (strcmp(k, "fail_nth") == 0)
      bad = parse_long(v, &d->fail_nth);
    else if (strcmp(k, "rate_limit_ms") == 0)
      bad = parse_long(v, &d->rate_limit_ms);
    else if (strcmp(k, "stall_ms") == 0)
      bad = parse_long(v, &d->stall_ms);
    else {
      snprintf(error, error_size,
               "unknown option '%s' (known: record_file, fail, fail_nth, "
               "fail_destination, rate_limit_ms, stall_ms)",
               k);
      destroy(d);
      return -1;
    }
    if (bad) {
      snprintf(error, error_size, "option %s: bad value '%s'", k, v);
      destroy(d);
      return -1;
    }
  }
  *instance = d;
  return 0;
}

static json_t *str_array(const char *const *v, size_t n) {
  json_t *a = json_array();
  size_t i;
  for (i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(v[i] ? v[i] : ""));
  return a;
}

static void record(struct dummy *d, const struct iris_plugin_message *m) {
  json_t *doc;
  char *text;
  FILE *f;
  doc = json_pack("{s:s, s:s?, s:s?, s:o, s:o, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:I}",
                  "instance", d->name, "mode", m->mode, "message_id", m->message_id,
                  "destinations", str_array(m->destinations, m->ndestinations), "bcc",
                  str_array(m->bcc, m->nbcc), "subject", m->subject, "body", m->body, "email_html",
                  m->email_html, "application", m->application, "priority", m->priority,
                  "incident_id", (json_int_t)m->incident_id, "at_ms",
                  (json_int_t)d->host->now_ms(d->host->data));
  text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(doc);
  if (!text)
    return;
  if (d->record_file) {
    f = fopen(d->record_file, "a");
    if (f) {
      fprintf(f, "%s\n", text);
      fclose(f);
    } else {
      d->host->log(d->host->data, IRIS_PLUGIN_LOG_ERROR, "cannot append to %s", d->record_file);
    }
  }
  d->host->log(d->host->data, IRIS_PLUGIN_LOG_INFO, "dummy %s delivered %s message %s to %s",
               d->name, m->mode, m->message_id ? m->message_id : "-",
               m->ndestinations ? m->destinations[0] : "-");
  free(text);
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct dummy *d = instance;
  d->sent++;
  if (d->stall_ms > 0) {
    struct timespec ts = {d->stall_ms / 1000, (d->stall_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (d->rate_limit_ms > 0) {
    r->status = IRIS_PLUGIN_RATE_LIMITED;
    r->retry_after_ms = d->rate_limit_ms;
    snprintf(r->error, sizeof r->error, "dummy %s: rate limited (configured)", d->name);
    return;
  }
  if (d->fail || (d->fail_nth && d->sent == d->fail_nth)) {
    r->status = d->fail ? (enum iris_plugin_status)d->fail : IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "dummy %s: failing send %ld (configured)", d->name,
             d->sent);
    return;
  }
  if (d->fail_destination && m->ndestinations &&
      strcmp(m->destinations[0], d->fail_destination) == 0) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "dummy %s: destination %s refused (configured)", d->name,
             m->destinations[0]);
    return;
  }
  record(d, m);
  r->status = IRIS_PLUGIN_SENT;
  snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "dummy-%s-%ld", d->name, d->sent);
}

#define DUMMY_MODE(var, name) \
  static const struct iris_plugin_mode_ops var = \
      {sizeof(struct iris_plugin_mode_ops), name, init, send_msg, destroy, NULL}
DUMMY_MODE(email_ops, "email");
DUMMY_MODE(sms_ops, "sms");
DUMMY_MODE(call_ops, "call");
DUMMY_MODE(im_ops, "im");
DUMMY_MODE(slack_ops, "slack");
DUMMY_MODE(hipchat_ops, "hipchat");

static const struct iris_plugin_mode_ops *const modes[] = {&email_ops, &sms_ops,   &call_ops,
                                                           &im_ops,    &slack_ops, &hipchat_ops};

static const struct iris_plugin_descriptor descriptor = {IRIS_PLUGIN_DESCRIPTOR_HEAD,
                                                         "dummy",
                                                         "1.0.0",
                                                         "iris-serverless-sender",
                                                         modes,
                                                         sizeof modes / sizeof modes[0]};

const struct iris_plugin_descriptor *iris_plugin_entry(void) { return &descriptor; }
