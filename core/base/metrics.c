/* metrics.c — CloudWatch Embedded Metric Format output (see metrics.h). */
#include "metrics.h"

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"

#define IRIS_LOG_MODULE "metrics"
#include "log.h"

#define MAX_DIMS 8
#define MAX_VALUES 100 /* EMF: at most 100 values per metric per line */

struct metric {
  char *name;
  enum iris_metric_unit unit;
  double sum;     /* COUNT */
  json_t *values; /* other units: array of numbers */
  struct metric *next;
};

struct group {  /* one dimension set */
  json_t *dims; /* object name → value (Function first) */
  char *key;    /* canonical text of dims, for lookup */
  struct metric *metrics;
  struct group *next;
};

struct iris_metrics {
  char *ns;
  char *function;
  FILE *stream;
  struct group *groups;
  int warned;
};

static const char *unit_name(enum iris_metric_unit u) {
  switch (u) {
  case IRIS_METRIC_COUNT: return "Count";
  case IRIS_METRIC_MILLISECONDS: return "Milliseconds";
  case IRIS_METRIC_BYTES: return "Bytes";
  case IRIS_METRIC_PERCENT: return "Percent";
  default: return "None";
  }
}

int iris_metrics_new(const char *namespace_, const char *function, FILE *stream,
                     struct iris_metrics **out, struct iris_err *err) {
  struct iris_metrics *m;
  *out = NULL;
  if (!namespace_ || !*namespace_ || !function || !*function)
    return iris_err_set(err, IRIS_EINVAL, "metrics: namespace and function are required");
  m = iris_calloc(1, sizeof *m);
  if (m) {
    m->ns = iris_strdup(namespace_);
    m->function = iris_strdup(function);
  }
  if (!m || !m->ns || !m->function) {
    if (m) {
      iris_free(m->ns);
      iris_free(m->function);
    }
    iris_free(m);
    return iris_err_set(err, IRIS_ENOMEM, "metrics: allocating");
  }
  m->stream = stream;
  *out = m;
  return IRIS_OK;
}

static void free_groups(struct iris_metrics *m) {
  struct group *g, *gn;
  struct metric *x, *xn;
  for (g = m->groups; g; g = gn) {
    gn = g->next;
    for (x = g->metrics; x; x = xn) {
      xn = x->next;
      iris_free(x->name);
      json_decref(x->values);
      iris_free(x);
    }
    json_decref(g->dims);
    iris_free(g->key);
    iris_free(g);
  }
  m->groups = NULL;
}

void iris_metrics_free(struct iris_metrics *m) {
  if (!m)
    return;
  free_groups(m);
  iris_free(m->ns);
  iris_free(m->function);
  iris_free(m);
}

static int valid_name(const char *s) {
  /* EMF member names become JSON keys next to "_aws": keep them plain. */
  size_t n = s ? strlen(s) : 0;
  return n > 0 && n <= 255 && s[0] != '_';
}

static struct group *find_group(struct iris_metrics *m, const char *const *dims, int *rc) {
  struct group *g;
  json_t *obj = json_object();
  char *key = NULL;
  size_t i;
  *rc = IRIS_OK;
  if (!obj || json_object_set_new(obj, "Function", json_string(m->function)))
    goto oom;
  for (i = 0; dims && dims[i]; i += 2) {
    if (i / 2 >= MAX_DIMS || !dims[i + 1] || !valid_name(dims[i]) ||
        strcmp(dims[i], "Function") == 0) {
      json_decref(obj);
      *rc = IRIS_EINVAL;
      return NULL;
    }
    if (json_object_set_new(obj, dims[i], json_string(dims[i + 1])))
      goto oom;
  }
  key = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  if (!key)
    goto oom;
  for (g = m->groups; g; g = g->next) {
    if (strcmp(g->key, key) == 0) {
      iris_free(key);
      json_decref(obj);
      return g;
    }
  }
  g = iris_calloc(1, sizeof *g);
  if (!g)
    goto oom;
  g->dims = obj;
  g->key = key;
  g->next = m->groups;
  m->groups = g;
  return g;
oom:
  iris_free(key);
  json_decref(obj);
  *rc = IRIS_ENOMEM;
  return NULL;
}

