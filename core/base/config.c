/* config.c — JSON configuration, environment overrides, secret references (see config.h). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define IRIS_LOG_MODULE "config"
#include "log.h"
#include "utf8.h"

#define SECRET_PREFIX "secretsmanager:"

extern char **environ;

struct iris_config {
  json_t *root;
  json_t *secret_paths; /* key paths whose values came from secrets, each an array of key
                         * strings and array indexes */
};

void iris_config_free(struct iris_config *cfg) {
  if (!cfg)
    return;
  json_decref(cfg->root);
  json_decref(cfg->secret_paths);
  iris_free(cfg);
}

/* Merge src into dst (objects recursively). Both borrowed; dst is modified. */
static int merge(json_t *dst, json_t *src) {
  const char *key;
  json_t *val;
  json_object_foreach(src, key, val) {
    json_t *cur = json_object_get(dst, key);
    if (json_is_object(cur) && json_is_object(val)) {
      if (merge(cur, val))
        return -1;
    } else if (json_object_set(dst, key, val)) {
      return -1;
    }
  }
  return 0;
}

/* Set root[a][b]... = val (steals val), creating objects along the path. */
static int set_path(json_t *root, const char *path, json_t *val, struct iris_err *err) {
  char *copy = iris_strdup(path), *seg, *save = NULL, *next;
  json_t *node = root;
  int rc = IRIS_OK;
  if (!copy || !val) {
    json_decref(val);
    iris_free(copy);
    return iris_err_set(err, IRIS_ENOMEM, "config: setting %s", path);
  }
  seg = strtok_r(copy, ".", &save);
  while (seg) {
    next = strtok_r(NULL, ".", &save);
    if (!next) {
      if (json_object_set_new(node, seg, val))
        rc = iris_err_set(err, IRIS_ENOMEM, "config: setting %s", path);
      val = NULL;
      break;
    }
    if (!json_is_object(json_object_get(node, seg))) {
      if (json_object_set_new(node, seg, json_object())) {
        rc = iris_err_set(err, IRIS_ENOMEM, "config: setting %s", path);
        break;
      }
    }
    node = json_object_get(node, seg);
    seg = next;
  }
  json_decref(val);
  iris_free(copy);
  return rc;
}

/* A value from the environment: JSON if it parses, else the literal string. */
static json_t *env_value(const char *text) {
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  return v ? v : json_string(text);
}

static int apply_env(json_t *root, struct iris_err *err) {
  static const struct {
    const char *var, *path;
  } shorthand[] = {{"IRIS_PLUGIN_DIR", "plugins.dir"},
                   {"IRIS_TICK_SECONDS", "coordinator.tick_seconds"},
                   {"IRIS_LOG_LEVEL", "log.level"}};
  char **e;
  size_t i;
  int rc = IRIS_OK;
  for (i = 0; i < sizeof shorthand / sizeof shorthand[0] && rc == IRIS_OK; i++) {
    const char *v = getenv(shorthand[i].var);
    if (v && *v)
      rc = set_path(root, shorthand[i].path, env_value(v), err);
  }
  for (e = environ; e && *e && rc == IRIS_OK; e++) {
    const char *eq = strchr(*e, '=');
    char path[256];
    size_t n = 0, k;
    if (!eq)
      continue;
    if (strncmp(*e, "IRIS_QUEUE_", 11) == 0 && eq - *e > 11) {
      n = (size_t)snprintf(path, sizeof path, "queues.");
      for (k = 11; *e + k < eq && n + 1 < sizeof path; k++)
        path[n++] = (char)tolower((unsigned char)(*e)[k]);
      path[n] = '\0';
      rc = set_path(root, path, json_string(eq + 1), err);
    } else if (strncmp(*e, "IRIS__", 6) == 0 && eq - *e > 6) {
      for (k = 6; *e + k < eq && n + 1 < sizeof path; k++) {
        if ((*e)[k] == '_' && (*e)[k + 1] == '_' && *e + k + 1 < eq) {
          path[n++] = '.';
          k++;
        } else {
          path[n++] = (char)tolower((unsigned char)(*e)[k]);
        }
      }
      path[n] = '\0';
      if (n == 0 || path[0] == '.' || path[n - 1] == '.' || strstr(path, ".."))
        return iris_err_set(err, IRIS_ECONFIG, "config: variable %.*s is not IRIS__A__B",
                            (int)(eq - *e), *e);
      rc = set_path(root, path, env_value(eq + 1), err);
    }
  }
  return rc;
}

