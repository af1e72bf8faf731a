/*
 * iris-plugin-harness — load a vendor plugin, feed it messages from JSON, print each result.
 * For plugin authors (against a vendor sandbox or a fake) and operators (does this layer
 * load? does this configuration work?). `iris-plugin-harness --help` prints the usage below.
 *
 * Options are named as in the configuration's vendors.<mode> entries ("plugin", "name",
 * "config"); a secret setting is written as in the configuration ("secretsmanager:<id>") and
 * resolved from --secret <id>=<value>, exactly as the sender resolves it from Secrets
 * Manager. Every --secret value is redacted from everything the harness prints.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "plugin_host.h"
#include "plugin_loader.h"

static const char usage[] =
    "usage: iris-plugin-harness --load FILE.so | --dir DIR  [--list]\n"
    "       iris-plugin-harness --load FILE.so --plugin NAME --mode MODE [--name NAME]\n"
    "           [--set KEY=VALUE]... [--config FILE] [--secret ID=VALUE]... [--health]\n"
    "           [--messages FILE | -]\n"
    "\n"
    "  --load FILE     load one plugin .so (older spelling: --plugin FILE, when it names a file)\n"
    "  --dir DIR       load every iris-*.so of a directory, as the sender does\n"
    "  --list          print one JSON line per loaded plugin (name, version, modes, ...)\n"
    "  --plugin NAME   the plugin to instantiate, as vendors.<mode>[].plugin (older: --vendor)\n"
    "  --mode MODE     the Iris mode to instantiate it for (email, sms, call, im, ...)\n"
    "  --name NAME     the instance name, as vendors.<mode>[].name (default: the plugin name)\n"
    "  --set KEY=VALUE one setting, as in vendors.<mode>[].config\n"
    "  --config FILE   a JSON object of settings, or a whole vendors.<mode>[] entry\n"
    "                  {\"plugin\": ..., \"name\": ..., \"config\": {...}}\n"
    "  --secret ID=VALUE  the value of secret ID: a setting \"secretsmanager:ID\" (or\n"
    "                  \"secretsmanager:ID#key\" for one key of a JSON secret) resolves to it;\n"
    "                  plugins asking host->get_secret(ID) get it too. Redacted in all output.\n"
    "  --health        call the plugin's health check and print {\"health\": ok|failed|n/a}\n"
    "  --messages FILE the messages to send, or - for standard input\n"
    "\n"
    "The messages file holds one JSON object or an array of them; each object has:\n"
    "  message_id (string), destination (string) or destinations (array of strings),\n"
    "  bcc (array), subject, body, email_html, application, priority, plan, target (strings),\n"
    "  incident_id (integer), extra (object of string fields such as from_address).\n"
    "At most 64 destinations, bcc addresses and extra fields per message are read.\n"
    "\n"
    "Output: one JSON line per message: {\"message_id\", \"status\" (sent | retryable |\n"
    "permanent | rate_limited), \"retry_after_ms\", \"vendor_message_id\", \"error\", \"ms\"}.\n"
    "Exit status: 0 all sent, 1 some not sent (or unhealthy), 2 usage or load error.\n";

/* Print an error line with every registered secret replaced. */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...) {
  char *text, *safe;
  va_list ap;
  va_start(ap, fmt);
  text = iris_vasprintf(fmt, ap);
  va_end(ap);
  safe = text ? iris_log_redact(text) : NULL;
  fprintf(stderr, "error: %s\n", safe ? safe : "(message withheld: out of memory)");
  iris_free(safe);
  iris_free(text);
}

/* --secret pairs: id → value (values registered for redaction). */
struct kvs {
  struct iris_plugin_kv *v;
  size_t n;
};

static int kvs_add(struct kvs *k, const char *key, size_t key_len, const char *value) {
  struct iris_plugin_kv *g = iris_realloc(k->v, (k->n + 1) * sizeof *g);
  if (!g)
    return -1;
  k->v = g;
  k->v[k->n].key = iris_strndup(key, key_len);
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
  k->v = NULL;
  k->n = 0;
}

/* "KEY=VALUE" → settings[KEY] = VALUE. */
static int set_pair(json_t *settings, const char *arg) {
  const char *eq = strchr(arg, '=');
  char *key;
  int rc;
  if (!eq || eq == arg)
    return -1;
  key = iris_strndup(arg, (size_t)(eq - arg));
  rc = key ? json_object_set_new(settings, key, json_string(eq + 1)) : -1;
  iris_free(key);
  return rc;
}

