/*
 * plugin_opts.h — the table-driven option reader the bundled vendor plugins share.
 *
 * A plugin describes its options once, as a table of {name, kind, required, default, bounds,
 * where in the instance}, and init() becomes one call: pu_opts_read() checks every key the
 * operator wrote against the table (unknown keys are an error naming the key), copies
 * strings, parses whole numbers strictly (range-checked, the error names the option and the
 * bounds), reads booleans as true/false/1/0, and fills defaults. pu_opts_free() releases
 * what it copied and wipes secret values before freeing them.
 *
 * Secrets arrive one way only: as configuration values the host has already resolved. An
 * operator writes "password": "secretsmanager:<id>" (or "secretsmanager:<id>#<json key>")
 * and the host replaces it with the secret's value, registered for log redaction, before
 * init() runs. A key named like a secret option plus "_secret" (the older way, where each
 * plugin fetched by name) is refused with an error that shows the new spelling.
 *
 * Header-only and static so each plugin stays one self-contained .so depending only on
 * plugin-api/ (not part of the public ABI; third-party plugins may copy the idea).
 */
#ifndef IRIS_PLUGIN_OPTS_H
#define IRIS_PLUGIN_OPTS_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"

/* The longest timeout_ms a bundled plugin accepts: Lambda's own ceiling (15 minutes). */
#define PU_TIMEOUT_MAX_MS 900000L

enum pu_opt_kind {
  PU_OPT_STR,    /* char * (owned copy), NULL when absent without default */
  PU_OPT_SECRET, /* char *, like PU_OPT_STR, wiped before it is freed; never echoed */
  PU_OPT_LONG,   /* long, whole number in [min, max] */
  PU_OPT_BOOL,   /* int, true/false/1/0 */
  PU_OPT_PREFIX  /* keys starting with `name` are accepted; the plugin reads them itself */
};

struct pu_opt {
  const char *name; /* the configuration key ("timeout_ms") */
  enum pu_opt_kind kind;
  int required;        /* absent (or "" for strings) is an error */
  const char *def;     /* default as text (strings) or NULL */
  long min, max, ldef; /* PU_OPT_LONG bounds and default; PU_OPT_BOOL default in ldef */
  size_t offset;       /* offsetof(struct instance, field); unused for PU_OPT_PREFIX */
  const char *alias;   /* an older key accepted for the same option, or NULL */
};

#define PU_STR(n, req, d, type, field) \
  { n, PU_OPT_STR, req, d, 0, 0, 0, offsetof(type, field), NULL }
#define PU_SECRET(n, req, type, field) \
  { n, PU_OPT_SECRET, req, NULL, 0, 0, 0, offsetof(type, field), NULL }
#define PU_LONG(n, lo, hi, d, type, field) \
  { n, PU_OPT_LONG, 0, NULL, lo, hi, d, offsetof(type, field), NULL }
#define PU_BOOL(n, d, type, field) \
  { n, PU_OPT_BOOL, 0, NULL, 0, 0, d, offsetof(type, field), NULL }
#define PU_PREFIX(n) \
  { n, PU_OPT_PREFIX, 0, NULL, 0, 0, 0, 0, NULL }
#define PU_OPTS_END \
  { NULL, PU_OPT_STR, 0, NULL, 0, 0, 0, 0, NULL }

/* The value of key (or NULL), last one winning as in a JSON object. */
static inline const char *pu_opts_value(const struct iris_plugin_kv *c, size_t n, const char *key) {
  const char *v = NULL;
  size_t i;
  for (i = 0; key && i < n; i++)
    if (c[i].key && strcmp(c[i].key, key) == 0)
      v = c[i].value;
  return v;
}

static inline int pu_opts_known(const struct pu_opt *t, const char *key) {
  for (; t->name; t++) {
    if (t->kind == PU_OPT_PREFIX
            ? strncmp(key, t->name, strlen(t->name)) == 0 && key[strlen(t->name)]
            : strcmp(key, t->name) == 0 || (t->alias && strcmp(key, t->alias) == 0))
      return 1;
  }
  return 0;
}

/* Strict whole number: optional sign, digits only, no spaces or trailing text. */
static inline int pu_parse_long(const char *v, long min, long max, long *out) {
  char *end = NULL;
  long x;
  if (!v || !*v || ((*v < '0' || *v > '9') && *v != '-' && *v != '+'))
    return -1;
  errno = 0;
  x = strtol(v, &end, 10);
  if (errno || *end || x < min || x > max)
    return -1;
  *out = x;
  return 0;
}