static int parse_doc(const char *what, json_t *doc, json_error_t *jerr, json_t **out,
                     struct iris_err *err) {
  if (!doc)
    return iris_err_set(err, IRIS_ECONFIG, "config: %s: line %d column %d: %s", what, jerr->line,
                        jerr->column, jerr->text);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return iris_err_set(err, IRIS_ECONFIG, "config: %s must hold a JSON object", what);
  }
  *out = doc;
  return IRIS_OK;
}

static int new_cfg(json_t *root, struct iris_config **out, struct iris_err *err) {
  struct iris_config *cfg = iris_calloc(1, sizeof *cfg);
  if (cfg)
    cfg->secret_paths = json_array();
  if (!cfg || !cfg->secret_paths) {
    iris_free(cfg);
    json_decref(root);
    return iris_err_set(err, IRIS_ENOMEM, "config: allocating");
  }
  cfg->root = root;
  *out = cfg;
  return IRIS_OK;
}

int iris_config_from_string(const char *json, struct iris_config **out, struct iris_err *err) {
  json_error_t jerr;
  json_t *root = NULL;
  int rc;
  *out = NULL;
  rc = parse_doc("inline JSON", json_loads(json ? json : "{}", 0, &jerr), &jerr, &root, err);
  return rc ? rc : new_cfg(root, out, err);
}

int iris_config_load(const char *path, struct iris_config **out, struct iris_err *err) {
  json_error_t jerr;
  json_t *root = NULL, *inline_doc = NULL;
  const char *inline_text = getenv("IRIS_CONFIG_JSON");
  int rc;

  *out = NULL;
  if (!path || !*path)
    path = getenv("IRIS_CONFIG");
  if (path && *path) {
    rc = parse_doc(path, json_load_file(path, 0, &jerr), &jerr, &root, err);
    if (rc)
      return rc;
  } else {
    root = json_object();
    if (!root)
      return iris_err_set(err, IRIS_ENOMEM, "config: allocating");
  }
  if (inline_text && *inline_text) {
    rc = parse_doc("IRIS_CONFIG_JSON", json_loads(inline_text, 0, &jerr), &jerr, &inline_doc, err);
    if (rc == IRIS_OK && merge(root, inline_doc))
      rc = iris_err_set(err, IRIS_ENOMEM, "config: merging IRIS_CONFIG_JSON");
    json_decref(inline_doc);
    if (rc) {
      json_decref(root);
      return rc;
    }
  }
  rc = apply_env(root, err);
  if (rc) {
    json_decref(root);
    return rc;
  }
  return new_cfg(root, out, err);
}

/* ---- secrets ----------------------------------------------------------------------- */

static int register_strings(json_t *doc, struct iris_err *err);

/* Resolve one "secretsmanager:id[#key]" reference into a new string value. */
static int resolve_ref(const char *ref, iris_config_secret_fn fetch, void *data, const char *where,
                       json_t **out, struct iris_err *err) {
  char *id = iris_strdup(ref + strlen(SECRET_PREFIX)), *hash, *value = NULL;
  json_t *doc = NULL, *field;
  int rc;
  *out = NULL;
  if (!id)
    return iris_err_set(err, IRIS_ENOMEM, "config: secret reference");
  hash = strchr(id, '#');
  if (hash)
    *hash++ = '\0';
  if (!*id) {
    rc = iris_err_set(err, IRIS_ECONFIG, "config: %s: empty secret id", where);
    goto out;
  }
  rc = fetch(data, id, &value, err);
  if (rc) {
    iris_err_prefix(err, "config: %s: secret '%s'", where, id);
    goto out;
  }
  if (hash) {
    doc = json_loads(value, 0, NULL);
    field = json_object_get(doc, hash);
    if (!json_is_object(doc)) {
      rc = iris_err_set(err, IRIS_ECONFIG,
                        "config: %s: secret '%s' is not a JSON object, so it "
                        "has no key '%s'",
                        where, id, hash);
      goto out;
    }
    if (!field) {
      rc = iris_err_set(err, IRIS_ECONFIG, "config: %s: secret '%s' has no key '%s'", where, id,
                        hash);
      goto out;
    }
    *out = json_is_string(field) ? json_string(json_string_value(field)) : json_deep_copy(field);
  } else {
    *out = json_string(value);
  }
  if (!*out) {
    rc = iris_err_set(err, IRIS_ENOMEM, "config: secret value");
    goto out;
  }
  rc = register_strings(*out, err);
out:
  if (rc) {
    json_decref(*out);
    *out = NULL;
  }
  json_decref(doc);
  if (value) {
    memset(value, 0, strlen(value));
    iris_free(value);
  }
  iris_free(id);
  return rc;
}

