/* plugin_loader.c — loading and checking vendor plugins with libltdl (see plugin_loader.h). */
#include "plugin_loader.h"

#include <dirent.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"

#define IRIS_LOG_MODULE "plugins"
#include "log.h"

struct loaded {
  lt_dlhandle handle;
  char *path;
  const struct iris_plugin_descriptor *desc;
  int64_t load_us; /* dlopen + entry + checks */
};

struct iris_plugins {
  struct loaded *items;
  size_t n, cap;
  char **rejections;
  size_t nrej;
  int ltdl_ready;
};

static pthread_mutex_t ltdl_lock = PTHREAD_MUTEX_INITIALIZER;

int iris_plugins_new(struct iris_plugins **out, struct iris_err *err) {
  struct iris_plugins *p = iris_calloc(1, sizeof *p);
  *out = NULL;
  if (!p)
    return iris_err_set(err, IRIS_ENOMEM, "plugins: allocating the registry");
  pthread_mutex_lock(&ltdl_lock);
  p->ltdl_ready = lt_dlinit() == 0;
  pthread_mutex_unlock(&ltdl_lock);
  if (!p->ltdl_ready) {
    iris_free(p);
    return iris_err_set(err, IRIS_EPLUGIN, "plugins: lt_dlinit failed: %s", lt_dlerror());
  }
  *out = p;
  return IRIS_OK;
}

void iris_plugins_free(struct iris_plugins *p) {
  size_t i;
  if (!p)
    return;
  for (i = 0; i < p->n; i++) {
    lt_dlclose(p->items[i].handle);
    iris_free(p->items[i].path);
  }
  for (i = 0; i < p->nrej; i++)
    iris_free(p->rejections[i]);
  iris_free(p->items);
  iris_free(p->rejections);
  if (p->ltdl_ready) {
    pthread_mutex_lock(&ltdl_lock);
    lt_dlexit();
    pthread_mutex_unlock(&ltdl_lock);
  }
  iris_free(p);
}

size_t iris_plugins_count(const struct iris_plugins *p) { return p ? p->n : 0; }
const struct iris_plugin_descriptor *iris_plugins_get(const struct iris_plugins *p, size_t i) {
  return p && i < p->n ? p->items[i].desc : NULL;
}
int64_t iris_plugins_load_us(const struct iris_plugins *p, size_t i) {
  return p && i < p->n ? p->items[i].load_us : 0;
}
const char *iris_plugins_path(const struct iris_plugins *p, size_t i) {
  return p && i < p->n ? p->items[i].path : NULL;
}
size_t iris_plugins_rejections(const struct iris_plugins *p) { return p ? p->nrej : 0; }
const char *iris_plugins_rejection(const struct iris_plugins *p, size_t i) {
  return p && i < p->nrej ? p->rejections[i] : NULL;
}

const struct iris_plugin_mode_ops *iris_plugins_find(const struct iris_plugins *p,
                                                     const char *name, const char *mode) {
  size_t i, m;
  for (i = 0; p && i < p->n; i++) {
    const struct iris_plugin_descriptor *d = p->items[i].desc;
    if (strcmp(d->name, name) != 0)
      continue;
    for (m = 0; m < d->nmodes; m++)
      if (strcmp(d->modes[m]->mode, mode) == 0)
        return d->modes[m];
  }
  return NULL;
}

