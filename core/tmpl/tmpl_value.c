/*
 * tmpl_value.c — template values with Python's semantics, because Jinja2 evaluates
 * expressions in Python: str() and repr() (True, None, 1.0, ['a', 1], {'k': 'v'}), truth,
 * equality and ordering, int/float arithmetic (/ is true division, // and % floor), string
 * and list concatenation and repetition, `in`. Integers are 64-bit: an operation that would
 * overflow (Python would go to arbitrary precision) is a clear render error instead.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"
#include "utf8.h"

struct tv iris__tv_str(const char *s, size_t n) {
  struct tv v = {TV_STR, 0, 0, 0, s, n, NULL, 0};
  return v;
}
struct tv iris__tv_int(int64_t i) {
  struct tv v = {TV_INT, 0, i, 0, NULL, 0, NULL, 0};
  return v;
}
struct tv iris__tv_float(double f) {
  struct tv v = {TV_FLOAT, 0, 0, f, NULL, 0, NULL, 0};
  return v;
}
struct tv iris__tv_bool(int b) {
  struct tv v = {TV_BOOL, 0, b ? 1 : 0, 0, NULL, 0, NULL, 0};
  return v;
}
struct tv iris__tv_none(void) {
  struct tv v = {TV_NONE, 0, 0, 0, NULL, 0, NULL, 0};
  return v;
}
struct tv iris__tv_undef(const char *name) {
  struct tv v = {TV_UNDEF, 0, 0, 0, name, 0, NULL, 0};
  return v;
}

/*
 * Jinja keeps Undefined as a value: `{% set v = missing %}` and `[missing]` hold it, and it
 * prints as nothing (or "Undefined" inside a list). JSON has no such value, so one
 * process-wide empty object, made once and never freed, stands for it wherever a value is
 * stored; iris__tv_from_json turns it back into TV_UNDEF.
 */
static json_t *g_undef, *g_missing, *g_pinf, *g_ninf, *g_nan;
static pthread_mutex_t g_markers_mu = PTHREAD_MUTEX_INITIALIZER;

/* Make *slot once (under a lock, retried after an allocation failure: a failed first attempt
 * must not leave the marker missing for the life of the process). NULL: out of memory. */
static json_t *marker(json_t **slot) {
  json_t *m = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!m) {
    pthread_mutex_lock(&g_markers_mu);
    if (!(m = *slot) && (m = json_object()))
      __atomic_store_n(slot, m, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_markers_mu);
  }
  return m;
}
static json_t *undef_marker(void) { return marker(&g_undef); }
static int is_marker(const json_t *j, json_t **slot) {
  return j && j == __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

int iris__tmpl_is_undef_json(const json_t *j) { return is_marker(j, &g_undef); }

/* The marker of a name a frame holds missing (tmpl_scope.c): one process-wide object too,
 * never a value — looking the name up yields undefined. */
json_t *iris__tmpl_missing_json(void) { return marker(&g_missing); }

int iris__tmpl_is_missing_json(const json_t *j) { return is_marker(j, &g_missing); }

/* JSON has no infinity or NaN (jansson refuses them), yet Python's floats do: stored values
 * that are not finite are three more process-wide markers. */
int iris__tmpl_nonfinite_json(const json_t *j, double *f) {
  if (!j || !json_is_object(j) || json_object_size(j))
    return 0;
  if (is_marker(j, &g_pinf))
    *f = HUGE_VAL;
  else if (is_marker(j, &g_ninf))
    *f = -HUGE_VAL;
  else if (is_marker(j, &g_nan))
    *f = NAN;
  else
    return 0;
  return 1;
}

/*
 * A macro as a value: an object whose only key is "\0m" (a key no JSON text can hold, so
 * context data never looks like one) mapping to the macro's name (null for a call block's
 * caller, which Jinja names None). Which macro it is — its node and the frame it reads —
 * the render's view table says.
 */
#define MACRO_KEY "\0m"
#define MACRO_KEY_LEN 2

int iris__tmpl_is_macro_json(const json_t *j) {
  return json_is_object(j) && json_object_size(j) == 1 &&
         json_object_getn(j, MACRO_KEY, MACRO_KEY_LEN) != NULL;
}

int iris__tmpl_macro_json(struct rctx *r, const struct node *n, int frame, json_t **out) {
  json_t *m = iris__tv_keep(r, json_object());
  json_t *name = n->kind == N_MACRO ? json_string(n->s) : json_null();
  int rc;
  if (!m || !name || json_object_setn_new_nocheck(m, MACRO_KEY, MACRO_KEY_LEN, name)) {
    if (!m)
      json_decref(name);
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  }
  if ((rc = iris__tmpl_view_add(r, m, VIEW_MACRO, 0, 0, 0)))
    return rc;
  r->views[r->nviews - 1].node = n;
  r->views[r->nviews - 1].frame = frame;
  r->views[r->nviews - 1].frame_obj = r->frames[frame];
  *out = m;
  return IRIS_OK;
}

/* <Macro 'name'> (Jinja's repr, also its str), <Macro anonymous> for a caller. */
static int append_macro(struct iris_buf *b, const json_t *m) {
  const json_t *name = json_object_getn(m, MACRO_KEY, MACRO_KEY_LEN);
  if (json_is_string(name))
    return iris_buf_appendf(b, "<Macro '%s'>", json_string_value(name));
  return iris_buf_appends(b, "<Macro anonymous>");
}

struct tv iris__tv_from_json_r(const struct rctx *r, json_t *j) {
  struct tv v = iris__tv_from_json(j);
  const struct tmpl_view *w;
  if (r->nviews && (v.t == TV_STR || v.t == TV_LIST) && (w = iris__tmpl_view_find(r, j))) {
    if (v.t == TV_STR)
      v.safe = 1;
    else if (w->kind == VIEW_ITER)
      v.view = VIEW_ITER; /* a generator is always true */
  }
  return v;
}

int iris__tmpl_check_iter(struct rctx *r, const struct tv *v) {
  const struct tmpl_view *w;
  if (v->t != TV_LIST || !r->nviews || !(w = iris__tmpl_view_find(r, v->j)) || !w->broken)
    return IRIS_OK;
  return iris__tmpl_fail(r, "%s", w->broken);
}

int iris__tmpl_view_add(struct rctx *r, json_t *j, int kind, int64_t start, int64_t stop,
                        int64_t step) {
  if (r->nviews == r->capviews) {
    size_t cap = r->capviews ? r->capviews * 2 : 8;
    struct tmpl_view *g = iris_realloc(r->views, cap * sizeof *g);
    if (!g)
      return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
    r->views = g;
    r->capviews = cap;
  }
  r->views[r->nviews].j = j;
  r->views[r->nviews].kind = kind;
  r->views[r->nviews].start = start;
  r->views[r->nviews].stop = stop;
  r->views[r->nviews].step = step;
  r->views[r->nviews].broken = NULL;
  r->views[r->nviews].group = 0;
  r->views[r->nviews].node = NULL;
  r->views[r->nviews].frame = -1;
  r->views[r->nviews].frame_obj = NULL;
  r->nviews++;
  return iris__tmpl_charge(r, sizeof(struct tmpl_view));
}

const struct tmpl_view *iris__tmpl_view_find(const struct rctx *r, const json_t *j) {
  size_t i;
  for (i = r->nviews; i > 0; i--)
    if (r->views[i - 1].j == j)
      return &r->views[i - 1];
  return NULL;
}

struct tv iris__tv_from_json(json_t *j) {
  double f;
  if (iris__tmpl_is_undef_json(j))
    return iris__tv_undef("value");
  if (iris__tmpl_nonfinite_json(j, &f))
    return iris__tv_float(f);
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    struct tv v = {TV_DICT, 0, 0, 0, NULL, 0, j, 0};
    if (json_object_size(j) == 1 && iris__tmpl_is_macro_json(j))
      v.t = TV_MACRO;
    return v;
  }
  case JSON_ARRAY: {
    struct tv v = {TV_LIST, 0, 0, 0, NULL, 0, j, 0};
    return v;
  }
  case JSON_STRING: return iris__tv_str(json_string_value(j), json_string_length(j));
  case JSON_INTEGER: return iris__tv_int(json_integer_value(j));
  case JSON_REAL: return iris__tv_float(json_real_value(j));
  case JSON_TRUE: return iris__tv_bool(1);
  case JSON_FALSE: return iris__tv_bool(0);
  default: return iris__tv_none();
  }
}