static int walk(struct iris_config *cfg, json_t *node, char *path, size_t plen, size_t cap,
                json_t *segs, iris_config_secret_fn fetch, void *data, struct iris_err *err);

/* One value of an object (key) or an array (index): descend, or resolve a reference in place.
 * path is the printable key path ("vendors.sms[0].config.token") for errors; segs the same
 * path as key strings and index integers, recorded so the redacted dump finds the value. */
static int visit(struct iris_config *cfg, json_t *node, const char *key, size_t index, json_t *val,
                 char *path, size_t plen, size_t cap, json_t *segs, iris_config_secret_fn fetch,
                 void *data, struct iris_err *err) {
  size_t n = key ? (size_t)snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", key)
                 : (size_t)snprintf(path + plen, cap - plen, "[%zu]", index);
  int rc = IRIS_OK;
  if (plen + n >= cap)
    return iris_err_set(err, IRIS_ECONFIG, "config: key path too long at '%.*s'",
                        iris_utf8_prec(path, 200), path);
  if (json_array_append_new(segs, key ? json_string(key) : json_integer((json_int_t)index)))
    return iris_err_set(err, IRIS_ENOMEM, "config: key path");
  if (json_is_object(val) || json_is_array(val)) {
    rc = walk(cfg, val, path, plen + n, cap, segs, fetch, data, err);
  } else if (json_is_string(val) &&
             strncmp(json_string_value(val), SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0) {
    json_t *resolved = NULL;
    rc = resolve_ref(json_string_value(val), fetch, data, path, &resolved, err);
    if (rc == IRIS_OK && (key ? json_object_set_new(node, key, resolved)
                              : json_array_set_new(node, index, resolved)))
      rc = iris_err_set(err, IRIS_ENOMEM, "config: storing a secret");
    if (rc == IRIS_OK && json_array_append_new(cfg->secret_paths, json_deep_copy(segs)))
      rc = iris_err_set(err, IRIS_ENOMEM, "config: storing a secret");
  }
  path[plen] = '\0';
  json_array_remove(segs, json_array_size(segs) - 1);
  return rc;
}

/* Resolve every "secretsmanager:" string under node, in objects and arrays alike (vendor
 * lists hold plugin configs: vendors.<mode>[i].config.<key>). */
static int walk(struct iris_config *cfg, json_t *node, char *path, size_t plen, size_t cap,
                json_t *segs, iris_config_secret_fn fetch, void *data, struct iris_err *err) {
  const char *key;
  json_t *val;
  void *tmp;
  size_t i;
  int rc = IRIS_OK;
  if (json_is_array(node)) {
    json_array_foreach(node, i, val) {
      rc = visit(cfg, node, NULL, i, val, path, plen, cap, segs, fetch, data, err);
      if (rc)
        return rc;
    }
    return IRIS_OK;
  }
  json_object_foreach_safe(node, tmp, key, val) {
    rc = visit(cfg, node, key, 0, val, path, plen, cap, segs, fetch, data, err);
    if (rc)
      return rc;
  }
  return rc;
}

/* Register every string in doc (recursively) for log redaction. */
static int register_strings(json_t *doc, struct iris_err *err) {
  const char *k;
  size_t i;
  json_t *v;
  int rc = IRIS_OK;
  if (json_is_string(doc) && strlen(json_string_value(doc)) >= 4)
    rc = iris_log_add_secret(json_string_value(doc));
  else if (json_is_object(doc)) {
    json_object_foreach(doc, k, v) {
      rc = register_strings(v, err);
      if (rc)
        return rc;
    }
  } else if (json_is_array(doc)) {
    json_array_foreach(doc, i, v) {
      rc = register_strings(v, err);
      if (rc)
        return rc;
    }
  }
  if (rc)
    iris_err_set(err, rc, "config: registering secrets for redaction");
  return rc;
}

int iris_config_resolve_secrets(struct iris_config *cfg, iris_config_secret_fn fetch, void *data,
                                struct iris_err *err) {
  const char *whole = getenv("IRIS_CONFIG_SECRET");
  char path[512] = "";
  json_t *segs;
  int rc = IRIS_OK;
  if (whole && *whole) {
    char *value = NULL;
    json_t *doc;
    json_error_t jerr;
    rc = fetch(data, whole, &value, err);
    if (rc)
      return iris_err_prefix(err, "config: IRIS_CONFIG_SECRET '%s'", whole);
    doc = json_loads(value, 0, &jerr);
    memset(value, 0, strlen(value));
    iris_free(value);
    if (!json_is_object(doc)) {
      json_decref(doc);
      return iris_err_set(err, IRIS_ECONFIG,
                          "config: IRIS_CONFIG_SECRET '%s' must hold a JSON object", whole);
    }
    /* Every string in the secret document is sensitive. */
    rc = register_strings(doc, err);
    if (rc == IRIS_OK && merge(cfg->root, doc))
      rc = iris_err_set(err, IRIS_ENOMEM, "config: merging IRIS_CONFIG_SECRET");
    json_decref(doc);
    if (rc)
      return rc;
  }
  segs = json_array();
  if (!segs)
    return iris_err_set(err, IRIS_ENOMEM, "config: key path");
  rc = walk(cfg, cfg->root, path, 0, sizeof path, segs, fetch, data, err);
  json_decref(segs);
  return rc;
}

/* ---- getters ------------------------------------------------------------------------ */

json_t *iris_config_json(const struct iris_config *cfg, const char *path) {
  const char *p = path, *dot;
  json_t *node = cfg ? cfg->root : NULL;
  char seg[128];
  while (node && p && *p) {
    size_t n;
    dot = strchr(p, '.');
    n = dot ? (size_t)(dot - p) : strlen(p);
    if (n >= sizeof seg || !json_is_object(node))
      return NULL;
    memcpy(seg, p, n);
    seg[n] = '\0';
    node = json_object_get(node, seg);
    p = dot ? dot + 1 : NULL;
  }
  return node;
}

static int absent(const char *path, struct iris_err *err) {
  return iris_err_set(err, IRIS_ENOTFOUND, "config: key '%s' is required", path);
}

int iris_config_get_str(const struct iris_config *cfg, const char *path, const char **out,
                        struct iris_err *err) {
  json_t *v = iris_config_json(cfg, path);
  if (!v || json_is_null(v))
    return absent(path, err);
  if (!json_is_string(v))
    return iris_err_set(err, IRIS_ECONFIG, "config: key '%s' must be a string", path);
  *out = json_string_value(v);
  return IRIS_OK;
}

int iris_config_str_or(const struct iris_config *cfg, const char *path, const char *def,
                       const char **out, struct iris_err *err) {
  int rc = iris_config_get_str(cfg, path, out, err);
  if (rc == IRIS_ENOTFOUND) {
    *out = def;
    iris_err_clear(err);
    return IRIS_OK;
  }
  return rc;
}

int iris_config_get_i64(const struct iris_config *cfg, const char *path, int64_t min, int64_t max,
                        int64_t *out, struct iris_err *err) {
  json_t *v = iris_config_json(cfg, path);
  int64_t x;
  if (!v || json_is_null(v))
    return absent(path, err);
  if (json_is_integer(v)) {
    x = json_integer_value(v);
  } else if (json_is_string(v)) {
    /* Environment overrides of numbers usually arrive as JSON numbers; accept "42" too. */
    char *end = NULL;
    const char *s = json_string_value(v);
    long long ll = strtoll(s, &end, 10);
    if (!*s || *end)
      return iris_err_set(err, IRIS_ECONFIG,
                          "config: key '%s' must be an integer %lld-%lld, "
                          "got \"%.*s\"",
                          path, (long long)min, (long long)max, iris_utf8_prec(s, 60), s);
    x = ll;
  } else {
    return iris_err_set(err, IRIS_ECONFIG, "config: key '%s' must be an integer %lld-%lld", path,
                        (long long)min, (long long)max);
  }
  if (x < min || x > max)
    return iris_err_set(err, IRIS_ECONFIG,
                        "config: key '%s' must be an integer %lld-%lld, got %lld", path,
                        (long long)min, (long long)max, (long long)x);
  *out = x;
  return IRIS_OK;
}

int iris_config_i64_or(const struct iris_config *cfg, const char *path, int64_t def, int64_t min,
                       int64_t max, int64_t *out, struct iris_err *err) {
  int rc = iris_config_get_i64(cfg, path, min, max, out, err);
  if (rc == IRIS_ENOTFOUND) {
    *out = def;
    iris_err_clear(err);
    return IRIS_OK;
  }
  return rc;
}

int iris_config_bool_or(const struct iris_config *cfg, const char *path, int def, int *out,
                        struct iris_err *err) {
  json_t *v = iris_config_json(cfg, path);
  if (!v || json_is_null(v)) {
    *out = def;
    return IRIS_OK;
  }
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return IRIS_OK;
  }
  if (json_is_string(v) &&
      (strcmp(json_string_value(v), "true") == 0 || strcmp(json_string_value(v), "false") == 0)) {
    *out = strcmp(json_string_value(v), "true") == 0;
    return IRIS_OK;
  }
  return iris_err_set(err, IRIS_ECONFIG, "config: key '%s' must be true or false", path);
}

