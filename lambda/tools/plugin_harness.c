/*
 * iris-plugin-harness — load a vendor plugin, feed it messages from JSON, print each result.
 * For plugin authors (against a vendor sandbox or a fake) and operators (does this layer
 * load? does this configuration work?).
 *
 *   iris-plugin-harness --plugin ./iris-acme.so --list
 *   iris-plugin-harness --dir /opt/lib/iris-plugins --list
 *   iris-plugin-harness --plugin ./iris-twilio.so --vendor twilio --mode sms \
 *       --set account_sid=AC... --set auth_token=... [--config vendor.json] \
 *       [--secret NAME=VALUE] [--health] --messages msgs.json   (or - for stdin)
 *
 * A message is a JSON object: message_id, destination (string) or destinations (array), bcc,
 * subject, body, email_html, application, priority, incident_id, plan, target, extra
 * (object of strings); the file holds one object or an array of them. --config reads a JSON
 * object of settings (values converted to strings). Output: one JSON line per message
 * {"message_id","status","retry_after_ms","vendor_message_id","error","ms"}.
 * Exit status: 0 all sent, 1 some not sent, 2 usage or load error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "plugin_host.h"
#include "plugin_loader.h"

struct kvs {
  struct iris_plugin_kv *v;
  size_t n;
};

static int kvs_add(struct kvs *k, const char *key, const char *value) {
  struct iris_plugin_kv *g = iris_realloc(k->v, (k->n + 1) * sizeof *g);
  if (!g)
    return -1;
  k->v = g;
  k->v[k->n].key = iris_strdup(key);
  k->v[k->n].value = iris_strdup(value);
  k->n++;
  return k->v[k->n - 1].key && k->v[k->n - 1].value ? 0 : -1;
}

static void kvs_free(struct kvs *k) {
  size_t i;
  for (i = 0; i < k->n; i++) {
    iris_free((char *)k->v[i].key);
    iris_free((char *)k->v[i].value);
  }
  iris_free(k->v);
}

/* "k=v" → kvs. */
static int add_pair(struct kvs *k, const char *arg) {
  const char *eq = strchr(arg, '=');
  char key[256];
  if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof key)
    return -1;
  memcpy(key, arg, (size_t)(eq - arg));
  key[eq - arg] = '\0';
  return kvs_add(k, key, eq + 1);
}

static int secret_from_args(void *data, const char *id, char **value, struct iris_err *err) {
  struct kvs *s = data;
  size_t i;
  for (i = 0; i < s->n; i++)
    if (strcmp(s->v[i].key, id) == 0) {
      *value = iris_strdup(s->v[i].value);
      return *value ? IRIS_OK : iris_err_set(err, IRIS_ENOMEM, "secret copy");
    }
  return iris_err_set(err, IRIS_ENOTFOUND, "no --secret %s=... given", id);
}

static int config_from_file(struct kvs *k, const char *path) {
  json_error_t jerr;
  json_t *doc = json_load_file(path, 0, &jerr), *v;
  const char *key;
  int rc = 0;
  if (!json_is_object(doc)) {
    fprintf(stderr, "error: %s: %s\n", path, doc ? "expected a JSON object" : jerr.text);
    json_decref(doc);
    return -1;
  }
  json_object_foreach(doc, key, v) {
    char *text = json_is_string(v) ? iris_strdup(json_string_value(v))
                                   : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text || kvs_add(k, key, text))
      rc = -1;
    iris_free(text);
  }
  json_decref(doc);
  return rc;
}