/* Release what pu_opts_read copied into inst (secrets wiped first). Safe on a partial read. */
static inline void pu_opts_free(const struct pu_opt *t, void *inst) {
  for (; inst && t->name; t++) {
    char **field;
    if (t->kind != PU_OPT_STR && t->kind != PU_OPT_SECRET)
      continue;
    field = (char **)(void *)((char *)inst + t->offset);
    if (*field && t->kind == PU_OPT_SECRET) {
      /* volatile: a wipe right before free() must not be optimised away */
      volatile char *p = *field;
      while (*p)
        *p++ = '\0';
    }
    free(*field);
    *field = NULL;
  }
}

/*
 * Fill inst from the configuration per the table. Returns 0, or -1 with a specific reason
 * in error (naming the option; a secret's value is never repeated). On failure the caller
 * still calls pu_opts_free(t, inst).
 */
static inline int pu_opts_read(const struct pu_opt *t, void *inst, const struct iris_plugin_kv *c,
                               size_t n, char *error, size_t esize) {
  const struct pu_opt *o;
  size_t i;
  for (i = 0; i < n; i++) {
    const char *k = c[i].key ? c[i].key : "";
    size_t kl = strlen(k);
    if (pu_opts_known(t, k))
      continue;
    if (kl > 7 && strcmp(k + kl - 7, "_secret") == 0) {
      for (o = t; o->name; o++)
        if (o->kind == PU_OPT_SECRET && strlen(o->name) == kl - 7 &&
            strncmp(o->name, k, kl - 7) == 0)
          break;
      if (o->name) {
        snprintf(error, esize,
                 "option '%s' is not read any more: write \"%s\": \"secretsmanager:%.100s\" "
                 "and the host resolves it before init",
                 k, o->name, c[i].value ? c[i].value : "<secret id>");
        return -1;
      }
    }
    snprintf(error, esize, "unknown option '%.100s'", k);
    return -1;
  }
  for (o = t; o->name; o++) {
    const char *v = pu_opts_value(c, n, o->name);
    void *field = (char *)inst + o->offset;
    if (!v && o->alias)
      v = pu_opts_value(c, n, o->alias);
    switch (o->kind) {
    case PU_OPT_STR:
    case PU_OPT_SECRET:
      if (!v || !*v)
        v = o->def;
      if (o->required && (!v || !*v)) {
        snprintf(error, esize, "option '%s' is required", o->name);
        return -1;
      }
      if (v) {
        size_t len = strlen(v) + 1;
        char *copy = malloc(len);
        if (!copy) {
          snprintf(error, esize, "out of memory reading option '%s'", o->name);
          return -1;
        }
        memcpy(copy, v, len);
        *(char **)field = copy;
      }
      break;
    case PU_OPT_LONG:
      if (!v) {
        *(long *)field = o->ldef;
      } else if (pu_parse_long(v, o->min, o->max, (long *)field) != 0) {
        snprintf(error, esize, "option '%s' must be a whole number from %ld to %ld, got '%.40s'",
                 o->name, o->min, o->max, v);
        return -1;
      }
      break;
    case PU_OPT_BOOL:
      if (!v)
        *(int *)field = (int)o->ldef;
      else if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *(int *)field = 1;
      else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *(int *)field = 0;
      else {
        snprintf(error, esize, "option '%s' must be true or false, got '%.40s'", o->name, v);
        return -1;
      }
      break;
    case PU_OPT_PREFIX: break;
    }
  }
  return 0;
}

/*
 * init()'s common start: a zeroed instance of `size` bytes (calloc'd: the plugin's destroy
 * releases it with pu_opts_free and free) with the table's options read into it. Returns it,
 * or NULL with the reason in error and nothing left allocated.
 */
static inline void *pu_opts_instance(size_t size, const struct pu_opt *t,
                                     const struct iris_plugin_kv *c, size_t n, char *error,
                                     size_t esize) {
  void *inst = calloc(1, size);
  if (!inst) {
    snprintf(error, esize, "out of memory");
    return NULL;
  }
  if (pu_opts_read(t, inst, c, n, error, esize) != 0) {
    pu_opts_free(t, inst);
    free(inst);
    return NULL;
  }
  return inst;
}

#endif /* IRIS_PLUGIN_OPTS_H */