/* "ID=VALUE" → secrets; the value is redacted from now on. */
static int secret_pair(struct kvs *secrets, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return -1;
  if (strlen(eq + 1) >= 4 && iris_log_add_secret(eq + 1) != IRIS_OK)
    return -1;
  if (strlen(eq + 1) < 4)
    fprintf(stderr, "warning: --secret %.*s: a value under 4 bytes cannot be redacted\n",
            (int)(eq - arg), arg);
  return kvs_add(secrets, arg, (size_t)(eq - arg), eq + 1);
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

/*
 * --config FILE: a JSON object of settings, or a vendors.<mode>[] entry whose "plugin" and
 * "name" fill *plugin / *name (unless given on the command line; borrowed from *doc_out).
 */
static int config_from_file(json_t *settings, const char *path, json_t **doc_out,
                            const char **plugin, const char **name) {
  json_error_t jerr;
  json_t *doc, *cfg;
  if (*doc_out) {
    complain("--config may be given once (merge the files, or add --set)");
    return -1;
  }
  doc = json_load_file(path, 0, &jerr);
  if (!json_is_object(doc)) {
    complain("%s: %s", path, doc ? "expected a JSON object" : jerr.text);
    json_decref(doc);
    return -1;
  }
  cfg = json_object_get(doc, "config");
  if (json_is_object(cfg) && json_is_string(json_object_get(doc, "plugin"))) {
    if (!*plugin)
      *plugin = json_string_value(json_object_get(doc, "plugin"));
    if (!*name && json_is_string(json_object_get(doc, "name")))
      *name = json_string_value(json_object_get(doc, "name"));
  } else {
    cfg = doc;
  }
  if (json_object_update(settings, cfg) != 0) {
    json_decref(doc);
    return -1;
  }
  *doc_out = doc;
  return 0;
}

/*
 * The settings as the plugin gets them: secret references resolved through --secret, like
 * the sender resolves them through Secrets Manager, and every value a string (numbers and
 * booleans as JSON text). *out owned by the caller (kvs_free).
 */
static int resolve_settings(json_t *settings, struct kvs *secrets, struct kvs *out,
                            struct iris_err *err) {
  struct iris_config *cfg = NULL;
  json_t *root = json_pack("{s:O}", "vendor", settings), *v;
  char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
  const char *key;
  int rc;

  rc = text ? iris_config_from_string(text, &cfg, err)
            : iris_err_set(err, IRIS_ENOMEM, "copying the settings");
  if (rc == IRIS_OK)
    rc = iris_config_resolve_secrets(cfg, secret_from_args, secrets, err);
  if (rc == IRIS_OK) {
    json_object_foreach(iris_config_json(cfg, "vendor"), key, v) {
      char *value = json_is_string(v) ? iris_strdup(json_string_value(v))
                                      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      if (!value || kvs_add(out, key, strlen(key), value)) {
        iris_free(value);
        rc = iris_err_set(err, IRIS_ENOMEM, "copying the settings");
        break;
      }
      iris_free(value);
    }
  }
  iris_config_free(cfg);
  iris_free(text);
  json_decref(root);
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
  char *line, *safe;
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
  safe = line ? iris_log_redact(line) : NULL; /* a plugin may echo a secret in its error */
  if (safe)
    puts(safe);
  fflush(stdout);
  iris_free(safe);
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
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "plugin", d->name, "version", d->version,
                  "vendor", d->vendor, "abi", d->abi_minor ? "1.x" : "1.0", "path",
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

static int is_file(const char *arg) {
  size_t n = strlen(arg);
  return strchr(arg, '/') != NULL || (n > 3 && strcmp(arg + n - 3, ".so") == 0);
}

int main(int argc, char **argv) {
  struct iris_plugins *plugins = NULL;
  struct iris_vendor *vendor = NULL;
  struct iris_err err = {0};
  struct kvs cfg = {0}, secrets = {0};
  struct iris_vendor_env env = {0};
  const char *plugin = NULL, *mode = NULL, *name = NULL, *messages = NULL;
  int do_list = 0, do_health = 0, status = 0, i;
  json_t *doc = NULL, *settings = json_object(), *config_doc = NULL;
  json_error_t jerr;

  iris_log_set_level(getenv("IRIS_LOG_LEVEL") ? iris_log_get_level() : IRIS_LOG_LEVEL_WARN);
  if (!settings || iris_plugins_new(&plugins, &err)) {
    complain("%s", settings ? err.msg : "out of memory");
    status = 2;
    goto out;
  }
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = IRIS_OK;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      goto out;
    }
    if (strcmp(a, "--list") == 0) {
      do_list = 1;
      continue;
    }
    if (strcmp(a, "--health") == 0) {
      do_health = 1;
      continue;
    }
    if (!next) {
      complain("missing value after %s (see --help)", a);
      status = 2;
      goto out;
    }
    i++;
    err.msg[0] = '\0';
    if (strcmp(a, "--load") == 0 || (strcmp(a, "--plugin") == 0 && is_file(next)))
      rc = iris_plugins_load_file(plugins, next, &err);
    else if (strcmp(a, "--dir") == 0)
      rc = iris_plugins_load_dir(plugins, next, &err);
    else if (strcmp(a, "--plugin") == 0 || strcmp(a, "--vendor") == 0)
      plugin = next;
    else if (strcmp(a, "--mode") == 0)
      mode = next;
    else if (strcmp(a, "--name") == 0)
      name = next;
    else if (strcmp(a, "--messages") == 0)
      messages = next;
    else if (strcmp(a, "--set") == 0)
      rc = set_pair(settings, next) ? IRIS_EINVAL : IRIS_OK;
    else if (strcmp(a, "--secret") == 0)
      rc = secret_pair(&secrets, next) ? IRIS_EINVAL : IRIS_OK;
    else if (strcmp(a, "--config") == 0)
      rc = config_from_file(settings, next, &config_doc, &plugin, &name) ? IRIS_EINVAL : IRIS_OK;
    else {
      complain("unknown option %s (see --help)", a);
      status = 2;
      goto out;
    }
    if (rc) {
      /* never echo a --secret argument: its value is the secret */
      complain("%s %s: %s", a, strcmp(a, "--secret") == 0 ? "ID=[REDACTED]" : next,
               err.msg[0] ? err.msg : "bad value (KEY=VALUE expected)");
      status = 2;
      goto out;
    }
  }
  if (do_list) {
    list(plugins);
    status = iris_plugins_rejections(plugins) ? 2 : 0;
    goto out;
  }
  if (!plugin || !mode) {
    complain("--plugin NAME and --mode MODE are required (or --list; see --help)");
    status = 2;
    goto out;
  }
  if (resolve_settings(settings, &secrets, &cfg, &err)) {
    complain("settings: %s", err.msg);
    status = 2;
    goto out;
  }
  env.secret = secret_from_args;
  env.secret_data = &secrets;
  if (iris_vendor_new(plugins, plugin, mode, name ? name : plugin, cfg.v, cfg.n, &env, &vendor,
                      &err)) {
    complain("%s", err.msg);
    status = 2;
    goto out;
  }
  if (do_health) {
    int rc = iris_vendor_health(vendor, &err);
    printf("{\"health\":\"%s\"}\n", rc == IRIS_OK             ? "ok"
                                    : rc == IRIS_EUNSUPPORTED ? "n/a"
                                                              : "failed");
    if (rc && rc != IRIS_EUNSUPPORTED)
      complain("%s", err.msg);
    status = rc && rc != IRIS_EUNSUPPORTED ? 1 : 0;
    if (!messages)
      goto out;
  }
  if (!messages) {
    complain("--messages FILE (or -) is required (see --help)");
    status = 2;
    goto out;
  }
  doc = strcmp(messages, "-") == 0 ? json_loadf(stdin, 0, &jerr)
                                   : json_load_file(messages, 0, &jerr);
  if (!doc) {
    complain("%s: line %d: %s", messages, jerr.line, jerr.text);
    status = 2;
    goto out;
  }
  if (json_is_object(doc)) {
    status |= run_one(vendor, mode, doc);
  } else if (json_is_array(doc)) {
    size_t k;
    for (k = 0; k < json_array_size(doc); k++) {
      if (!json_is_object(json_array_get(doc, k))) {
        complain("message %zu is not a JSON object", k);
        status = 2;
        goto out;
      }
      status |= run_one(vendor, mode, json_array_get(doc, k));
    }
  } else {
    complain("%s: expected a message object or an array of them", messages);
    status = 2;
  }
out:
  json_decref(doc);
  iris_vendor_free(vendor);
  iris_plugins_free(plugins);
  kvs_free(&cfg);
  kvs_free(&secrets);
  json_decref(settings);
  json_decref(config_doc);
  return status;
}