/* Record a rejection and return IRIS_EPLUGIN with the same text. */
static int reject(struct iris_plugins *p, const char *path, struct iris_err *err, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
static int reject(struct iris_plugins *p, const char *path, struct iris_err *err, const char *fmt,
                  ...) {
  char why[400];
  char *text, **grown;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  IRIS_LOG_ERR("plugin %s rejected: %s", path, why);
  text = iris_asprintf("%s: %s", path, why);
  grown = text ? iris_realloc(p->rejections, (p->nrej + 1) * sizeof *grown) : NULL;
  if (grown) {
    p->rejections = grown;
    p->rejections[p->nrej++] = text;
  } else {
    iris_free(text);
  }
  return iris_err_set(err, IRIS_EPLUGIN, "plugin %s: %s", path, why);
}

#define DESC_MIN_SIZE (offsetof(struct iris_plugin_descriptor, nmodes) + sizeof(size_t))
#define OPS_MIN_SIZE (offsetof(struct iris_plugin_mode_ops, destroy) + sizeof(void (*)(void *)))

static int check(struct iris_plugins *p, const char *path, const struct iris_plugin_descriptor *d,
                 struct iris_err *err) {
  size_t i, j;
  if (!d)
    return reject(p, path, err, "%s() returned NULL (the plugin must return its descriptor)",
                  IRIS_PLUGIN_ENTRY_SYMBOL);
  if (d->abi_major != IRIS_PLUGIN_ABI_MAJOR)
    return reject(p, path, err,
                  "built for plugin ABI %u.%u, this host speaks %d.x (rebuild the plugin against "
                  "iris-plugin %d.x)",
                  d->abi_major, d->abi_minor, IRIS_PLUGIN_ABI_MAJOR, IRIS_PLUGIN_ABI_MAJOR);
  if (d->struct_size < DESC_MIN_SIZE)
    return reject(p, path, err,
                  "descriptor struct_size %u is smaller than ABI %d.0's %zu (set struct_size to "
                  "sizeof(struct iris_plugin_descriptor))",
                  d->struct_size, IRIS_PLUGIN_ABI_MAJOR, DESC_MIN_SIZE);
  if (!d->name || !*d->name || !d->version || !d->vendor)
    return reject(p, path, err, "descriptor lacks a name, version or vendor");
  if (d->nmodes == 0 || !d->modes)
    return reject(p, path, err, "plugin '%s' serves no mode (fill modes and nmodes)", d->name);
  for (i = 0; i < d->nmodes; i++) {
    const struct iris_plugin_mode_ops *o = d->modes[i];
    if (!o || o->struct_size < OPS_MIN_SIZE || !o->mode || !*o->mode)
      return reject(p, path, err,
                    "plugin '%s': mode table %zu is missing, too small (struct_size %u, need %zu) "
                    "or has no mode name",
                    d->name, i, o ? o->struct_size : 0, OPS_MIN_SIZE);
    if (!o->init || !o->send || !o->destroy)
      return reject(p, path, err, "plugin '%s' mode '%s': init, send and destroy are required",
                    d->name, o->mode);
    for (j = 0; j < i; j++)
      if (strcmp(d->modes[j]->mode, o->mode) == 0)
        return reject(p, path, err, "plugin '%s' declares mode '%s' twice", d->name, o->mode);
  }
  for (i = 0; i < p->n; i++)
    if (strcmp(p->items[i].desc->name, d->name) == 0)
      return reject(p, path, err,
                    "a plugin named '%s' is already loaded from %s (plugin names must be unique; "
                    "remove one of the files)",
                    d->name, p->items[i].path);
  return IRIS_OK;
}

int iris_plugins_load_file(struct iris_plugins *p, const char *path, struct iris_err *err) {
  lt_dlhandle h;
  iris_plugin_entry_fn entry;
  const struct iris_plugin_descriptor *d;
  struct loaded *grown;
  int64_t t0 = iris_clock_mono_us();
  int rc;

  pthread_mutex_lock(&ltdl_lock);
  h = lt_dlopen(path);
  pthread_mutex_unlock(&ltdl_lock);
  if (!h)
    return reject(p, path, err, "cannot be loaded: %s (a missing library? check with ldd)",
                  lt_dlerror());
  /* ISO C forbids converting void* to a function pointer; POSIX guarantees it works. */
  *(void **)(&entry) = lt_dlsym(h, IRIS_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    lt_dlclose(h);
    return reject(p, path, err,
                  "no exported symbol %s (not an Iris plugin, or built with hidden visibility)",
                  IRIS_PLUGIN_ENTRY_SYMBOL);
  }
  d = entry();
  rc = check(p, path, d, err);
  if (rc) {
    lt_dlclose(h);
    return rc;
  }
  if (p->n == p->cap) {
    size_t ncap = p->cap ? p->cap * 2 : 8;
    grown = iris_realloc(p->items, ncap * sizeof *grown);
    if (!grown) {
      lt_dlclose(h);
      return iris_err_set(err, IRIS_ENOMEM, "plugins: registry");
    }
    p->items = grown;
    p->cap = ncap;
  }
  p->items[p->n].path = iris_strdup(path);
  if (!p->items[p->n].path) {
    lt_dlclose(h);
    return iris_err_set(err, IRIS_ENOMEM, "plugins: registry");
  }
  p->items[p->n].handle = h;
  p->items[p->n].desc = d;
  p->n++;
  p->items[p->n - 1].load_us = iris_clock_mono_us() - t0;
  IRIS_LOG_INFO("loaded plugin %s %s (%s, ABI %u.%u, %zu modes) from %s in %lld us", d->name,
                d->version, d->vendor, d->abi_major, d->abi_minor, d->nmodes, path,
                (long long)p->items[p->n - 1].load_us);
  return IRIS_OK;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int iris_plugins_load_dir(struct iris_plugins *p, const char *dir, struct iris_err *err) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL, **grown;
  size_t n = 0, i;
  int rc = IRIS_OK;

  if (!d)
    return iris_err_set(err, IRIS_ENOTFOUND, "plugins: cannot read directory %s", dir);
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || e->d_name[0] == '.')
      continue;
    grown = iris_realloc(names, (n + 1) * sizeof *names);
    if (!grown) {
      rc = iris_err_set(err, IRIS_ENOMEM, "plugins: listing %s", dir);
      break;
    }
    names = grown;
    names[n] = iris_asprintf("%s/%s", dir, e->d_name);
    if (!names[n]) {
      rc = iris_err_set(err, IRIS_ENOMEM, "plugins: listing %s", dir);
      break;
    }
    n++;
  }
  closedir(d);
  if (rc == IRIS_OK) {
    qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
      struct iris_err ignored = {0};
      /* A rejected plugin is recorded and skipped; the others still load. */
      if (iris_plugins_load_file(p, names[i], &ignored) == IRIS_ENOMEM) {
        rc = iris_err_set(err, IRIS_ENOMEM, "plugins: loading %s", names[i]);
        break;
      }
    }
  }
  for (i = 0; i < n; i++)
    iris_free(names[i]);
  iris_free(names);
  return rc;
}