static const char *str_of(json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* Send one message described by m; print the result; return 1 if not sent. */
static int run_one(struct iris_vendor *v, const char *mode, json_t *m) {
  struct iris_plugin_message msg;
  struct iris_plugin_result res;
  const char *dests[64], *bcc[64];
  struct iris_plugin_kv extra[64];
  json_t *a, *val, *out;
  const char *key;
  char *line;
  size_t i, n = 0;
  int64_t t0;

  memset(&msg, 0, sizeof msg);
  msg.struct_size = sizeof msg;
  msg.mode = mode;
  msg.message_id = str_of(m, "message_id");
  a = json_object_get(m, "destinations");
  if (json_is_array(a)) {
    for (i = 0; i < json_array_size(a) && n < 64; i++)
      if (json_is_string(json_array_get(a, i)))
        dests[n++] = json_string_value(json_array_get(a, i));
  } else if (str_of(m, "destination")) {
    dests[n++] = str_of(m, "destination");
  }
  msg.destinations = dests;
  msg.ndestinations = n;
  n = 0;
  a = json_object_get(m, "bcc");
  for (i = 0; json_is_array(a) && i < json_array_size(a) && n < 64; i++)
    if (json_is_string(json_array_get(a, i)))
      bcc[n++] = json_string_value(json_array_get(a, i));
  msg.bcc = bcc;
  msg.nbcc = n;
  msg.subject = str_of(m, "subject");
  msg.body = str_of(m, "body") ? str_of(m, "body") : "";
  msg.email_html = str_of(m, "email_html");
  msg.application = str_of(m, "application");
  msg.priority = str_of(m, "priority");
  msg.plan = str_of(m, "plan");
  msg.target = str_of(m, "target");
  msg.incident_id = (int64_t)json_integer_value(json_object_get(m, "incident_id"));
  n = 0;
  json_object_foreach(json_object_get(m, "extra"), key, val) {
    if (n < 64 && json_is_string(val)) {
      extra[n].key = key;
      extra[n].value = json_string_value(val);
      n++;
    }
  }
  msg.extra = extra;
  msg.nextra = n;
  t0 = iris_clock_mono_ms();
  iris_vendor_send(v, &msg, &res);
  out = json_pack("{s:s?, s:s, s:I, s:s, s:s, s:I}", "message_id", msg.message_id, "status",
                  iris_plugin_status_name(res.status), "retry_after_ms",
                  (json_int_t)res.retry_after_ms, "vendor_message_id", res.vendor_message_id,
                  "error", res.error, "ms", (json_int_t)(iris_clock_mono_ms() - t0));
  line = out ? json_dumps(out, JSON_COMPACT) : NULL;
  if (line)
    puts(line);
  fflush(stdout);
  iris_free(line);
  json_decref(out);
  return res.status != IRIS_PLUGIN_SENT;
}

static void list(const struct iris_plugins *p) {
  size_t i, m;
  for (i = 0; i < iris_plugins_count(p); i++) {
    const struct iris_plugin_descriptor *d = iris_plugins_get(p, i);
    json_t *modes = json_array(), *o;
    char *line;
    for (m = 0; m < d->nmodes; m++)
      json_array_append_new(modes, json_string(d->modes[m]->mode));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "plugin", d->name, "version",
                  d->version, "vendor", d->vendor, "abi", d->abi_minor ? "1.x" : "1.0", "path",
                  iris_plugins_path(p, i), "modes", modes, "load_us",
                  (json_int_t)iris_plugins_load_us(p, i));
    line = json_dumps(o, JSON_COMPACT);
    puts(line);
    iris_free(line);
    json_decref(o);
  }
  for (i = 0; i < iris_plugins_rejections(p); i++)
    fprintf(stderr, "rejected: %s\n", iris_plugins_rejection(p, i));
}