static int put(struct iris_metrics *m, const char *name, double value, enum iris_metric_unit unit,
               const char *const *dims) {
  struct group *g;
  struct metric *x;
  int rc;
  if (!m || !valid_name(name) || (unsigned)unit > IRIS_METRIC_NONE)
    return IRIS_EINVAL;
  g = find_group(m, dims, &rc);
  if (!g)
    return rc;
  for (x = g->metrics; x; x = x->next)
    if (strcmp(x->name, name) == 0)
      break;
  if (!x) {
    x = iris_calloc(1, sizeof *x);
    if (!x)
      return IRIS_ENOMEM;
    x->name = iris_strdup(name);
    x->unit = unit;
    if (unit != IRIS_METRIC_COUNT)
      x->values = json_array();
    if (!x->name || (unit != IRIS_METRIC_COUNT && !x->values)) {
      iris_free(x->name);
      json_decref(x->values);
      iris_free(x);
      return IRIS_ENOMEM;
    }
    x->next = g->metrics;
    g->metrics = x;
  }
  if (x->unit != unit)
    return IRIS_EINVAL; /* one metric, one unit */
  if (x->unit == IRIS_METRIC_COUNT) {
    x->sum += value;
    return IRIS_OK;
  }
  if (json_array_size(x->values) >= MAX_VALUES) {
    /* Keep every line within EMF's limit of 100 values per metric. */
    iris_metrics_flush(m);
    return put(m, name, value, unit, dims);
  }
  return json_array_append_new(x->values, json_real(value)) ? IRIS_ENOMEM : IRIS_OK;
}

int iris_metrics_put(struct iris_metrics *m, const char *name, double value,
                     enum iris_metric_unit unit, const char *const *dims) {
  int rc = put(m, name, value, unit, dims);
  if (rc && m && !m->warned) {
    m->warned = 1;
    IRIS_LOG_WARN("metric %s dropped: %s", name ? name : "(null)", iris_rc_str(rc));
  }
  return rc;
}

static json_t *number(double v) {
  /* Whole numbers as integers keep the lines short and exact. */
  if (v == (double)(json_int_t)v && v > -9e15 && v < 9e15)
    return json_integer((json_int_t)v);
  return json_real(v);
}

void iris_metrics_flush(struct iris_metrics *m) {
  struct group *g;
  FILE *out;
  if (!m)
    return;
  out = m->stream ? m->stream : stdout;
  for (g = m->groups; g; g = g->next) {
    json_t *line = json_deep_copy(g->dims), *defs = json_array(), *dimnames = json_array();
    const char *k;
    json_t *v;
    struct metric *x;
    char *text;
    if (!line || !defs || !dimnames)
      goto next;
    json_array_append_new(dimnames, json_string("Function"));
    json_object_foreach(g->dims, k, v) {
      if (strcmp(k, "Function") != 0)
        json_array_append_new(dimnames, json_string(k));
    }
    for (x = g->metrics; x; x = x->next) {
      json_array_append_new(defs,
                            json_pack("{s:s, s:s}", "Name", x->name, "Unit", unit_name(x->unit)));
      if (x->unit == IRIS_METRIC_COUNT)
        json_object_set_new(line, x->name, number(x->sum));
      else if (json_array_size(x->values) == 1)
        json_object_set_new(line, x->name, number(json_real_value(json_array_get(x->values, 0))));
      else
        json_object_set(line, x->name, x->values);
    }
    json_object_set_new(line, "_aws",
                        json_pack("{s:I, s:[{s:s, s:[O], s:O}]}", "Timestamp",
                                  (json_int_t)iris_clock_now_ms(), "CloudWatchMetrics",
                                  "Namespace", m->ns, "Dimensions", dimnames, "Metrics", defs));
    text = json_dumps(line, JSON_COMPACT);
    if (text) {
      fputs(text, out);
      fputc('\n', out);
    }
    iris_free(text);
  next:
    json_decref(line);
    json_decref(defs);
    json_decref(dimnames);
  }
  fflush(out);
  free_groups(m);
}