json_t *iris__tv_keep(struct rctx *r, json_t *j) {
  if (!j)
    return NULL;
  if (json_array_append_new(r->owned, j) != 0)
    return NULL;
  return j;
}

int iris__tv_to_json(struct rctx *r, const struct tv *v, json_t **out) {
  switch (v->t) {
  case TV_NONE: *out = json_null(); break;
  case TV_BOOL: *out = json_boolean(v->i); break;
  case TV_INT: *out = json_integer(v->i); break;
  case TV_FLOAT:
    *out = isfinite(v->f) ? json_real(v->f)
                          : json_incref(marker(isnan(v->f) ? &g_nan
                                               : v->f > 0  ? &g_pinf
                                                           : &g_ninf));
    break;
  case TV_STR:
    *out = json_stringn_nocheck(v->s, v->n);
    /* a Markup string is known by its address: the render keeps a reference so that the
     * address stays its own while the view table names it, even after whatever holds it
     * drops it ({% set x = m %}{% set x = 1 %}) */
    if (*out && v->safe &&
        (!iris__tv_keep(r, json_incref(*out)) ||
         iris__tmpl_view_add(r, *out, VIEW_MARKUP, 0, 0, 0))) {
      json_decref(*out);
      return r->err->rc ? (int)r->err->rc
                        : iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    }
    break;
  case TV_LIST:
  case TV_DICT:
  case TV_MACRO: *out = json_incref(v->j); break;
  default: *out = json_incref(undef_marker()); break;
  }
  if (!*out)
    return iris__tmpl_fail(r, "out of memory (or a non-finite number)");
  return IRIS_OK;
}

char *iris__tmpl_scratch(struct rctx *r, size_t n) {
  char *p;
  /* making a string is work in proportion to its length: a step per 64 bytes, so that no
   * render repeats large strings for long (a million iterations of a 1 MiB filter) */
  if (n >= r->lim.max_memory || iris__tmpl_charge(r, 0) || iris__tmpl_steps(r, (long)(n >> 6)) ||
      r->scratch.bytes + r->json_mem + n > r->lim.max_memory) {
    iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted", r->lim.max_memory);
    return NULL;
  }
  p = iris__tmpl_alloc(&r->scratch, n + 1);
  if (!p)
    iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  return p;
}

int iris__tmpl_verr(struct iris_err *err, const char *name, int line, int col, const char *fmt,
                    va_list ap) {
  char msg[IRIS_ERR_SIZE], full[2 * IRIS_ERR_SIZE];
  int n;
  n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (n >= (int)sizeof msg)
    msg[iris_utf8_prefix(msg, sizeof msg - 1, sizeof msg - 1)] = '\0';
  if (col > 0)
    n = snprintf(full, sizeof full, "template '%s' line %d col %d: %s", name, line, col, msg);
  else
    n = snprintf(full, sizeof full, "template '%s' line %d: %s", name, line, msg);
  if (n < 0)
    n = 0;
  if ((size_t)n >= IRIS_ERR_SIZE)
    full[iris_utf8_prefix(full, IRIS_ERR_SIZE - 1, IRIS_ERR_SIZE - 1)] = '\0';
  return iris_err_set(err, IRIS_ETEMPLATE, "%s", full);
}

size_t iris__utf8_get(const char *s, size_t n, size_t i, uint32_t *cp) {
  unsigned char c = (unsigned char)s[i];
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
  size_t k;
  if (i + len > n)
    len = n - i;
  *cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (k = 1; k < len; k++)
    *cp = (*cp << 6) | ((unsigned char)s[i + k] & 0x3Fu);
  return len ? len : 1;
}

