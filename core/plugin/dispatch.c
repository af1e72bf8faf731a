/* dispatch.c — vendor instances per mode (see dispatch.h). */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"

#define IRIS_LOG_MODULE "dispatch"
#include "log.h"

struct lane {
  char *mode;
  struct iris_vendor **v;
  size_t n;
  size_t start; /* random rotation offset */
};

struct iris_dispatch {
  struct lane *lanes;
  size_t n;
};

void iris_dispatch_free(struct iris_dispatch *d) {
  size_t i, k;
  if (!d)
    return;
  for (i = 0; i < d->n; i++) {
    for (k = 0; k < d->lanes[i].n; k++)
      iris_vendor_free(d->lanes[i].v[k]);
    iris_free(d->lanes[i].v);
    iris_free(d->lanes[i].mode);
  }
  iris_free(d->lanes);
  iris_free(d);
}

/* A vendor's settings as strings (numbers and booleans as JSON text). */
static int to_kv(json_t *cfg, struct iris_plugin_kv **out, size_t *n, struct iris_err *err) {
  const char *k;
  json_t *v;
  size_t i = 0;
  *out = NULL;
  *n = json_object_size(cfg);
  if (!*n)
    return IRIS_OK;
  *out = iris_calloc(*n, sizeof **out);
  if (!*out)
    return iris_err_set(err, IRIS_ENOMEM, "dispatch: vendor settings");
  json_object_foreach(cfg, k, v) {
    (*out)[i].key = k;
    (*out)[i].value = json_is_string(v) ? iris_strdup(json_string_value(v))
                                        : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!(*out)[i].value)
      return iris_err_set(err, IRIS_ENOMEM, "dispatch: vendor settings");
    i++;
  }
  return IRIS_OK;
}

static void free_kv(struct iris_plugin_kv *kv, size_t n) {
  size_t i;
  for (i = 0; kv && i < n; i++)
    iris_free((char *)kv[i].value);
  iris_free(kv);
}

int iris_dispatch_new(const struct iris_plugins *plugins, json_t *vendors,
                      const struct iris_vendor_env *env, struct iris_dispatch **out,
                      struct iris_err *err) {
  struct iris_dispatch *d;
  const char *mode;
  json_t *list;
  int rc = IRIS_OK;
  unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();

  *out = NULL;
  if (vendors && !json_is_object(vendors))
    return iris_err_set(err, IRIS_ECONFIG,
                        "config: key 'vendors' must be an object of mode → list");
  d = iris_calloc(1, sizeof *d);
  if (!d)
    return iris_err_set(err, IRIS_ENOMEM, "dispatch: allocating");
  d->lanes = iris_calloc(json_object_size(vendors) + 1, sizeof *d->lanes);
  if (!d->lanes) {
    iris_free(d);
    return iris_err_set(err, IRIS_ENOMEM, "dispatch: allocating");
  }
  json_object_foreach(vendors, mode, list) {
    struct lane *l = &d->lanes[d->n++];
    size_t i;
    l->mode = iris_strdup(mode);
    if (!json_is_array(list) || json_array_size(list) == 0) {
      rc = iris_err_set(err, IRIS_ECONFIG, "config: vendors.%s must be a non-empty list", mode);
      break;
    }
    l->v = iris_calloc(json_array_size(list), sizeof *l->v);
    if (!l->mode || !l->v) {
      rc = iris_err_set(err, IRIS_ENOMEM, "dispatch: allocating");
      break;
    }
    for (i = 0; i < json_array_size(list) && rc == IRIS_OK; i++) {
      json_t *item = json_array_get(list, i);
      const char *plugin = json_string_value(json_object_get(item, "plugin"));
      const char *name = json_string_value(json_object_get(item, "name"));
      json_t *cfg = json_object_get(item, "config");
      struct iris_plugin_kv *kv = NULL;
      size_t nkv = 0;
      if (!plugin || (cfg && !json_is_object(cfg))) {
        rc = iris_err_set(err, IRIS_ECONFIG,
                          "config: vendors.%s[%zu] needs \"plugin\" and an object \"config\"",
                          mode, i);
        break;
      }
      rc = to_kv(cfg, &kv, &nkv, err);
      if (rc == IRIS_OK)
        rc = iris_vendor_new(plugins, plugin, mode, name ? name : plugin, kv, nkv, env, &l->v[i],
                             err);
      free_kv(kv, nkv);
      if (rc == IRIS_OK)
        l->n++;
    }
    l->start = l->n ? (size_t)rand_r(&seed) % l->n : 0;
    if (rc == IRIS_OK)
      IRIS_LOG_INFO("mode %s: %zu vendor instance(s)", mode, l->n);
    if (rc)
      break;
  }
  if (rc) {
    iris_dispatch_free(d);
    return rc;
  }
  *out = d;
  return IRIS_OK;
}

static struct lane *find(const struct iris_dispatch *d, const char *mode) {
  size_t i;
  for (i = 0; d && i < d->n; i++)
    if (strcmp(d->lanes[i].mode, mode) == 0)
      return &d->lanes[i];
  return NULL;
}

struct iris_vendor *iris_dispatch_pick(struct iris_dispatch *d, const char *mode, int attempt) {
  struct lane *l = find(d, mode);
  if (!l || !l->n)
    return NULL;
  return l->v[(l->start + (size_t)(attempt < 0 ? 0 : attempt)) % l->n];
}

size_t iris_dispatch_count(const struct iris_dispatch *d, const char *mode) {
  struct lane *l = find(d, mode);
  return l ? l->n : 0;
}