int iris_config_double_or(const struct iris_config *cfg, const char *path, double def, double min,
                          double max, double *out, struct iris_err *err) {
  json_t *v = iris_config_json(cfg, path);
  double x;
  if (!v || json_is_null(v)) {
    *out = def;
    return IRIS_OK;
  }
  if (!json_is_number(v))
    return iris_err_set(err, IRIS_ECONFIG, "config: key '%s' must be a number %g-%g", path, min,
                        max);
  x = json_number_value(v);
  if (x < min || x > max)
    return iris_err_set(err, IRIS_ECONFIG, "config: key '%s' must be a number %g-%g, got %g", path,
                        min, max, x);
  *out = x;
  return IRIS_OK;
}

char *iris_config_dump_redacted(const struct iris_config *cfg) {
  json_t *copy = json_deep_copy(cfg->root);
  size_t i;
  char *text = NULL, *safe = NULL;
  if (!copy)
    return NULL;
  for (i = 0; i < json_array_size(cfg->secret_paths); i++) {
    json_t *segs = json_array_get(cfg->secret_paths, i), *node = copy, *seg;
    size_t k, last = json_array_size(segs) - 1;
    json_array_foreach(segs, k, seg) {
      json_t *red = k == last ? json_string("[REDACTED]") : NULL;
      if (k == last &&
          (json_is_string(seg) ? json_object_set_new(node, json_string_value(seg), red)
                               : json_array_set_new(node, (size_t)json_integer_value(seg), red)))
        goto out;
      if (k < last)
        node = json_is_string(seg) ? json_object_get(node, json_string_value(seg))
                                   : json_array_get(node, (size_t)json_integer_value(seg));
    }
  }
  text = json_dumps(copy, JSON_INDENT(2) | JSON_SORT_KEYS);
  /* Belt and braces: values registered elsewhere (IRIS_CONFIG_SECRET) are redacted too. */
  if (text)
    safe = iris_log_redact(text);
out:
  iris_free(text);
  json_decref(copy);
  return safe;
}