int iris__utf8_put(uint32_t cp, char *u) {
  if (cp < 0x80) {
    u[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  u[0] = (char)(0xF0 | (cp >> 18));
  u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  u[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t iris__utf8_count(const char *s, size_t n) {
  size_t i, c = 0;
  for (i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80)
      c++;
  return c;
}

size_t iris__utf8_offset(const char *s, size_t n, size_t cp) {
  size_t i, c = 0;
  for (i = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (c == cp)
        return i;
      c++;
    }
  }
  return n;
}

int iris__tv_truthy(const struct tv *v) {
  switch (v->t) {
  case TV_UNDEF:
  case TV_NONE: return 0;
  case TV_BOOL:
  case TV_INT: return v->i != 0;
  case TV_FLOAT: return v->f != 0.0;
  case TV_STR: return v->n != 0;
  case TV_LIST: return v->view == VIEW_ITER || json_array_size(v->j) != 0;
  case TV_DICT: return json_object_size(v->j) != 0;
  case TV_MACRO: return 1;
  }
  return 0;
}

int iris__tmpl_truthy(const struct rctx *r, const struct tv *v) {
  const struct tmpl_view *w;
  /* a generator stays true wherever it went (into a tuple, out of |first): its view is kept
   * by the value it was made as */
  if (v->t == TV_LIST && v->view != VIEW_ITER && r->nviews &&
      (w = iris__tmpl_view_find(r, v->j)) && w->kind == VIEW_ITER)
    return 1;
  return iris__tv_truthy(v);
}

long iris__tv_len(const struct tv *v) {
  switch (v->t) {
  case TV_UNDEF: return 0;
  case TV_STR: return (long)iris__utf8_count(v->s, v->n);
  case TV_LIST: return (long)json_array_size(v->j);
  case TV_DICT: return (long)json_object_size(v->j);
  default: return -1;
  }
}

const char *iris__tv_type_name(const struct tv *v) {
  switch (v->t) {
  case TV_UNDEF: return "Undefined";
  case TV_NONE: return "NoneType";
  case TV_BOOL: return "bool";
  case TV_INT: return "int";
  case TV_FLOAT: return "float";
  case TV_STR: return "str";
  case TV_LIST: return "list";
  case TV_DICT: return "dict";
  case TV_MACRO: return "Macro";
  }
  return "?";
}

/* Python's repr(float): the shortest digits that round-trip, in Python's layout. */
void iris__tmpl_format_float(double f, char *out, size_t size) {
  char buf[64], digits[32];
  int prec, exp10, nd = 0, i;
  if (isnan(f)) {
    snprintf(out, size, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(out, size, f < 0 ? "-inf" : "inf");
    return;
  }
  if (f == 0) {
    snprintf(out, size, signbit(f) ? "-0.0" : "0.0");
    return;
  }
  if (fabs(f) >= 1e-4 && fabs(f) < 1e15) {
    /* Most values have few decimals: the smallest k for which f * 10**k is an integer m below
     * 2**50 whose quotient m / 10**k (correctly rounded, both exact) is f again gives Python's
     * digits — doubles there are spaced less than a quarter of 10**-k, so no other string of
     * as few digits names f. */
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    int k;
    for (k = 0; k <= 6; k++) {
      double m = f * pow10[k];
      if (m == nearbyint(m) && fabs(m) < 1125899906842624.0 && m / pow10[k] == f) {
        long long im = (long long)fabs(m), ip = im / (long long)pow10[k];
        long long frac = im % (long long)pow10[k];
        while (k > 0 && frac % 10 == 0) { /* zeros the product's rounding may have added */
          frac /= 10;
          k--;
        }
        if (k == 0)
          snprintf(out, size, "%s%lld.0", f < 0 ? "-" : "", ip);
        else
          snprintf(out, size, "%s%lld.%0*lld", f < 0 ? "-" : "", ip, k, frac);
        return;
      }
    }
  }
  for (prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
    if (strtod(buf, NULL) == f)
      break;
  }
  /* buf = [-]d.ddde[+-]XX */
  {
    const char *p = buf, *e = strchr(buf, 'e');
    exp10 = (int)strtol(e + 1, NULL, 10);
    if (*p == '-')
      p++;
    for (; p < e; p++)
      if (*p != '.')
        digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
      nd--;
    digits[nd] = '\0';
  }
  {
    char res[96];
    size_t o = 0;
    if (f < 0)
      res[o++] = '-';
    if (exp10 >= 16 || exp10 < -4) {
      res[o++] = digits[0];
      if (nd > 1) {
        res[o++] = '.';
        for (i = 1; i < nd; i++)
          res[o++] = digits[i];
      }
      o += (size_t)snprintf(res + o, sizeof res - o, "e%c%02d", exp10 < 0 ? '-' : '+',
                            exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
      res[o++] = '0';
      res[o++] = '.';
      for (i = -1; i > exp10; i--)
        res[o++] = '0';
      for (i = 0; i < nd; i++)
        res[o++] = digits[i];
    } else {
      for (i = 0; i <= exp10; i++)
        res[o++] = i < nd ? digits[i] : '0';
      res[o++] = '.';
      if (nd > exp10 + 1)
        for (i = exp10 + 1; i < nd; i++)
          res[o++] = digits[i];
      else
        res[o++] = '0';
    }
    res[o] = '\0';
    snprintf(out, size, "%s", res);
  }
}

/* Python's escape of one code point in a string literal: \xhh, \uhhhh or \Uhhhhhhhh. */
int iris__tmpl_append_py_escape(struct iris_buf *b, uint32_t cp) {
  return iris_buf_appendf(b,
                          cp < 0x100     ? "\\x%02x"
                          : cp < 0x10000 ? "\\u%04x"
                                         : "\\U%08x",
                          (unsigned)cp);
}

/* The two-character escapes of Python's repr() and of JSON: which character, its letter, and
 * in which style it applies (the quote character of a repr is added by the caller). */
static const struct {
  char c, letter;
  unsigned char styles; /* 1 << QUOTE_REPR | 1 << QUOTE_JSON */
} short_escapes[] = {{'\\', '\\', 3}, {'\n', 'n', 3}, {'\r', 'r', 3}, {'\t', 't', 3},
                     {'"', '"', 2},   {'\b', 'b', 2}, {'\f', 'f', 2}};

int iris__tmpl_append_quoted(struct iris_buf *b, const char *s, size_t n, int style) {
  int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
  char q = style == QUOTE_JSON || !has_sq || has_dq ? (style == QUOTE_JSON ? '"' : '\'') : '"';
  size_t i = 0, k;
  int rc = iris_buf_appendc(b, q);
  while (i < n && rc == IRIS_OK) {
    uint32_t c;
    size_t len = (unsigned char)s[i] < 0x80 ? 1 : iris__utf8_get(s, n, i, &c);
    if (len == 1)
      c = (unsigned char)s[i];
    for (k = 0; k < sizeof short_escapes / sizeof short_escapes[0]; k++)
      if ((uint32_t)short_escapes[k].c == c && (short_escapes[k].styles & (1u << style)))
        break;
    if (k < sizeof short_escapes / sizeof short_escapes[0])
      rc = iris_buf_appendf(b, "\\%c", short_escapes[k].letter);
    else if (style != QUOTE_JSON && c == (uint32_t)q)
      rc = iris_buf_appendf(b, "\\%c", q);
    else if (style == QUOTE_JSON &&
             (c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&' || c == '\''))
      /* json.dumps with ensure_ascii, then Jinja's HTML-safe replacements */
      rc = c < 0x10000 ? iris_buf_appendf(b, "\\u%04x", (unsigned)c)
                       : iris_buf_appendf(b, "\\u%04x\\u%04x", 0xD800 + ((c - 0x10000) >> 10),
                                          0xDC00 + ((c - 0x10000) & 0x3FF));
    else if (style != QUOTE_JSON &&
             (c < 0x20 || c == 0x7f || (c >= 0x80 && !iris__uc_printable(c))))
      rc = iris__tmpl_append_py_escape(b, c); /* what str.isprintable() refuses */
    else
      rc = iris_buf_append(b, s + i, len);
    i += len;
  }
  return rc ? rc : iris_buf_appendc(b, q);
}

static int append_str_repr(struct iris_buf *b, const char *s, size_t n) {
  return iris__tmpl_append_quoted(b, s, n, QUOTE_REPR);
}

static int append_json_repr(struct rctx *r, json_t *j, struct iris_buf *b, int depth);
static int append_list(struct rctx *r, json_t *j, struct iris_buf *b, int depth);
static int append_view(struct rctx *r, const struct tmpl_view *v, struct iris_buf *b, int depth);

static int append_scalar(struct rctx *r, const struct tv *v, struct iris_buf *b, int repr) {
  char num[64];
  switch (v->t) {
  case TV_UNDEF: return repr ? iris_buf_appends(b, "Undefined") : IRIS_OK;
  case TV_NONE: return iris_buf_appends(b, "None");
  case TV_BOOL: return iris_buf_appends(b, v->i ? "True" : "False");
  case TV_INT: return iris_buf_appendf(b, "%lld", (long long)v->i);
  case TV_FLOAT: iris__tmpl_format_float(v->f, num, sizeof num); return iris_buf_appends(b, num);
  case TV_STR:
    if (repr && v->safe) { /* repr(Markup('x')) */
      int rc = iris_buf_appends(b, "Markup(");
      rc = rc ? rc : append_str_repr(b, v->s, v->n);
      return rc ? rc : iris_buf_appendc(b, ')');
    }
    return repr ? append_str_repr(b, v->s, v->n) : iris_buf_append(b, v->s, v->n);
  case TV_LIST: return append_json_repr(r, v->j, b, 0);
  case TV_DICT: return append_json_repr(r, v->j, b, 0);
  case TV_MACRO: return append_macro(b, v->j);
  }
  return IRIS_OK;
}

static int append_list(struct rctx *r, json_t *j, struct iris_buf *b, int depth) {
  size_t i;
  json_t *x;
  int rc = iris_buf_appendc(b, '[');
  json_array_foreach(j, i, x) {
    if (rc == IRIS_OK && i)
      rc = iris_buf_appends(b, ", ");
    if (rc == IRIS_OK)
      rc = append_json_repr(r, x, b, depth + 1);
  }
  return rc ? rc : iris_buf_appendc(b, ']');
}

/* dict_keys([...]), dict_items([(k, v)]), range(a, b[, s]) for the lists registered so. */
static int append_view(struct rctx *r, const struct tmpl_view *v, struct iris_buf *b, int depth) {
  static const char *const names[] = {"", "dict_keys(", "dict_values(", "dict_items("};
  size_t i;
  int rc;
  if (v->kind == VIEW_ITER)
    return iris__tmpl_fail(r, "printing a generator (from map, select, reject, unique, reverse, "
                              "batch or slice) is not supported by this engine: Jinja prints its "
                              "address; add |list");
  if (v->kind == VIEW_LOOP)
    return iris_buf_appendf(b, "<LoopContext %lld/%lld>", (long long)v->start, (long long)v->stop);
  if (v->kind == VIEW_TUPLE) {
    rc = iris_buf_appendc(b, '(');
    for (i = 0; i < json_array_size(v->j) && rc == IRIS_OK; i++) {
      if (i)
        rc = iris_buf_appends(b, ", ");
      rc = rc ? rc : append_json_repr(r, json_array_get(v->j, i), b, depth + 1);
    }
    if (rc == IRIS_OK && json_array_size(v->j) == 1)
      rc = iris_buf_appendc(b, ',');
    return rc ? rc : iris_buf_appendc(b, ')');
  }
  if (v->kind == VIEW_RANGE)
    return v->step == 1
               ? iris_buf_appendf(b, "range(%lld, %lld)", (long long)v->start, (long long)v->stop)
               : iris_buf_appendf(b, "range(%lld, %lld, %lld)", (long long)v->start,
                                  (long long)v->stop, (long long)v->step);
  rc = iris_buf_appends(b, names[v->kind & 3]);
  if (v->kind != VIEW_ITEMS) {
    rc = rc ? rc : append_list(r, v->j, b, depth);
    return rc ? rc : iris_buf_appendc(b, ')');
  }
  rc = rc ? rc : iris_buf_appendc(b, '[');
  for (i = 0; i < json_array_size(v->j) && rc == IRIS_OK; i++) {
    json_t *pair = json_array_get(v->j, i);
    rc = iris_buf_appends(b, i ? ", (" : "(");
    rc = rc ? rc : append_json_repr(r, json_array_get(pair, 0), b, depth + 1);
    rc = rc ? rc : iris_buf_appends(b, ", ");
    rc = rc ? rc : append_json_repr(r, json_array_get(pair, 1), b, depth + 1);
    rc = rc ? rc : iris_buf_appendc(b, ')');
  }
  return rc ? rc : iris_buf_appends(b, "])");
}

static int append_json_repr(struct rctx *r, json_t *j, struct iris_buf *b, int depth) {
  int rc = IRIS_OK;
  if (depth > IRIS_TMPL_MAX_DEPTH)
    return iris__tmpl_fail(r, "value nested too deeply to print");
  if (iris__tmpl_is_undef_json(j))
    return iris_buf_appends(b, "Undefined");
  if (iris__tmpl_is_macro_json(j))
    return append_macro(b, j);
  if (json_is_object(j) && json_object_size(j) == 0) {
    double f;
    if (iris__tmpl_nonfinite_json(j, &f)) {
      struct tv v = iris__tv_float(f);
      return append_scalar(r, &v, b, 1);
    }
  }
  if (r->nviews && !json_is_number(j) && !json_is_boolean(j) && !json_is_null(j)) {
    const struct tmpl_view *v = iris__tmpl_view_find(r, j);
    if (v && v->kind == VIEW_MARKUP) {
      rc = iris_buf_appends(b, "Markup(");
      rc = rc ? rc : append_str_repr(b, json_string_value(j), json_string_length(j));
      return rc ? rc : iris_buf_appendc(b, ')');
    }
    if (v)
      return append_view(r, v, b, depth);
  }
  if (json_is_array(j))
    return append_list(r, j, b, depth);
  if (json_is_object(j)) {
    const char *k;
    json_t *x;
    int first = 1;
    rc = iris_buf_appendc(b, '{');
    json_object_foreach(j, k, x) {
      if (rc == IRIS_OK && !first)
        rc = iris_buf_appends(b, ", ");
      first = 0;
      if (rc == IRIS_OK)
        rc = append_str_repr(b, k, strlen(k));
      if (rc == IRIS_OK)
        rc = iris_buf_appends(b, ": ");
      if (rc == IRIS_OK)
        rc = append_json_repr(r, x, b, depth + 1);
    }
    return rc ? rc : iris_buf_appendc(b, '}');
  }
  {
    struct tv v = iris__tv_from_json(j);
    return append_scalar(r, &v, b, 1);
  }
}

int iris__tv_append_str(struct rctx *r, const struct tv *v, struct iris_buf *b) {
  return append_scalar(r, v, b, 0);
}

int iris__tv_append_repr(struct rctx *r, const struct tv *v, struct iris_buf *b) {
  return append_scalar(r, v, b, 1);
}

int iris__tv_to_string(struct rctx *r, const struct tv *v, struct tv *out) {
  struct iris_buf b;
  char *s;
  int rc;
  if (v->t == TV_STR) {
    *out = *v;
    return IRIS_OK;
  }
  iris_buf_init(&b, 0);
  rc = iris__tv_append_str(r, v, &b);
  if (rc) {
    iris_buf_cleanup(&b);
    return r->err->rc ? (int)r->err->rc : iris_err_set(r->err, rc, "template: out of memory");
  }
  s = iris__tmpl_scratch(r, iris_buf_len(&b));
  if (!s) {
    iris_buf_cleanup(&b);
    return IRIS_ENOMEM;
  }
  memcpy(s, iris_buf_ptr(&b), iris_buf_len(&b));
  *out = iris__tv_str(s, iris_buf_len(&b));
  iris_buf_cleanup(&b);
  return IRIS_OK;
}

/* Python compares an int with a float exactly (2**53 + 1 > 2.0**53): <0, 0, >0. */
static int cmp_int_float(int64_t i, double f) {
  if (isnan(f))
    return TV_UNORDERED; /* every comparison false, != true */
  if (f >= 9223372036854775808.0)
    return -1;
  if (f < -9223372036854775808.0)
    return 1;
  {
    double fl = floor(f);
    int64_t k = (int64_t)fl;
    if (i != k)
      return i < k ? -1 : 1;
    return fl == f ? 0 : -1; /* i == floor(f) < f when f has a fraction */
  }
}

static int is_num(const struct tv *v) {
  return v->t == TV_INT || v->t == TV_FLOAT || v->t == TV_BOOL;
}
static double num(const struct tv *v) { return v->t == TV_FLOAT ? v->f : (double)v->i; }

static int json_equal_py(json_t *a, json_t *b);

int iris__tv_equal(const struct tv *a, const struct tv *b) {
  if (is_num(a) && is_num(b)) {
    if (a->t != TV_FLOAT && b->t != TV_FLOAT)
      return a->i == b->i;
    if (a->t != TV_FLOAT && !isnan(b->f))
      return cmp_int_float(a->i, b->f) == 0;
    if (b->t != TV_FLOAT && !isnan(a->f))
      return cmp_int_float(b->i, a->f) == 0;
    return num(a) == num(b);
  }
  if (a->t != b->t)
    return 0;
  switch (a->t) {
  case TV_UNDEF:
  case TV_NONE: return 1;
  case TV_STR: return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
  case TV_LIST:
  case TV_DICT: return json_equal_py(a->j, b->j);
  case TV_MACRO: return a->j == b->j; /* Python compares objects by identity */
  default: return 0;
  }
}

/* Equality as Python compares the decoded values (1 == 1.0 == True). */
static int json_equal_py(json_t *a, json_t *b) {
  struct tv x = iris__tv_from_json(a), y = iris__tv_from_json(b);
  if (x.t == TV_LIST && y.t == TV_LIST) {
    size_t i;
    if (json_array_size(a) != json_array_size(b))
      return 0;
    for (i = 0; i < json_array_size(a); i++)
      if (!json_equal_py(json_array_get(a, i), json_array_get(b, i)))
        return 0;
    return 1;
  }
  if (x.t == TV_DICT && y.t == TV_DICT) {
    const char *k;
    json_t *v;
    if (json_object_size(a) != json_object_size(b))
      return 0;
    json_object_foreach(a, k, v) {
      json_t *w = json_object_get(b, k);
      if (!w || !json_equal_py(v, w))
        return 0;
    }
    return 1;
  }
  return iris__tv_equal(&x, &y);
}

/* Python's ==: a list never equals a range, a tuple or a dict view of the same items, and a
 * generator equals only itself. */
int iris__tv_py_equal(const struct rctx *r, const struct tv *a, const struct tv *b) {
  const struct tmpl_view *x, *y;
  int ka, kb;
  if (a->t != TV_LIST || b->t != TV_LIST || !r->nviews)
    return iris__tv_equal(a, b);
  x = iris__tmpl_view_find(r, a->j);
  y = iris__tmpl_view_find(r, b->j);
  ka = x ? x->kind : 0;
  kb = y ? y->kind : 0;
  return ka == kb && (ka == VIEW_ITER ? a->j == b->j : iris__tv_equal(a, b));
}

/* Lists order against lists and tuples against tuples; ranges and views have no order. */
static int same_seq_kind(const struct rctx *r, const struct tv *a, const struct tv *b) {
  const struct tmpl_view *x = r->nviews ? iris__tmpl_view_find(r, a->j) : NULL;
  const struct tmpl_view *y = r->nviews ? iris__tmpl_view_find(r, b->j) : NULL;
  if (!x && !y)
    return 1;
  return x && y && x->kind == VIEW_TUPLE && y->kind == VIEW_TUPLE;
}

int iris__tv_compare(struct rctx *r, const struct tv *a, const struct tv *b, int *cmp) {
  if (is_num(a) && is_num(b)) {
    if (a->t != TV_FLOAT && b->t != TV_FLOAT)
      *cmp = a->i < b->i ? -1 : a->i > b->i;
    else if (a->t != TV_FLOAT && !isnan(b->f))
      *cmp = cmp_int_float(a->i, b->f);
    else if (b->t != TV_FLOAT && !isnan(a->f))
      *cmp = -cmp_int_float(b->i, a->f);
    else if (isnan(num(a)) || isnan(num(b)))
      *cmp = TV_UNORDERED;
    else
      *cmp = num(a) < num(b) ? -1 : num(a) > num(b);
    return IRIS_OK;
  }
  if (a->t == TV_STR && b->t == TV_STR) {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n); /* UTF-8 byte order is code point order */
    *cmp = c ? (c < 0 ? -1 : 1) : (a->n < b->n ? -1 : a->n > b->n);
    return IRIS_OK;
  }
  if (a->t == TV_LIST && b->t == TV_LIST && same_seq_kind(r, a, b)) {
    size_t i, na = json_array_size(a->j), nb = json_array_size(b->j);
    for (i = 0; i < na && i < nb; i++) {
      struct tv x = iris__tv_from_json(json_array_get(a->j, i));
      struct tv y = iris__tv_from_json(json_array_get(b->j, i));
      if (!iris__tv_equal(&x, &y))
        return iris__tv_compare(r, &x, &y, cmp);
    }
    *cmp = na < nb ? -1 : na > nb;
    return IRIS_OK;
  }
  return iris__tmpl_fail(r, "'<' not supported between instances of '%s' and '%s'",
                         iris__tv_type_name(a), iris__tv_type_name(b));
}

int iris__tv_contains(struct rctx *r, const struct tv *c, const struct tv *item, int *out) {
  int rc = iris__tmpl_check_iter(r, c);
  *out = 0;
  if (rc)
    return rc;
  switch (c->t) {
  case TV_UNDEF: return IRIS_OK;
  case TV_STR:
    if (item->t != TV_STR)
      return iris__tmpl_fail(r, "'in <string>' requires string as left operand, not %s",
                             iris__tv_type_name(item));
    if (item->n == 0) {
      *out = 1;
    } else {
      size_t i;
      for (i = 0; i + item->n <= c->n && !*out; i++)
        *out = memcmp(c->s + i, item->s, item->n) == 0;
    }
    return IRIS_OK;
  case TV_LIST: {
    const struct tmpl_view *w = r->nviews ? iris__tmpl_view_find(r, c->j) : NULL;
    size_t i;
    /* A dict's keys and items views look the key up in the dict: it must be hashable (an
     * items view takes only a pair, a tuple of two, and hashes its first item). */
    if (w && w->kind == VIEW_ITEMS) {
      const struct tmpl_view *iw = item->t == TV_LIST && r->nviews
                                       ? iris__tmpl_view_find(r, item->j)
                                       : NULL;
      struct tv k;
      if (!iw || iw->kind != VIEW_TUPLE || json_array_size(item->j) != 2)
        return IRIS_OK;
      k = iris__tv_from_json_r(r, json_array_get(item->j, 0));
      if (!iris__tv_hashable(r, &k))
        return iris__tmpl_fail(r, "unhashable type: '%s'", iris__tv_type_name(&k));
    } else if (w && w->kind == VIEW_KEYS && !iris__tv_hashable(r, item)) {
      return iris__tmpl_fail(r, "unhashable type: '%s'", iris__tv_type_name(item));
    }
    for (i = 0; i < json_array_size(c->j) && !*out; i++) {
      struct tv x = iris__tv_from_json(json_array_get(c->j, i));
      *out = iris__tv_py_equal(r, &x, item);
    }
    return IRIS_OK;
  }
  case TV_DICT:
    if (!iris__tv_hashable(r, item))
      return iris__tmpl_fail(r, "unhashable type: '%s'", iris__tv_type_name(item));
    if (item->t == TV_LIST)
      return IRIS_OK; /* a hashable range, tuple or generator is never a JSON key */
    if (item->t == TV_STR) {
      char *k = iris__tmpl_scratch(r, item->n);
      if (!k)
        return IRIS_ENOMEM;
      memcpy(k, item->s, item->n);
      *out = strlen(k) == item->n && json_object_get(c->j, k) != NULL;
    }
    return IRIS_OK;
  default:
    return iris__tmpl_fail(r, "argument of type '%s' is not iterable", iris__tv_type_name(c));
  }
}

/* Could Python hash v? Lists, dicts, keys and items views not (they compare as sets); a tuple
 * when all its items can be; ranges, generators and values views (by identity) can. */
int iris__tv_hashable(const struct rctx *r, const struct tv *v) {
  const struct tmpl_view *w;
  size_t i;
  if (v->t == TV_DICT)
    return 0;
  if (v->t != TV_LIST)
    return 1;
  w = r->nviews ? iris__tmpl_view_find(r, v->j) : NULL;
  if (!w || (w->kind != VIEW_RANGE && w->kind != VIEW_TUPLE && w->kind != VIEW_ITER &&
             w->kind != VIEW_VALUES))
    return 0;
  if (w->kind == VIEW_TUPLE)
    for (i = 0; i < json_array_size(v->j); i++) {
      struct tv x = iris__tv_from_json_r(r, json_array_get(v->j, i));
      if (!iris__tv_hashable(r, &x))
        return 0;
    }
  return 1;
}

static int overflow(struct rctx *r) {
  return iris__tmpl_fail(r, "integer overflow (this engine uses 64-bit integers)");
}

static int concat_str(struct rctx *r, const struct tv *a, const struct tv *b, struct tv *out) {
  char *s = iris__tmpl_scratch(r, a->n + b->n);
  if (!s)
    return IRIS_ENOMEM;
  memcpy(s, a->s, a->n);
  memcpy(s + a->n, b->s, b->n);
  *out = iris__tv_str(s, a->n + b->n);
  return IRIS_OK;
}

/* markupsafe.escape into a new scratch string. */
int iris__tmpl_escape(struct rctx *r, const struct tv *in, struct tv *out) {
  struct iris_buf b;
  size_t i;
  char *s;
  int rc = IRIS_OK;
  iris_buf_init(&b, 0);
  for (i = 0; i < in->n && rc == IRIS_OK; i++) {
    switch (in->s[i]) {
    case '&': rc = iris_buf_appends(&b, "&amp;"); break;
    case '<': rc = iris_buf_appends(&b, "&lt;"); break;
    case '>': rc = iris_buf_appends(&b, "&gt;"); break;
    case '"': rc = iris_buf_appends(&b, "&#34;"); break;
    case '\'': rc = iris_buf_appends(&b, "&#39;"); break;
    default: rc = iris_buf_appendc(&b, in->s[i]);
    }
  }
  s = rc ? NULL : iris__tmpl_scratch(r, iris_buf_len(&b));
  if (s) {
    memcpy(s, iris_buf_ptr(&b), iris_buf_len(&b));
    *out = iris__tv_str(s, iris_buf_len(&b));
    out->safe = 1;
  }
  iris_buf_cleanup(&b);
  return s ? IRIS_OK : iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
}

static int repeat(struct rctx *r, const struct tv *seq, int64_t times, struct tv *out) {
  int64_t k;
  size_t n = seq->t == TV_STR ? seq->n : json_array_size(seq->j);
  if (times < 0 || n == 0)
    times = 0;
  /* Refuse what the budget cannot hold before making any of it ([] * 10**9 is empty at
   * once; [1] * 10**9 is an error at once). */
  if (times && (uint64_t)times > (uint64_t)(r->lim.max_memory / (n * (seq->t == TV_STR ? 1 : 16))))
    return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                           r->lim.max_memory);
  if (seq->t == TV_STR) {
    char *s = iris__tmpl_scratch(r, seq->n * (size_t)times);
    if (!s)
      return r->err->rc;
    for (k = 0; k < times; k++)
      memcpy(s + (size_t)k * seq->n, seq->s, seq->n);
    *out = iris__tv_str(s, seq->n * (size_t)times);
    out->safe = seq->safe; /* Markup * n is Markup */
    return IRIS_OK;
  }
  {
    json_t *l = iris__tv_keep(r, json_array());
    int rc;
    if (!l)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    if ((rc = iris__tmpl_charge(r, n * (size_t)times * 16)) ||
        (rc = iris__tmpl_steps(r, (long)(n * (size_t)times))))
      return rc;
    for (k = 0; k < times; k++)
      if (json_array_extend(l, seq->j))
        return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
}

/* Python's int ** int for a non-negative exponent, by squaring: at most 64 squarings, and an
 * overflow is reported as soon as it happens (1 ** huge and (-1) ** huge are immediate). */
static int int_pow(struct rctx *r, int64_t x, int64_t y, struct tv *out) {
  int64_t result = 1, base = x;
  if (x == 0 || x == 1) {
    *out = iris__tv_int(y == 0 ? 1 : x);
    return IRIS_OK;
  }
  if (x == -1) {
    *out = iris__tv_int(y % 2 ? -1 : 1);
    return IRIS_OK;
  }
  while (y > 0) {
    if ((y & 1) && __builtin_mul_overflow(result, base, &result))
      return overflow(r);
    y >>= 1;
    if (y && __builtin_mul_overflow(base, base, &base))
      return overflow(r);
  }
  *out = iris__tv_int(result);
  return IRIS_OK;
}

int iris__tv_binop(struct rctx *r, int op, const struct tv *a, const struct tv *b, struct tv *out) {
  int both_int = (a->t == TV_INT || a->t == TV_BOOL) && (b->t == TV_INT || b->t == TV_BOOL);
  if (op == OP_MOD && a->t == TV_STR)
    return iris__tmpl_percent(r, a, b, out);
  /* Checked before undefined operands: a dict view on the left takes any iterable, an
   * Undefined (empty) included, where an Undefined on the left raises first. */
  if (op == OP_SUB && r->nviews &&
      ((a->t == TV_LIST && iris__tmpl_view_find(r, a->j) &&
        iris__tmpl_view_find(r, a->j)->kind <= VIEW_ITEMS) ||
       (a->t != TV_UNDEF && b->t == TV_LIST && iris__tmpl_view_find(r, b->j) &&
        iris__tmpl_view_find(r, b->j)->kind <= VIEW_ITEMS)))
    /* Python makes a set, printed in an order that changes from run to run */
    return iris__tmpl_fail(r, "a set operation on dict views is not supported by this engine");
  if (a->t == TV_UNDEF || b->t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined",
                           a->t == TV_UNDEF ? (a->s ? a->s : "value") : (b->s ? b->s : "value"));
  if ((op == OP_ADD || op == OP_MUL) && r->nviews &&
      ((a->t == TV_LIST && iris__tmpl_view_find(r, a->j)) ||
       (b->t == TV_LIST && iris__tmpl_view_find(r, b->j)))) {
    const struct tmpl_view *x = a->t == TV_LIST ? iris__tmpl_view_find(r, a->j) : NULL;
    const struct tmpl_view *y = b->t == TV_LIST ? iris__tmpl_view_find(r, b->j) : NULL;
    int ta = x && x->kind == VIEW_TUPLE, tb = y && y->kind == VIEW_TUPLE, rc;
    /* tuple + tuple and tuple * int are tuples; ranges and dict views have no + or * */
    if ((op == OP_ADD && ta && tb) ||
        (op == OP_MUL && ((ta && b->t != TV_LIST) || (tb && a->t != TV_LIST)))) {
      struct tv plain_a = *a, plain_b = *b;
      size_t saved = r->nviews;
      r->nviews = 0; /* the operation itself on plain lists */
      rc = iris__tv_binop(r, op, &plain_a, &plain_b, out);
      r->nviews = saved;
      if (rc == IRIS_OK && out->t == TV_LIST)
        rc = iris__tmpl_view_add(r, out->j, VIEW_TUPLE, 0, 0, 0);
      return rc;
    }
    return iris__tmpl_fail(r, "unsupported operand type(s) for %s: %s", op == OP_ADD ? "+" : "*",
                           ta || tb ? "a tuple and a list" : "a range or dict view");
  }
  if (op == OP_ADD) {
    if (a->t == TV_STR && b->t == TV_STR) {
      /* Markup + str escapes the str (markupsafe); the result stays Markup. */
      if (a->safe != b->safe) {
        struct tv esc, x = a->safe ? *a : *b, y = a->safe ? *b : *a;
        if (iris__tmpl_escape(r, &y, &esc))
          return r->err->rc;
        if (a->safe ? concat_str(r, &x, &esc, out) : concat_str(r, &esc, &x, out))
          return r->err->rc;
        out->safe = 1;
        return IRIS_OK;
      }
      if (concat_str(r, a, b, out))
        return r->err->rc;
      out->safe = a->safe;
      return IRIS_OK;
    }
    if (a->t == TV_LIST && b->t == TV_LIST) {
      json_t *l = iris__tv_keep(r, json_array());
      size_t items = json_array_size(a->j) + json_array_size(b->j);
      int rc;
      if ((rc = iris__tmpl_charge(r, 16 * items)) || (rc = iris__tmpl_steps(r, (long)items)))
        return rc;
      if (!l || json_array_extend(l, a->j) || json_array_extend(l, b->j))
        return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
      *out = iris__tv_from_json(l);
      return IRIS_OK;
    }
  }
  if (op == OP_MUL) {
    if ((a->t == TV_STR || a->t == TV_LIST) && (b->t == TV_INT || b->t == TV_BOOL))
      return repeat(r, a, b->i, out);
    if ((b->t == TV_STR || b->t == TV_LIST) && (a->t == TV_INT || a->t == TV_BOOL))
      return repeat(r, b, a->i, out);
  }
  if (!is_num(a) || !is_num(b)) {
    static const char *const names[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    return iris__tmpl_fail(r, "unsupported operand type(s) for %s: '%s' and '%s'",
                           op >= OP_ADD && op <= OP_POW ? names[op] : "?", iris__tv_type_name(a),
                           iris__tv_type_name(b));
  }
  if (both_int) {
    int64_t x = a->i, y = b->i, z;
    switch (op) {
    case OP_ADD:
      if (__builtin_add_overflow(x, y, &z))
        return overflow(r);
      *out = iris__tv_int(z);
      return IRIS_OK;
    case OP_SUB:
      if (__builtin_sub_overflow(x, y, &z))
        return overflow(r);
      *out = iris__tv_int(z);
      return IRIS_OK;
    case OP_MUL:
      if (__builtin_mul_overflow(x, y, &z))
        return overflow(r);
      *out = iris__tv_int(z);
      return IRIS_OK;
    case OP_DIV:
      if (y == 0)
        return iris__tmpl_fail(r, "division by zero");
      /* Python divides the exact integers; above 2**53 a double cannot hold them, so the
       * 64-bit mantissa of long double carries them exactly into the division */
      *out = iris__tv_float(
          (x > (1LL << 53) || x < -(1LL << 53) || y > (1LL << 53) || y < -(1LL << 53))
              ? (double)((long double)x / (long double)y)
              : (double)x / (double)y);
      return IRIS_OK;
    case OP_FLOORDIV:
    case OP_MOD: {
      int64_t q, m;
      if (y == 0)
        return iris__tmpl_fail(r, op == OP_MOD ? "integer modulo by zero"
                                               : "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1)
        return overflow(r);
      q = x / y;
      m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) { /* Python floors toward -infinity */
        q--;
        m += y;
      }
      *out = iris__tv_int(op == OP_MOD ? m : q);
      return IRIS_OK;
    }
    case OP_POW:
      if (y < 0) {
        if (x == 0)
          return iris__tmpl_fail(r, "0.0 cannot be raised to a negative power");
        *out = iris__tv_float(pow((double)x, (double)y));
        return IRIS_OK;
      }
      return int_pow(r, x, y, out);
    default: break;
    }
  } else {
    double x = num(a), y = num(b);
    switch (op) {
    case OP_ADD: *out = iris__tv_float(x + y); return IRIS_OK;
    case OP_SUB: *out = iris__tv_float(x - y); return IRIS_OK;
    case OP_MUL: *out = iris__tv_float(x * y); return IRIS_OK;
    case OP_DIV:
      if (y == 0)
        return iris__tmpl_fail(r, "float division by zero");
      *out = iris__tv_float(x / y);
      return IRIS_OK;
    case OP_FLOORDIV:
    case OP_MOD: {
      /* CPython's float divmod: the remainder takes the divisor's sign, the quotient is
       * rounded from (x - mod) / y, and a zero quotient takes the sign of x / y */
      double mod, div, fdiv;
      if (y == 0)
        return iris__tmpl_fail(r, op == OP_MOD ? "float modulo" : "float floor division by zero");
      mod = fmod(x, y);
      div = (x - mod) / y;
      if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
          mod += y;
          div -= 1.0;
        }
      } else {
        mod = copysign(0.0, y);
      }
      if (div != 0) {
        fdiv = floor(div);
        if (div - fdiv > 0.5)
          fdiv += 1.0;
      } else {
        fdiv = copysign(0.0, x / y);
      }
      *out = iris__tv_float(op == OP_MOD ? mod : fdiv);
      return IRIS_OK;
    }
    case OP_POW:
      if (x == 0 && y < 0)
        return iris__tmpl_fail(r, "0.0 cannot be raised to a negative power");
      if (x < 0 && y != floor(y))
        return iris__tmpl_fail(r,
                               "a negative number raised to a fractional power is a complex number: "
                               "complex numbers are not supported by this engine");
      *out = iris__tv_float(pow(x, y));
      if (isinf(out->f) && isfinite(x) && isfinite(y))
        return iris__tmpl_fail(r,
                               "(34, 'Numerical result out of range')"); /* Python's OverflowError */
      return IRIS_OK;
    default: break;
    }
  }
  return iris__tmpl_fail(r, "unsupported operator");
}