int main(int argc, char **argv) {
  struct iris_plugins *plugins = NULL;
  struct iris_vendor *vendor = NULL;
  struct iris_err err = {0};
  struct kvs cfg = {0}, secrets = {0};
  struct iris_vendor_env env = {0};
  const char *vendor_name = NULL, *mode = NULL, *name = NULL, *messages = NULL;
  int do_list = 0, do_health = 0, status = 0, i;
  json_t *doc = NULL;
  json_error_t jerr;

  iris_log_set_level(getenv("IRIS_LOG_LEVEL") ? iris_log_get_level() : IRIS_LOG_LEVEL_WARN);
  if (iris_plugins_new(&plugins, &err)) {
    fprintf(stderr, "error: %s\n", err.msg);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = IRIS_OK;
    if (strcmp(a, "--list") == 0) {
      do_list = 1;
      continue;
    }
    if (strcmp(a, "--health") == 0) {
      do_health = 1;
      continue;
    }
    if (!next) {
      fprintf(stderr, "usage: see the banner of lambda/tools/plugin_harness.c (missing value "
                      "after %s)\n", a);
      status = 2;
      goto out;
    }
    i++;
    if (strcmp(a, "--plugin") == 0)
      rc = iris_plugins_load_file(plugins, next, &err);
    else if (strcmp(a, "--dir") == 0)
      rc = iris_plugins_load_dir(plugins, next, &err);
    else if (strcmp(a, "--vendor") == 0)
      vendor_name = next;
    else if (strcmp(a, "--mode") == 0)
      mode = next;
    else if (strcmp(a, "--name") == 0)
      name = next;
    else if (strcmp(a, "--messages") == 0)
      messages = next;
    else if (strcmp(a, "--set") == 0)
      rc = add_pair(&cfg, next) ? IRIS_EINVAL : IRIS_OK;
    else if (strcmp(a, "--secret") == 0)
      rc = add_pair(&secrets, next) ? IRIS_EINVAL : IRIS_OK;
    else if (strcmp(a, "--config") == 0)
      rc = config_from_file(&cfg, next) ? IRIS_EINVAL : IRIS_OK;
    else {
      fprintf(stderr, "error: unknown option %s\n", a);
      status = 2;
      goto out;
    }
    if (rc) {
      fprintf(stderr, "error: %s %s: %s\n", a, next, err.msg[0] ? err.msg : "bad value");
      status = 2;
      goto out;
    }
  }
  if (do_list) {
    list(plugins);
    status = iris_plugins_rejections(plugins) ? 2 : 0;
    goto out;
  }
  if (!vendor_name || !mode) {
    fprintf(stderr, "error: --vendor and --mode are required (or --list)\n");
    status = 2;
    goto out;
  }
  env.secret = secret_from_args;
  env.secret_data = &secrets;
  if (iris_vendor_new(plugins, vendor_name, mode, name ? name : vendor_name, cfg.v, cfg.n, &env,
                      &vendor, &err)) {
    fprintf(stderr, "error: %s\n", err.msg);
    status = 2;
    goto out;
  }
  if (do_health) {
    int rc = iris_vendor_health(vendor, &err);
    printf("{\"health\":\"%s\"}\n", rc == IRIS_OK ? "ok" : rc == IRIS_EUNSUPPORTED ? "n/a" : "failed");
    if (rc && rc != IRIS_EUNSUPPORTED)
      fprintf(stderr, "error: %s\n", err.msg);
    status = rc && rc != IRIS_EUNSUPPORTED ? 1 : 0;
    if (!messages)
      goto out;
  }
  if (!messages) {
    fprintf(stderr, "error: --messages FILE (or -) is required\n");
    status = 2;
    goto out;
  }
  doc = strcmp(messages, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(messages, 0, &jerr);
  if (!doc) {
    fprintf(stderr, "error: %s: line %d: %s\n", messages, jerr.line, jerr.text);
    status = 2;
    goto out;
  }
  if (json_is_object(doc)) {
    status |= run_one(vendor, mode, doc);
  } else if (json_is_array(doc)) {
    size_t k;
    for (k = 0; k < json_array_size(doc); k++) {
      if (!json_is_object(json_array_get(doc, k))) {
        fprintf(stderr, "error: message %zu is not a JSON object\n", k);
        status = 2;
        goto out;
      }
      status |= run_one(vendor, mode, json_array_get(doc, k));
    }
  } else {
    fprintf(stderr, "error: %s: expected a message object or an array of them\n", messages);
    status = 2;
  }
out:
  json_decref(doc);
  iris_vendor_free(vendor);
  iris_plugins_free(plugins);
  kvs_free(&cfg);
  kvs_free(&secrets);
  return status;
}
