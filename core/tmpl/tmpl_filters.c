/*
 * tmpl_filters.c — the filters and tests Iris templates use, each ported from Jinja2 3.1's
 * behaviour (jinja2/filters.py, jinja2/tests.py) with Python's string semantics, and the
 * methods of str, dict and list (and markupsafe's Markup) templates may call. Case mapping
 * and character classes come from tmpl_unicode.c; formatting from tmpl_format.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"
#include "url.h"

static const char *const filters[] = {"default",   "d",         "upper",      "lower",
                                      "title",     "format",    "capitalize", "trim",
                                      "replace",   "truncate",  "length",     "count",
                                      "join",      "first",     "last",       "round",
                                      "int",       "float",     "string",     "tojson",
                                      "e",         "escape",    "safe",       "indent",
                                      "wordwrap",  "urlencode", "abs",        "striptags",
                                      "wordcount", NULL};
static const char *const tests[] = {"defined",     "undefined", "none",     "string", "number",
                                    "integer",     "float",     "boolean",  "true",   "false",
                                    "mapping",     "sequence",  "iterable", "odd",    "even",
                                    "divisibleby", "lower",     "upper",    "in",     "eq",
                                    "equalto",     "==",        "ne",       "!=",     "lt",
                                    "lessthan",    "<",         "le",       "<=",     "gt",
                                    "greaterthan", ">",         "ge",       ">=",     "escaped",
                                    "callable",    NULL};

/* The comparison tests (Jinja's operator.eq etc. under their names and aliases): the
 * operator, or 0. */
static int comparison_test(const char *name) {
  static const struct {
    const char *name;
    int op;
  } t[] = {{"eq", OP_EQ}, {"equalto", OP_EQ},     {"==", OP_EQ}, {"ne", OP_NE}, {"!=", OP_NE},
           {"lt", OP_LT}, {"lessthan", OP_LT},    {"<", OP_LT},  {"le", OP_LE}, {"<=", OP_LE},
           {"gt", OP_GT}, {"greaterthan", OP_GT}, {">", OP_GT},  {"ge", OP_GE}, {">=", OP_GE}};
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(t[i].name, name) == 0)
      return t[i].op;
  return 0;
}

static int in_list(const char *const *l, const char *name) {
  for (; *l; l++)
    if (strcmp(*l, name) == 0)
      return 1;
  return 0;
}
int iris__tmpl_seq_filter_known(const char *name);
int iris__tmpl_seq_filter(struct rctx *r, const char *name, const struct tv *in,
                          const struct fargs *a, struct tv *out);
int iris__tmpl_filter_known(const char *name) {
  return in_list(filters, name) || iris__tmpl_seq_filter_known(name);
}
int iris__tmpl_test_known(const char *name) { return in_list(tests, name); }

/* Appends to an iris_buf latch their first failure, checked once in take(). */
static void latch(int rc) { (void)rc; }

/* ---- argument access --------------------------------------------------------------------- */

/* Argument `pos` (0-based after the value) or keyword `name`; NULL if absent. */
static const struct tv *arg(const struct fargs *a, size_t pos, const char *name) {
  size_t i;
  if (pos < a->npos)
    return &a->pos[pos];
  for (i = 0; i < a->nkw; i++)
    if (strcmp(a->kwname[i], name) == 0)
      return &a->kw[i];
  return NULL;
}

static int check_args(struct rctx *r, const char *filter, const struct fargs *a, size_t maxpos,
                      const char *const *kwnames) {
  size_t i;
  if (a->npos > maxpos)
    return iris__tmpl_fail(r, "filter '%s' takes at most %zu arguments", filter, maxpos);
  for (i = 0; i < a->nkw; i++) {
    size_t k;
    int ok = 0;
    for (k = 0; kwnames && kwnames[k]; k++)
      if (strcmp(kwnames[k], a->kwname[i]) == 0) {
        ok = 1;
        if (k < a->npos)
          return iris__tmpl_fail(r, "filter '%s' got argument '%s' twice", filter, a->kwname[i]);
      }
    if (!ok)
      return iris__tmpl_fail(r, "filter '%s' got an unexpected keyword argument '%s'", filter,
                             a->kwname[i]);
  }
  return IRIS_OK;
}

static int want_int(struct rctx *r, const struct tv *v, const char *what, int64_t *out) {
  if (v->t != TV_INT && v->t != TV_BOOL)
    return iris__tmpl_fail(r, "%s must be an integer, not %s", what, iris__tv_type_name(v));
  *out = v->i;
  return IRIS_OK;
}

/* ---- UTF-8 code points -------------------------------------------------------------------- */

static size_t decode(const char *s, size_t n, size_t i, unsigned long *cp) {
  uint32_t c;
  size_t len = iris__utf8_get(s, n, i, &c);
  *cp = c;
  return len;
}

static int put_cp(struct iris_buf *b, unsigned long cp) {
  char u[4];
  return iris_buf_append(b, u, (size_t)iris__utf8_put((uint32_t)cp, u));
}

/* Python's str.isspace() for one code point. */
static int cp_space(unsigned long c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python's str.splitlines() boundaries: returns the length of the line break at i, or 0. */
static size_t line_break(const char *s, size_t n, size_t i) {
  unsigned char c = (unsigned char)s[i];
  if (c == '\r')
    return (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
  if (c == '\n' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E)
    return 1;
  if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85)
    return 2;
  if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
      ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
    return 3;
  return 0;
}

/* Finish a filter that built its result in b: move it to the scratch arena. */
static int take(struct rctx *r, struct iris_buf *b, struct tv *out, int safe) {
  char *s;
  if (iris_buf_rc(b)) {
    int rc = iris_buf_rc(b);
    iris_buf_cleanup(b);
    return iris_err_set(r->err, rc, "template '%s': filter output too large or out of memory",
                        r->t->name);
  }
  s = iris__tmpl_scratch(r, iris_buf_len(b));
  if (!s) {
    iris_buf_cleanup(b);
    return IRIS_ENOMEM;
  }
  memcpy(s, iris_buf_ptr(b), iris_buf_len(b));
  *out = iris__tv_str(s, iris_buf_len(b));
  out->safe = safe;
  iris_buf_cleanup(b);
  return IRIS_OK;
}

enum casing { UPPER, LOWER, CAPITALIZE, TITLE };

/* Python's lower() of s[lo, hi) appended to b: full mappings, and the capital sigma final
 * (ς) or not by the context inside [lo, hi). */
static void lower_range(struct iris_buf *b, const char *s, size_t lo, size_t hi) {
  size_t i = lo;
  while (i < hi) {
    uint32_t c;
    size_t len = iris__utf8_get(s, hi, i, &c);
    if (c == 0x3A3)
      latch(put_cp(b, iris__uc_final_sigma(s, lo, hi, i) ? 0x3C2 : 0x3C3));
    else
      latch(iris__uc_append_case(b, c, 'l'));
    i += len;
  }
}

/* Jinja's title splits words at runs of -, whitespace, ( { [ and <. */
static int title_sep(uint32_t c) {
  return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || cp_space(c);
}

/*
 * upper: Python's str.upper(); lower: str.lower(); capitalize: str.capitalize() (first
 * character title-cased, the rest lower-cased); title: Jinja's do_title — each word's first
 * character upper-cased and the rest of the word lower-cased on its own.
 */
static int change_case(struct rctx *r, const struct tv *in, enum casing how, struct tv *out) {
  struct iris_buf b;
  struct tv s;
  size_t i = 0;
  int rc;
  rc = iris__tv_to_string(r, in, &s);
  if (rc)
    return rc;
  iris_buf_init(&b, 0);
  if (how == LOWER) {
    lower_range(&b, s.s, 0, s.n);
  } else if (how == UPPER) {
    while (i < s.n) {
      uint32_t c;
      i += iris__utf8_get(s.s, s.n, i, &c);
      latch(iris__uc_append_case(&b, c, 'u'));
    }
  } else if (how == CAPITALIZE) {
    if (s.n) {
      uint32_t c;
      size_t len = iris__utf8_get(s.s, s.n, 0, &c);
      latch(iris__uc_append_case(&b, c, 't'));
      /* the rest lower-cased with the whole string as the sigma's context */
      while (len < s.n) {
        uint32_t d;
        size_t k = iris__utf8_get(s.s, s.n, len, &d);
        if (d == 0x3A3)
          latch(put_cp(&b, iris__uc_final_sigma(s.s, 0, s.n, len) ? 0x3C2 : 0x3C3));
        else
          latch(iris__uc_append_case(&b, d, 'l'));
        len += k;
      }
    }
  } else {
    while (i < s.n) {
      uint32_t c;
      size_t len = iris__utf8_get(s.s, s.n, i, &c), end;
      if (title_sep(c)) {
        latch(iris_buf_append(&b, s.s + i, len));
        i += len;
        continue;
      }
      latch(iris__uc_append_case(&b, c, 'u'));
      end = i + len;
      while (end < s.n) {
        uint32_t d;
        size_t k = iris__utf8_get(s.s, s.n, end, &d);
        if (title_sep(d))
          break;
        end += k;
      }
      lower_range(&b, s.s, i + len, end);
      i = end;
    }
  }
  return take(r, &b, out, in->safe && how != TITLE);
}

/* Does the string set contain the character c (c_len bytes of UTF-8)? UTF-8 is
 * self-synchronising, so a byte match is a character match. */
static int has_char(const struct tv *set, const char *c, size_t c_len) {
  size_t i;
  for (i = 0; i + c_len <= set->n; i++)
    if (memcmp(set->s + i, c, c_len) == 0)
      return 1;
  return 0;
}

static int do_strip(struct rctx *r, const struct tv *in, const struct tv *chars, int sides,
                    struct tv *out);
static int do_trim(struct rctx *r, const struct tv *in, const struct tv *chars, struct tv *out) {
  return do_strip(r, in, chars, 3, out);
}

/* Python's strip (sides 3), lstrip (1), rstrip (2): whitespace, or any of `chars`. */
static int do_strip(struct rctx *r, const struct tv *in, const struct tv *chars, int sides,
                    struct tv *out) {
  struct tv s;
  size_t a = 0, z;
  int rc = iris__tv_to_string(r, in, &s);
  if (rc)
    return rc;
  z = s.n;
  if (chars && chars->t != TV_NONE) {
    if (chars->t != TV_STR)
      return iris__tmpl_fail(r, "trim(chars) must be a string");
    /* strip any of the given characters (code points, as Python's str.strip) */
    while ((sides & 1) && a < z) {
      uint32_t c;
      size_t len = iris__utf8_get(s.s, z, a, &c);
      if (!has_char(chars, s.s + a, len))
        break;
      a += len;
    }
    while ((sides & 2) && z > a) {
      size_t st = z - 1;
      while (st > a && ((unsigned char)s.s[st] & 0xC0) == 0x80)
        st--;
      if (!has_char(chars, s.s + st, z - st))
        break;
      z = st;
    }
  } else {
    while ((sides & 1) && a < z) {
      unsigned long c;
      size_t len = decode(s.s, s.n, a, &c);
      if (!cp_space(c))
        break;
      a += len;
    }
    while ((sides & 2) && z > a) {
      size_t st = z - 1;
      unsigned long c;
      while (st > a && ((unsigned char)s.s[st] & 0xC0) == 0x80)
        st--;
      decode(s.s, s.n, st, &c);
      if (!cp_space(c))
        break;
      z = st;
    }
  }
  *out = iris__tv_str(s.s + a, z - a);
  out->safe = in->safe;
  return IRIS_OK;
}

static int do_replace(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"old", "new", "count", NULL};
  const struct tv *old = arg(a, 0, "old"), *nw = arg(a, 1, "new"), *cnt = arg(a, 2, "count");
  struct tv s, o, n;
  struct iris_buf b;
  int64_t count = -1, done = 0;
  size_t i = 0;
  int rc = check_args(r, "replace", a, 3, kw);
  if (rc)
    return rc;
  if (!old || !nw)
    return iris__tmpl_fail(r, "replace() needs the old and new strings");
  if (cnt && cnt->t != TV_NONE && (rc = want_int(r, cnt, "replace() count", &count)))
    return rc;
  if ((rc = iris__tv_to_string(r, in, &s)) || (rc = iris__tv_to_string(r, old, &o)) ||
      (rc = iris__tv_to_string(r, nw, &n)))
    return rc;
  iris_buf_init(&b, 0);
  if (o.n == 0) {
    /* Python inserts `new` before every character and at the end */
    while (i <= s.n) {
      if (count < 0 || done < count) {
        latch(iris_buf_append(&b, n.s, n.n));
        done++;
      }
      if (i == s.n)
        break;
      {
        unsigned long c;
        size_t len = decode(s.s, s.n, i, &c);
        latch(iris_buf_append(&b, s.s + i, len));
        i += len;
      }
    }
    return take(r, &b, out, 0);
  }
  while (i < s.n) {
    if ((count < 0 || done < count) && i + o.n <= s.n && memcmp(s.s + i, o.s, o.n) == 0) {
      latch(iris_buf_append(&b, n.s, n.n));
      i += o.n;
      done++;
    } else {
      latch(iris_buf_appendc(&b, s.s[i++]));
    }
  }
  return take(r, &b, out, 0);
}

static int do_truncate(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"length", "killwords", "end", "leeway", NULL};
  const struct tv *lv = arg(a, 0, "length"), *kv = arg(a, 1, "killwords"), *ev = arg(a, 2, "end"),
                  *wv = arg(a, 3, "leeway");
  int64_t length = 255, leeway = 5;
  struct tv s, end = iris__tv_str("...", 3);
  size_t slen, cut, endlen;
  int rc = check_args(r, "truncate", a, 4, kw);
  if (rc)
    return rc;
  if (lv && (rc = want_int(r, lv, "truncate() length", &length)))
    return rc;
  if (wv && wv->t != TV_NONE && (rc = want_int(r, wv, "truncate() leeway", &leeway)))
    return rc;
  if (ev && (rc = iris__tv_to_string(r, ev, &end)))
    return rc;
  if (in->t == TV_LIST && r->nviews && iris__tmpl_view_find(r, in->j) &&
      iris__tmpl_view_find(r, in->j)->kind == VIEW_ITER)
    return iris__tmpl_fail(r, "object of type 'generator' has no len()");
  if (in->t == TV_LIST || in->t == TV_DICT || in->t == TV_UNDEF) {
    /* Jinja returns any sized value that fits unchanged (a list stays a list); a longer one
     * fails there when it is sliced and split as a string. */
    if (iris__tv_len(in) <= length + leeway) {
      *out = *in;
      return IRIS_OK;
    }
    return iris__tmpl_fail(r, "truncate() of a %s longer than %lld", iris__tv_type_name(in),
                           (long long)(length + leeway));
  }
  if (in->t != TV_STR)
    return iris__tmpl_fail(r, "object of type '%s' has no len()", iris__tv_type_name(in));
  s = *in;
  endlen = iris__utf8_count(end.s, end.n);
  if (length < (int64_t)endlen)
    return iris__tmpl_fail(r, "truncate(): expected length >= %zu, got %lld", endlen,
                           (long long)length);
  if (leeway < 0)
    return iris__tmpl_fail(r, "truncate(): expected leeway >= 0, got %lld", (long long)leeway);
  slen = iris__utf8_count(s.s, s.n);
  if ((int64_t)slen <= length + leeway) {
    *out = s;
    return IRIS_OK;
  }
  cut = iris__utf8_offset(s.s, s.n, (size_t)length - endlen);
  if (!(kv && iris__tmpl_truthy(r, kv))) {
    /* result = s[:length - len(end)].rsplit(" ", 1)[0] */
    size_t k = cut;
    while (k > 0 && s.s[k - 1] != ' ')
      k--;
    if (k > 0)
      cut = k - 1;
  }
  if (s.safe && !end.safe && (rc = iris__tmpl_escape(r, &end, &end)))
    return rc; /* Markup + str escapes the str */
  {
    char *d = iris__tmpl_scratch(r, cut + end.n);
    if (!d)
      return IRIS_ENOMEM;
    memcpy(d, s.s, cut);
    memcpy(d + cut, end.s, end.n);
    *out = iris__tv_str(d, cut + end.n);
    out->safe = s.safe;
  }
  return IRIS_OK;
}

static int do_join(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"d", "attribute", NULL};
  const struct tv *dv = arg(a, 0, "d"), *attr = arg(a, 1, "attribute");
  struct tv sep = iris__tv_str("", 0);
  struct iris_buf b;
  size_t i, n;
  int rc = check_args(r, "join", a, 2, kw);
  if (rc || (rc = iris__tmpl_check_iter(r, in)))
    return rc;
  if (dv && (rc = iris__tv_to_string(r, dv, &sep)))
    return rc;
  if (in->t == TV_UNDEF) {
    *out = iris__tv_str("", 0);
    return IRIS_OK;
  }
  iris_buf_init(&b, 0);
  if (in->t == TV_STR) {
    for (i = 0; i < in->n;) {
      unsigned long c;
      size_t len = decode(in->s, in->n, i, &c);
      if (i)
        latch(iris_buf_append(&b, sep.s, sep.n));
      if (!attr) /* a character's attribute is undefined: it joins as nothing */
        latch(iris_buf_append(&b, in->s + i, len));
      i += len;
    }
    return take(r, &b, out, 0);
  }
  if (in->t != TV_LIST && in->t != TV_DICT) {
    iris_buf_cleanup(&b);
    return iris__tmpl_fail(r, "join(): '%s' object is not iterable", iris__tv_type_name(in));
  }
  n = in->t == TV_LIST ? json_array_size(in->j) : json_object_size(in->j);
  if (in->t == TV_DICT) {
    const char *k;
    json_t *v;
    size_t idx = 0;
    json_object_foreach(in->j, k, v) {
      if (idx++)
        latch(iris_buf_append(&b, sep.s, sep.n));
      if (!attr)
        latch(iris_buf_appends(&b, k));
    }
    return take(r, &b, out, 0);
  }
  for (i = 0; i < n; i++) {
    json_t *item = json_array_get(in->j, i);
    struct tv v;
    if (attr) {
      struct tv an;
      char *key;
      if ((rc = iris__tv_to_string(r, attr, &an)) || !(key = iris__tmpl_scratch(r, an.n))) {
        iris_buf_cleanup(&b);
        return rc ? rc : IRIS_ENOMEM;
      }
      memcpy(key, an.s, an.n);
      if (iris__tmpl_is_undef_json(item)) { /* Jinja's getitem on Undefined raises */
        iris_buf_cleanup(&b);
        return iris__tmpl_fail(r, "'value' is undefined");
      }
      item = json_is_object(item) ? json_object_get(item, key) : NULL;
    }
    /* a missing attribute is Undefined in Jinja: it joins as nothing */
    v = item ? iris__tv_from_json(item) : iris__tv_undef(NULL);
    if (i)
      latch(iris_buf_append(&b, sep.s, sep.n));
    if (iris__tv_append_str(r, &v, &b) && r->err->rc) {
      iris_buf_cleanup(&b);
      return r->err->rc;
    }
  }
  return take(r, &b, out, 0);
}

static int first_last(struct rctx *r, const struct tv *in, int last, struct tv *out) {
  int rc = iris__tmpl_check_iter(r, in);
  if (rc)
    return rc;
  switch (in->t) {
  case TV_UNDEF: *out = iris__tv_undef("first/last of an undefined value"); return IRIS_OK;
  case TV_LIST: {
    size_t n = json_array_size(in->j);
    *out = n ? iris__tv_from_json(json_array_get(in->j, last ? n - 1 : 0))
             : iris__tv_undef("first/last of an empty list");
    return IRIS_OK;
  }
  case TV_DICT: {
    const char *k, *pick = NULL;
    json_t *v;
    json_object_foreach(in->j, k, v) {
      if (!pick || last)
        pick = k;
      if (!last)
        break;
    }
    *out = pick ? iris__tv_str(pick, strlen(pick)) : iris__tv_undef("first of an empty dict");
    return IRIS_OK;
  }
  case TV_STR: {
    size_t n = iris__utf8_count(in->s, in->n), a, z;
    if (!n) {
      *out = iris__tv_undef("first/last of an empty string");
      return IRIS_OK;
    }
    a = iris__utf8_offset(in->s, in->n, last ? n - 1 : 0);
    z = iris__utf8_offset(in->s, in->n, last ? n : 1);
    *out = iris__tv_str(in->s + a, z - a);
    /* reversed() reads a Markup through its __getitem__, which makes Markup; iter() does not */
    out->safe = last && in->safe;
    return IRIS_OK;
  }
  default: return iris__tmpl_fail(r, "'%s' object is not iterable", iris__tv_type_name(in));
  }
}

static int do_round(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"precision", "method", NULL};
  const struct tv *pv = arg(a, 0, "precision"), *mv = arg(a, 1, "method");
  int64_t prec = 0;
  struct tv method = iris__tv_str("common", 6);
  double x, scale;
  int rc = check_args(r, "round", a, 2, kw);
  if (rc)
    return rc;
  if (pv && (rc = want_int(r, pv, "round() precision", &prec)))
    return rc;
  if (mv && (rc = iris__tv_to_string(r, mv, &method)))
    return rc;
  if (in->t != TV_INT && in->t != TV_FLOAT && in->t != TV_BOOL)
    return iris__tmpl_fail(r, "round(): '%s' is not a number", iris__tv_type_name(in));
  if (prec < 0 || prec > 15)
    return iris__tmpl_fail(r, "round(): precision must be 0-15 in this engine");
  x = in->t == TV_FLOAT ? in->f : (double)in->i;
  scale = pow(10.0, (double)prec);
  if (method.n == 6 && memcmp(method.s, "common", 6) == 0) {
    char buf[400];
    if (in->t != TV_FLOAT) {
      *out = iris__tv_int(in->i); /* Python: round(int, n) is that int */
      return IRIS_OK;
    }
    if (!isfinite(x)) {
      *out = *in;
      return IRIS_OK;
    }
    /* printf rounds the exact binary value half-to-even, like Python's round(). */
    snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
    *out = iris__tv_float(strtod(buf, NULL));
    return IRIS_OK;
  }
  if ((method.n == 4 && memcmp(method.s, "ceil", 4) == 0) ||
      (method.n == 5 && memcmp(method.s, "floor", 5) == 0)) {
    /* Jinja: math.ceil/floor(value * 10**p) / 10**p. Python's ceil and floor make an int:
     * they refuse infinity and NaN, and the int 0 has no sign (-0.5 ceils to 0.0, not -0.0). */
    double v = x * scale;
    if (isnan(v))
      return iris__tmpl_fail(r, "round(): cannot convert float NaN to integer");
    if (isinf(v))
      return iris__tmpl_fail(r, "round(): cannot convert float infinity to integer");
    v = method.n == 4 ? ceil(v) : floor(v);
    *out = iris__tv_float(v / scale + 0.0);
    return IRIS_OK;
  }
  return iris__tmpl_fail(r, "round(): method must be common, ceil or floor");
}

/* Python's float() of a string; 0 if it does not parse. */
/*
 * The text Python's int() / float() read: s without surrounding whitespace (str.isspace()),
 * every decimal digit of any script as its ASCII digit (int('٣') is 3). 0 when s holds any
 * other non-ASCII character or does not fit buf (*too_long set then).
 */
static int number_text(const char *s, size_t n, char *buf, size_t cap, int *too_long) {
  size_t a = 0, z = n, o = 0;
  uint32_t c;
  *too_long = 0;
  while (a < z) {
    size_t len = iris__utf8_get(s, z, a, &c);
    if (!cp_space(c))
      break;
    a += len;
  }
  while (z > a) {
    size_t k = z - 1;
    while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
      k--;
    iris__utf8_get(s, z, k, &c);
    if (!cp_space(c))
      break;
    z = k;
  }
  while (a < z) {
    size_t len = iris__utf8_get(s, z, a, &c);
    int d = iris__uc_decimal(c);
    if (o + 1 >= cap) {
      *too_long = 1;
      return 0;
    }
    if (c < 0x80)
      buf[o++] = (char)c;
    else if (d >= 0)
      buf[o++] = (char)('0' + d);
    else
      return 0;
    a += len;
  }
  buf[o] = '\0';
  return o > 0;
}

/* Python's float(str) on number_text output (buf, NUL-terminated). */
static int parse_float_text(const char *buf, double *out) {
  char clean[128];
  size_t k, o = 0, z = strlen(buf);
  char *end;
  for (k = 0; k < z && o + 1 < sizeof clean; k++) {
    if (buf[k] == 'x' || buf[k] == 'X' || buf[k] == 'p' || buf[k] == 'P')
      return 0; /* strtod reads hex floats; Python does not */
    if (buf[k] == '_') {
      if (k == 0 || k + 1 == z || !isdigit((unsigned char)buf[k - 1]) ||
          !isdigit((unsigned char)buf[k + 1]))
        return 0;
      continue;
    }
    clean[o++] = buf[k];
  }
  if (k < z || o == 0)
    return 0;
  clean[o] = '\0';
  *out = strtod(clean, &end);
  return *end == '\0';
}

static int parse_float(const char *s, size_t n, double *out) {
  char buf[128];
  int too_long;
  return number_text(s, n, buf, sizeof buf, &too_long) && parse_float_text(buf, out);
}

static int beyond_64_bits(struct rctx *r) {
  return iris__tmpl_fail(r, "int(): the value is beyond 64 bits, where Python's int would grow "
                            "(this engine uses 64-bit integers)");
}

/* int(float) as Python: nan is a ValueError (the default), infinity an OverflowError. */
static int int_of_float(struct rctx *r, double f, const struct tv *def, struct tv *out) {
  if (isnan(f)) {
    *out = *def;
    return IRIS_OK;
  }
  if (isinf(f))
    return iris__tmpl_fail(r, "int(): cannot convert float infinity to integer");
  if (f >= 9223372036854775808.0 || f < -9223372036854775808.0)
    return beyond_64_bits(r);
  *out = iris__tv_int((int64_t)f);
  return IRIS_OK;
}

static int do_int(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"default", "base", NULL};
  const struct tv *dv = arg(a, 0, "default"), *bv = arg(a, 1, "base");
  int64_t base = 10;
  int rc = check_args(r, "int", a, 2, kw);
  struct tv def = iris__tv_int(0);
  if (rc)
    return rc;
  if (dv)
    def = *dv;
  if (bv && (rc = want_int(r, bv, "int() base", &base)))
    return rc;
  switch (in->t) {
  case TV_INT:
  case TV_BOOL: *out = iris__tv_int(in->i); return IRIS_OK;
  case TV_FLOAT: return int_of_float(r, in->f, &def, out);
  case TV_STR: {
    char buf[128], digits[128], *end;
    size_t o = 0, k;
    long long v;
    double f;
    int too_long, all_digits = 1;
    if (!number_text(in->s, in->n, buf, sizeof buf, &too_long)) {
      if (too_long) {
        /* a number this long is beyond 64 bits in any base; anything else is the default */
        for (k = 0; k < in->n && all_digits; k++)
          all_digits = isdigit((unsigned char)in->s[k]) || in->s[k] == '_' ||
                       ((in->s[k] == '-' || in->s[k] == '+') && k == 0) ||
                       isspace((unsigned char)in->s[k]);
        if (all_digits)
          return beyond_64_bits(r);
      }
      *out = def;
      return IRIS_OK;
    }
    for (k = 0; buf[k]; k++)
      if (buf[k] != '_')
        digits[o++] = buf[k];
    digits[o] = '\0';
    errno = 0;
    v = strtoll(digits, &end, (int)base);
    if (*end == '\0' && o &&
        !(base == 10 && (digits[0] == '0' && o > 1 && isalpha((unsigned char)digits[1])))) {
      if (errno == ERANGE)
        return beyond_64_bits(r);
      *out = iris__tv_int(v);
      return IRIS_OK;
    }
    /* int(float(value)); Jinja catches the OverflowError of infinity here: the default */
    if (parse_float_text(buf, &f)) {
      if (isinf(f)) {
        *out = def;
        return IRIS_OK;
      }
      return int_of_float(r, f, &def, out);
    }
    *out = def;
    return IRIS_OK;
  }
  default: *out = def; return IRIS_OK;
  }
}

static int do_float(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"default", NULL};
  const struct tv *dv = arg(a, 0, "default");
  struct tv def = iris__tv_float(0.0);
  double f;
  int rc = check_args(r, "float", a, 1, kw);
  if (rc)
    return rc;
  if (dv)
    def = *dv;
  if (in->t == TV_FLOAT) {
    *out = *in;
  } else if (in->t == TV_INT || in->t == TV_BOOL) {
    *out = iris__tv_float((double)in->i);
  } else if (in->t == TV_STR && parse_float(in->s, in->n, &f)) {
    *out = iris__tv_float(f);
  } else {
    *out = def;
  }
  return IRIS_OK;
}

/* A JSON string as Jinja's tojson writes it. */
static int json_string_out(struct iris_buf *b, const char *s, size_t n) {
  return iris__tmpl_append_quoted(b, s, n, QUOTE_JSON);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int json_out(struct rctx *r, json_t *j, struct iris_buf *b, int64_t indent, int level) {
  char num[64];
  size_t i;
  int rc = IRIS_OK;
  if (level > IRIS_TMPL_MAX_DEPTH)
    return iris__tmpl_fail(r, "tojson: value nested too deeply");
  if (iris__tmpl_is_undef_json(j))
    return iris__tmpl_fail(r, "Object of type Undefined is not JSON serializable");
  if (iris__tmpl_is_macro_json(j))
    return iris__tmpl_fail(r, "Object of type Macro is not JSON serializable");
  {
    double f;
    if (iris__tmpl_nonfinite_json(j, &f))
      return iris_buf_appends(b, isnan(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity");
  }
  if (r->nviews && json_is_array(j) && iris__tmpl_view_find(r, j) &&
      iris__tmpl_view_find(r, j)->kind != VIEW_TUPLE)
    return iris__tmpl_fail(r, "a range, dict view or generator is not JSON serializable");
#define NEWLINE(l) \
  do { \
    if (indent >= 0) { \
      int64_t k_; \
      rc = rc ? rc : iris_buf_appendc(b, '\n'); \
      for (k_ = 0; k_ < indent * (l) && rc == IRIS_OK; k_++) \
        rc = iris_buf_appendc(b, ' '); \
    } \
  } while (0)
  switch (json_typeof(j)) {
  case JSON_NULL: return iris_buf_appends(b, "null");
  case JSON_TRUE: return iris_buf_appends(b, "true");
  case JSON_FALSE: return iris_buf_appends(b, "false");
  case JSON_INTEGER: return iris_buf_appendf(b, "%lld", (long long)json_integer_value(j));
  case JSON_REAL: {
    double f = json_real_value(j);
    if (isnan(f))
      return iris_buf_appends(b, "NaN");
    if (isinf(f))
      return iris_buf_appends(b, f > 0 ? "Infinity" : "-Infinity");
    iris__tmpl_format_float(f, num, sizeof num);
    return iris_buf_appends(b, num);
  }
  case JSON_STRING: return json_string_out(b, json_string_value(j), json_string_length(j));
  case JSON_ARRAY:
    if (json_array_size(j) == 0)
      return iris_buf_appends(b, "[]");
    rc = iris_buf_appendc(b, '[');
    for (i = 0; i < json_array_size(j) && rc == IRIS_OK; i++) {
      if (i)
        rc = iris_buf_appends(b, indent >= 0 ? "," : ", ");
      NEWLINE(level + 1);
      if (rc == IRIS_OK)
        rc = json_out(r, json_array_get(j, i), b, indent, level + 1);
    }
    NEWLINE(level);
    return rc ? rc : iris_buf_appendc(b, ']');
  case JSON_OBJECT: {
    const char **keys;
    const char *k;
    json_t *v;
    size_t n = 0;
    if (json_object_size(j) == 0)
      return iris_buf_appends(b, "{}");
    keys = iris_calloc(json_object_size(j), sizeof *keys);
    if (!keys)
      return IRIS_ENOMEM;
    json_object_foreach(j, k, v) keys[n++] = k;
    qsort(keys, n, sizeof *keys, cmp_keys);
    rc = iris_buf_appendc(b, '{');
    for (i = 0; i < n && rc == IRIS_OK; i++) {
      if (i)
        rc = iris_buf_appends(b, indent >= 0 ? "," : ", ");
      NEWLINE(level + 1);
      if (rc == IRIS_OK)
        rc = json_string_out(b, keys[i], strlen(keys[i]));
      if (rc == IRIS_OK)
        rc = iris_buf_appends(b, ": ");
      if (rc == IRIS_OK)
        rc = json_out(r, json_object_get(j, keys[i]), b, indent, level + 1);
    }
    iris_free(keys);
    NEWLINE(level);
    return rc ? rc : iris_buf_appendc(b, '}');
  }
  }
#undef NEWLINE
  return IRIS_OK;
}

static int do_tojson(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"indent", NULL};
  const struct tv *iv = arg(a, 0, "indent");
  int64_t indent = -1;
  json_t *j = NULL;
  struct iris_buf b;
  int rc = check_args(r, "tojson", a, 1, kw);
  if (rc)
    return rc;
  if (iv && iv->t != TV_NONE && (rc = want_int(r, iv, "tojson() indent", &indent)))
    return rc;
  if (in->t == TV_UNDEF)
    return iris__tmpl_fail(r, "Object of type Undefined is not JSON serializable");
  if ((rc = iris__tv_to_json(r, in, &j)))
    return rc;
  iris_buf_init(&b, 0);
  rc = json_out(r, j, &b, indent, 0);
  json_decref(j);
  if (rc && r->err->rc) {
    iris_buf_cleanup(&b);
    return r->err->rc;
  }
  return take(r, &b, out, 1);
}

/* Python's str.splitlines() pieces (without the breaks) of s, as offsets. */
struct line {
  size_t a, z;
};

static size_t split_lines(const char *s, size_t n, struct line *lines, size_t max) {
  size_t i = 0, start = 0, nl = 0;
  while (i < n) {
    size_t br = line_break(s, n, i);
    if (br) {
      if (nl < max)
        lines[nl] = (struct line){start, i};
      nl++;
      i += br;
      start = i;
    } else {
      i++;
    }
  }
  if (start < n) {
    if (nl < max)
      lines[nl] = (struct line){start, n};
    nl++;
  }
  return nl;
}

static int do_indent(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"width", "first", "blank", NULL};
  const struct tv *wv = arg(a, 0, "width"), *fv = arg(a, 1, "first"), *bv = arg(a, 2, "blank");
  struct tv s, ind;
  struct iris_buf b;
  struct line *lines;
  size_t nl, i, cap;
  char *src;
  int rc = check_args(r, "indent", a, 3, kw), first = fv && iris__tmpl_truthy(r, fv),
      blank = bv && iris__tmpl_truthy(r, bv);
  if (rc)
    return rc;
  if (wv && wv->t == TV_STR) {
    ind = *wv;
  } else {
    int64_t w = 4;
    char *sp;
    if (wv && (rc = want_int(r, wv, "indent() width", &w)))
      return rc;
    if (w < 0)
      w = 0;
    if (w > 1000)
      return iris__tmpl_fail(r, "indent(): width too large");
    sp = iris__tmpl_scratch(r, (size_t)w);
    if (!sp)
      return IRIS_ENOMEM;
    memset(sp, ' ', (size_t)w);
    ind = iris__tv_str(sp, (size_t)w);
  }
  if ((rc = iris__tv_to_string(r, in, &s)))
    return rc;
  /* s += "\n" (Jinja's quirk so that splitlines keeps a trailing empty line) */
  src = iris__tmpl_scratch(r, s.n + 1);
  if (!src)
    return IRIS_ENOMEM;
  memcpy(src, s.s, s.n);
  src[s.n] = '\n';
  cap = split_lines(src, s.n + 1, NULL, 0);
  lines = iris_calloc(cap ? cap : 1, sizeof *lines);
  if (!lines)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  nl = split_lines(src, s.n + 1, lines, cap);
  iris_buf_init(&b, 0);
  if (first)
    latch(iris_buf_append(&b, ind.s, ind.n));
  for (i = 0; i < nl; i++) {
    size_t len = lines[i].z - lines[i].a;
    if (i) {
      latch(iris_buf_appendc(&b, '\n'));
      if (blank || len)
        latch(iris_buf_append(&b, ind.s, ind.n));
    }
    latch(iris_buf_append(&b, src + lines[i].a, len));
  }
  iris_free(lines);
  return take(r, &b, out, in->safe); /* Markup in, Markup out (its indention unescaped) */
}

/* textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False, break_long_words,
 * break_on_hyphens=False) appended to b, lines joined by wrap. */
static int wrap_line(struct rctx *r, const char *s, size_t n, int64_t width, int break_long,
                     const struct tv *wrap, struct iris_buf *b, int *wrote) {
  struct chunk {
    const char *p;
    size_t n;   /* bytes */
    size_t len; /* code points */
    int space;
  } * ch;
  size_t nch = 0, i = 0, c = 0;
  int lines = 0;
  ch = iris_calloc(n + 1, sizeof *ch);
  if (!ch)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  while (i < n) {
    unsigned long cp;
    size_t len = decode(s, n, i, &cp), st = i;
    int sp = cp_space(cp);
    while (i < n) {
      len = decode(s, n, i, &cp);
      if (cp_space(cp) != sp)
        break;
      i += len;
    }
    ch[nch].p = s + st;
    ch[nch].n = i - st;
    ch[nch].len = iris__utf8_count(s + st, i - st);
    ch[nch].space = sp;
    nch++;
  }
  while (c < nch) {
    size_t line_start_b = b->len, cur = 0;
    int any = 0, keep_trailing = 0;
    /* drop leading whitespace except at the very beginning of the text */
    if (ch[c].space && lines)
      c++;
    if (lines)
      latch(iris_buf_append(b, wrap->s, wrap->n));
    line_start_b = b->len;
    while (c < nch && cur + ch[c].len <= (size_t)width) {
      latch(iris_buf_append(b, ch[c].p, ch[c].n));
      cur += ch[c].len;
      any = 1;
      c++;
    }
    if (c < nch && ch[c].len > (size_t)width) {
      if (break_long) {
        size_t space_left = width < 1 ? 1 : (size_t)width - cur;
        size_t cut = iris__utf8_offset(ch[c].p, ch[c].n, space_left);
        latch(iris_buf_append(b, ch[c].p, cut));
        /* A full line leaves no room: textwrap then appends an empty piece, and its
         * drop-whitespace step removes that piece instead of the line's trailing whitespace. */
        keep_trailing = space_left == 0;
        ch[c].p += cut;
        ch[c].n -= cut;
        ch[c].len -= space_left;
        any = 1;
      } else if (!any) {
        latch(iris_buf_append(b, ch[c].p, ch[c].n));
        any = 1;
        c++;
      }
    }
    /* drop trailing whitespace of the line */
    if (any) {
      size_t end = b->len;
      while (!keep_trailing && end > line_start_b && isspace((unsigned char)b->ptr[end - 1]))
        end--;
      if (end == line_start_b && b->len > line_start_b) {
        /* the line was only whitespace: textwrap drops it */
        b->len = line_start_b;
        if (lines)
          b->len -= wrap->n;
        b->ptr[b->len] = '\0';
        continue;
      }
      b->len = end;
      if (b->ptr)
        b->ptr[b->len] = '\0';
      lines++;
    } else if (lines) {
      b->len -= wrap->n;
      if (b->ptr)
        b->ptr[b->len] = '\0';
    }
  }
  iris_free(ch);
  *wrote = lines;
  return iris_buf_rc(b);
}

static int do_wordwrap(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"width", "break_long_words", "wrapstring", "break_on_hyphens",
                                   NULL};
  const struct tv *wv = arg(a, 0, "width"), *bl = arg(a, 1, "break_long_words"),
                  *ws = arg(a, 2, "wrapstring"), *bh = arg(a, 3, "break_on_hyphens");
  int64_t width = 79;
  struct tv s, wrap = iris__tv_str("\n", 1);
  struct iris_buf b;
  size_t i = 0, start = 0;
  int rc = check_args(r, "wordwrap", a, 4, kw), break_long = !bl || iris__tmpl_truthy(r, bl),
      hyphens = !bh || iris__tmpl_truthy(r, bh), first = 1;
  if (rc)
    return rc;
  if (wv && (rc = want_int(r, wv, "wordwrap() width", &width)))
    return rc;
  if (width <= 0)
    return iris__tmpl_fail(r, "wordwrap(): invalid width %lld (must be > 0)", (long long)width);
  if (ws && ws->t != TV_NONE && (rc = iris__tv_to_string(r, ws, &wrap)))
    return rc;
  if ((rc = iris__tv_to_string(r, in, &s)))
    return rc;
  if (hyphens && memchr(s.s, '-', s.n))
    return iris__tmpl_fail(r, "wordwrap(): breaking words at hyphens is not supported by this "
                              "engine; pass break_on_hyphens=false");
  iris_buf_init(&b, 0);
  while (i <= s.n) {
    size_t br = i < s.n ? line_break(s.s, s.n, i) : 0;
    if (i == s.n || br) {
      int wrote = 0;
      if (i == s.n && start == s.n && !first)
        break; /* splitlines: no empty piece after a final line break */
      if (!first)
        latch(iris_buf_append(&b, wrap.s, wrap.n));
      first = 0;
      if (wrap_line(r, s.s + start, i - start, width, break_long, &wrap, &b, &wrote) &&
          r->err->rc) {
        iris_buf_cleanup(&b);
        return r->err->rc;
      }
      if (i == s.n)
        break;
      i += br;
      start = i;
      if (i == s.n)
        break;
      continue;
    }
    i++;
  }
  return take(r, &b, out, 0);
}

/* One `key=value` of urlencode's query string, both quoted as Python's quote_plus does, after
 * an `&` unless it is the first. */
static void append_query_pair(struct iris_buf *b, int first, const char *k, size_t kn,
                              const char *v, size_t vn) {
  if (!first)
    latch(iris_buf_appendc(b, '&'));
  latch(iris_url_append_quoted(b, k, kn, "", 1));
  latch(iris_buf_appendc(b, '='));
  latch(iris_url_append_quoted(b, v, vn, "", 1));
}

static int do_urlencode(struct rctx *r, const struct tv *in, struct tv *out) {
  struct iris_buf b;
  struct tv s;
  int rc = iris__tmpl_check_iter(r, in);
  if (rc)
    return rc;
  iris_buf_init(&b, 0);
  if (in->t == TV_DICT) {
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(in->j, k, v) {
      struct tv val = iris__tv_from_json(v), vs;
      if ((rc = iris__tv_to_string(r, &val, &vs))) {
        iris_buf_cleanup(&b);
        return rc;
      }
      append_query_pair(&b, first, k, strlen(k), vs.s, vs.n);
      first = 0;
    }
    return take(r, &b, out, 0);
  }
  if (in->t == TV_LIST) {
    /* Jinja unpacks every item into (key, value): a list of pairs */
    size_t i;
    for (i = 0; i < json_array_size(in->j); i++) {
      json_t *pair = json_array_get(in->j, i);
      struct tv k, v, ks, vs;
      if (json_is_object(pair) && json_object_size(pair) == 2) {
        /* unpacking a dict gives its keys */
        void *it = json_object_iter(pair);
        const char *k0 = json_object_iter_key(it);
        const char *k1 = json_object_iter_key(json_object_iter_next(pair, it));
        append_query_pair(&b, i == 0, k0, strlen(k0), k1, strlen(k1));
        continue;
      }
      if (json_is_string(pair) &&
          iris__utf8_count(json_string_value(pair), json_string_length(pair)) == 2) {
        /* unpacking a two-character string gives its characters */
        const char *p = json_string_value(pair);
        size_t n = json_string_length(pair), cut = iris__utf8_offset(p, n, 1);
        append_query_pair(&b, i == 0, p, cut, p + cut, n - cut);
        continue;
      }
      if (!json_is_array(pair) || json_array_size(pair) != 2) {
        iris_buf_cleanup(&b);
        return iris__tmpl_fail(r, "urlencode(): item %zu of the list is not a (key, value) pair",
                               i);
      }
      k = iris__tv_from_json(json_array_get(pair, 0));
      v = iris__tv_from_json(json_array_get(pair, 1));
      if ((rc = iris__tv_to_string(r, &k, &ks)) || (rc = iris__tv_to_string(r, &v, &vs))) {
        iris_buf_cleanup(&b);
        return rc;
      }
      append_query_pair(&b, i == 0, ks.s, ks.n, vs.s, vs.n);
    }
    return take(r, &b, out, 0);
  }
  if ((rc = iris__tv_to_string(r, in, &s))) {
    iris_buf_cleanup(&b);
    return rc;
  }
  latch(iris_url_append_quoted(&b, s.s, s.n, "/", 0));
  return take(r, &b, out, 0);
}

/* ---- striptags: markupsafe's Markup.striptags() ------------------------------------------ */

static int cmp_entity(const void *key, const void *e) {
  return strcmp((const char *)key, ((const struct tmpl_entity *)e)->name);
}

/* The value of the named reference name[0, n) (HTML5 lists some without ';'); NULL. */
static const char *entity(const char *name, size_t n) {
  char key[40];
  const struct tmpl_entity *e;
  if (n == 0 || n >= sizeof key)
    return NULL;
  memcpy(key, name, n);
  key[n] = '\0';
  e = bsearch(key, iris__tmpl_entities, iris__tmpl_nentities, sizeof *e, cmp_entity);
  return e ? e->value : NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* A numeric reference's text, as html.unescape replaces it. */
static void charref(struct iris_buf *b, uint64_t num) {
  size_t i;
  for (i = 0; i < iris__tmpl_ninvalid_charrefs; i++)
    if (iris__tmpl_invalid_charrefs[i].num == num) {
      latch(iris_buf_appends(b, iris__tmpl_invalid_charrefs[i].value));
      return;
    }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    latch(put_cp(b, 0xFFFD));
    return;
  }
  {
    uint32_t c = (uint32_t)num;
    if (bsearch(&c, iris__tmpl_invalid_codepoints, iris__tmpl_ninvalid_codepoints, sizeof c,
                cmp_u32))
      return;
    latch(put_cp(b, c));
  }
}

/*
 * Python's html.unescape(s) appended to b: every match of &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|
 * [^\t\n\f <&#;]{1,32};?) replaced — numbers by their character (with HTML's
 * replacements), names by the entity, or by the longest entity its prefix names (2 or more
 * characters), the rest kept.
 */
static void html_unescape(struct iris_buf *b, const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const char *amp = memchr(s + i, '&', n - i);
    size_t p;
    if (!amp) {
      latch(iris_buf_append(b, s + i, n - i));
      return;
    }
    latch(iris_buf_append(b, s + i, (size_t)(amp - (s + i))));
    p = (size_t)(amp - s) + 1;
    if (p < n && s[p] == '#') {
      int hex = p + 1 < n && (s[p + 1] == 'x' || s[p + 1] == 'X');
      size_t d = p + 1 + (size_t)hex, e = d;
      uint64_t num = 0;
      while (e < n && (hex ? isxdigit((unsigned char)s[e]) : isdigit((unsigned char)s[e]))) {
        unsigned v = isdigit((unsigned char)s[e])
                         ? (unsigned)(s[e] - '0')
                         : (unsigned)(tolower((unsigned char)s[e]) - 'a' + 10);
        num = num > 0x10FFFFu ? num : num * (hex ? 16 : 10) + v;
        e++;
      }
      if (e > d) {
        charref(b, num);
        i = e < n && s[e] == ';' ? e + 1 : e;
        continue;
      }
      latch(iris_buf_appendc(b, '&')); /* '#' may not start a name */
      i = p;
      continue;
    }
    {
      /* a name: up to 32 characters none of \t \n \f space < & # ; */
      size_t e = p, cps = 0, ascii_end = p, ascii_cps = 0, full;
      const char *val;
      while (e < n && cps < 32) {
        char c = s[e];
        uint32_t cp;
        if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
            c == ';')
          break;
        e += iris__utf8_get(s, n, e, &cp);
        cps++;
        if (ascii_end == e - 1 && cp < 0x80) {
          ascii_end = e;
          ascii_cps = cps;
        }
      }
      if (cps == 0) {
        latch(iris_buf_appendc(b, '&'));
        i = p;
        continue;
      }
      full = e < n && s[e] == ';' ? e + 1 : e;
      if ((val = entity(s + p, full - p))) {
        latch(iris_buf_appends(b, val));
        i = full;
        continue;
      }
      {
        /* the longest prefix (at least 2 characters, shorter than the match) that names an
         * entity; entity names are ASCII, so only the ASCII start can */
        size_t match_cps = cps + (full > e), x, found = 0;
        for (x = match_cps - 1; x >= 2 && !found; x--)
          if (x <= ascii_cps && (val = entity(s + p, x)))
            found = x;
        if (found) {
          latch(iris_buf_appends(b, val));
          latch(iris_buf_append(b, s + p + found, full - p - found));
        } else {
          latch(iris_buf_appendc(b, '&'));
          latch(iris_buf_append(b, s + p, full - p));
        }
        i = full;
      }
    }
  }
}

/* striptags: str(value) without comments (<!-- -->) and tags (<…>) — an unclosed one ends
 * the stripping — with runs of whitespace made one space and HTML entities unescaped. */
static int do_striptags(struct rctx *r, const struct tv *in, struct tv *out) {
  struct iris_buf kept, joined, b;
  struct tv s = iris__tv_str("", 0);
  size_t pos = 0, i;
  int rc, any = 0;
  if (in->t != TV_UNDEF && (rc = iris__tv_to_string(r, in, &s)))
    return rc;
  iris_buf_init(&kept, 0);
  iris_buf_init(&joined, 0);
  iris_buf_init(&b, 0);
  for (;;) {
    const char *lt = pos < s.n ? memchr(s.s + pos, '<', s.n - pos) : NULL;
    size_t start, end;
    if (!lt)
      break;
    start = (size_t)(lt - s.s);
    if (s.n - start >= 4 && memcmp(lt, "<!--", 4) == 0) {
      const char *close = NULL;
      size_t k;
      for (k = start + 4; k + 3 <= s.n && !close; k++)
        if (memcmp(s.s + k, "-->", 3) == 0)
          close = s.s + k;
      if (!close)
        break;
      end = (size_t)(close - s.s) + 3;
    } else {
      const char *gt = memchr(lt, '>', s.n - start);
      if (!gt)
        break;
      end = (size_t)(gt - s.s) + 1;
    }
    latch(iris_buf_append(&kept, s.s + pos, start - pos));
    pos = end;
    any = 1;
  }
  if (any)
    latch(iris_buf_append(&kept, s.s + pos, s.n - pos));
  else
    latch(iris_buf_append(&kept, s.s, s.n));
  /* " ".join(value.split()) */
  for (i = 0; i < iris_buf_len(&kept);) {
    uint32_t c;
    size_t len = iris__utf8_get(iris_buf_ptr(&kept), iris_buf_len(&kept), i, &c), st;
    if (cp_space(c)) {
      i += len;
      continue;
    }
    st = i;
    while (i < iris_buf_len(&kept)) {
      len = iris__utf8_get(iris_buf_ptr(&kept), iris_buf_len(&kept), i, &c);
      if (cp_space(c))
        break;
      i += len;
    }
    if (iris_buf_len(&joined))
      latch(iris_buf_appendc(&joined, ' '));
    latch(iris_buf_append(&joined, iris_buf_ptr(&kept) + st, i - st));
  }
  if ((rc = iris_buf_rc(&kept)) || (rc = iris_buf_rc(&joined))) {
    iris_buf_cleanup(&kept);
    iris_buf_cleanup(&joined);
    return iris_err_set(r->err, rc, "template: out of memory");
  }
  if (iris_buf_len(&joined))
    html_unescape(&b, iris_buf_ptr(&joined), iris_buf_len(&joined));
  iris_buf_cleanup(&kept);
  iris_buf_cleanup(&joined);
  return take(r, &b, out, 0);
}

/* wordcount: the runs of \w characters (letters, digits, numbers, '_') in str(value). */
static int do_wordcount(struct rctx *r, const struct tv *in, struct tv *out) {
  struct tv s = iris__tv_str("", 0);
  size_t i = 0;
  int64_t words = 0;
  int rc, inword = 0;
  if (in->t != TV_UNDEF && (rc = iris__tv_to_string(r, in, &s)))
    return rc;
  while (i < s.n) {
    uint32_t c;
    int w;
    i += iris__utf8_get(s.s, s.n, i, &c);
    w = iris__uc_is_word(c);
    words += w && !inword;
    inword = w;
  }
  *out = iris__tv_int(words);
  return IRIS_OK;
}

/* Jinja's format filter: str(value) (Markup kept) % args, or % kwargs as a dict. */
static int do_format(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  struct tv fmt = iris__tv_str("", 0), args;
  json_t *j;
  size_t i;
  int rc;
  if (a->npos && a->nkw)
    return iris__tmpl_fail(r, "can't handle positional and keyword arguments at the same time");
  if (in->t != TV_UNDEF && (rc = iris__tv_to_string(r, in, &fmt)))
    return rc;
  fmt.safe = in->safe;
  if (!(j = iris__tv_keep(r, a->nkw ? json_object() : json_array())))
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  for (i = 0; i < a->npos + a->nkw; i++) {
    json_t *v;
    const struct tv *x = i < a->npos ? &a->pos[i] : &a->kw[i - a->npos];
    if ((rc = iris__tv_to_json(r, x, &v)) ||
        (rc = a->nkw ? iris__tmpl_setkey(r, j, a->kwname[i - a->npos], v)
                     : iris__tmpl_append(r, j, v)))
      return rc;
  }
  if (!a->nkw && (rc = iris__tmpl_view_add(r, j, VIEW_TUPLE, 0, 0, 0)))
    return rc;
  args = iris__tv_from_json(j);
  return iris__tmpl_percent(r, &fmt, &args, out);
}

int iris__tmpl_filter(struct rctx *r, const char *name, const struct tv *in, const struct fargs *a,
                      struct tv *out) {
  int rc;
  if (iris__tmpl_seq_filter_known(name))
    return iris__tmpl_seq_filter(r, name, in, a, out);
  if (strcmp(name, "default") == 0 || strcmp(name, "d") == 0) {
    static const char *const kw[] = {"default_value", "boolean", NULL};
    const struct tv *dv = arg(a, 0, "default_value"), *bv = arg(a, 1, "boolean");
    if ((rc = check_args(r, name, a, 2, kw)))
      return rc;
    if (in->t == TV_UNDEF || (bv && iris__tmpl_truthy(r, bv) && !iris__tmpl_truthy(r, in)))
      *out = dv ? *dv : iris__tv_str("", 0);
    else
      *out = *in;
    return IRIS_OK;
  }
  if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0 ||
      strcmp(name, "capitalize") == 0 || strcmp(name, "title") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    return change_case(r, in,
                       name[0] == 'u'   ? UPPER
                       : name[0] == 'l' ? LOWER
                       : name[0] == 'c' ? CAPITALIZE
                                        : TITLE,
                       out);
  }
  if (strcmp(name, "trim") == 0) {
    static const char *const kw[] = {"chars", NULL};
    if ((rc = check_args(r, name, a, 1, kw)))
      return rc;
    return do_trim(r, in, arg(a, 0, "chars"), out);
  }
  if (strcmp(name, "replace") == 0)
    return do_replace(r, in, a, out);
  if (strcmp(name, "truncate") == 0)
    return do_truncate(r, in, a, out);
  if ((strcmp(name, "length") == 0 || strcmp(name, "count") == 0 || strcmp(name, "last") == 0) &&
      in->t == TV_LIST && r->nviews && iris__tmpl_view_find(r, in->j) &&
      iris__tmpl_view_find(r, in->j)->kind == VIEW_ITER)
    return iris__tmpl_fail(r, "a generator has no %s()",
                           name[0] == 'l' && name[1] == 'a' ? "reversed" : "len");
  if (strcmp(name, "length") == 0 || strcmp(name, "count") == 0) {
    long n = iris__tv_len(in);
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    if (n < 0)
      return iris__tmpl_fail(r, "object of type '%s' has no len()", iris__tv_type_name(in));
    *out = iris__tv_int(n);
    return IRIS_OK;
  }
  if (strcmp(name, "join") == 0)
    return do_join(r, in, a, out);
  if (strcmp(name, "first") == 0 || strcmp(name, "last") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    return first_last(r, in, name[0] == 'l', out);
  }
  if (strcmp(name, "round") == 0)
    return do_round(r, in, a, out);
  if ((strcmp(name, "int") == 0 || strcmp(name, "float") == 0 || strcmp(name, "indent") == 0 ||
       strcmp(name, "wordwrap") == 0) &&
      in->t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined", in->s ? in->s : "value");
  if (strcmp(name, "int") == 0)
    return do_int(r, in, a, out);
  if (strcmp(name, "float") == 0)
    return do_float(r, in, a, out);
  if (strcmp(name, "string") == 0) {
    int safe = in->safe;
    if ((rc = check_args(r, name, a, 0, NULL)) || (rc = iris__tv_to_string(r, in, out)))
      return rc;
    out->safe = safe;
    return IRIS_OK;
  }
  if (strcmp(name, "tojson") == 0)
    return do_tojson(r, in, a, out);
  if (strcmp(name, "e") == 0 || strcmp(name, "escape") == 0) {
    struct tv s;
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    if (in->safe) {
      *out = *in;
      return IRIS_OK;
    }
    if ((rc = iris__tv_to_string(r, in, &s)))
      return rc;
    return iris__tmpl_escape(r, &s, out);
  }
  if (strcmp(name, "safe") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)) || (rc = iris__tv_to_string(r, in, out)))
      return rc;
    out->safe = 1;
    return IRIS_OK;
  }
  if ((strcmp(name, "indent") == 0 || strcmp(name, "wordwrap") == 0) && in->t != TV_STR)
    /* Jinja appends to or splits the value as a string: anything else is an error there */
    return iris__tmpl_fail(r, "%s() needs a string, got %s", name, iris__tv_type_name(in));
  if (strcmp(name, "indent") == 0)
    return do_indent(r, in, a, out);
  if (strcmp(name, "wordwrap") == 0)
    return do_wordwrap(r, in, a, out);
  if (strcmp(name, "urlencode") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    return do_urlencode(r, in, out);
  }
  if (strcmp(name, "format") == 0)
    return do_format(r, in, a, out);
  if (strcmp(name, "striptags") == 0 || strcmp(name, "wordcount") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    return name[0] == 's' ? do_striptags(r, in, out) : do_wordcount(r, in, out);
  }
  if (strcmp(name, "abs") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    if (in->t == TV_INT || in->t == TV_BOOL) {
      if (in->i == INT64_MIN)
        return iris__tmpl_fail(r, "integer overflow");
      *out = iris__tv_int(in->i < 0 ? -in->i : in->i);
    } else if (in->t == TV_FLOAT) {
      *out = iris__tv_float(fabs(in->f));
    } else {
      return iris__tmpl_fail(r, "bad operand type for abs(): '%s'", iris__tv_type_name(in));
    }
    return IRIS_OK;
  }
  return iris__tmpl_fail(r, "unknown filter '%s'", name);
}

int iris__tmpl_test(struct rctx *r, const char *name, const struct tv *in, const struct fargs *a,
                    int *out) {
  /* Jinja calls the test with the arguments given: one too many is a TypeError there */
  int cmp = comparison_test(name);
  size_t nargs = cmp || strcmp(name, "divisibleby") == 0 || strcmp(name, "in") == 0 ? 1 : 0;
  if (a->npos + a->nkw > nargs)
    return iris__tmpl_fail(r, "test '%s' takes %zu argument%s, %zu given", name, nargs,
                           nargs == 1 ? "" : "s", a->npos + a->nkw);
  if (cmp) {
    struct tv res;
    int rc;
    if (a->npos + a->nkw < 1)
      return iris__tmpl_fail(r, "test '%s' missing 1 required positional argument", name);
    if ((rc = iris__tmpl_compare_op(r, cmp, in, a->npos ? &a->pos[0] : &a->kw[0], &res)))
      return rc;
    *out = iris__tmpl_truthy(r, &res);
    return IRIS_OK;
  }
  if (strcmp(name, "escaped") == 0) { /* has __html__: Markup */
    *out = in->t == TV_STR && in->safe;
    return IRIS_OK;
  }
  if (strcmp(name, "callable") == 0) {
    /* macros, Jinja's Undefined and its loop object (both have __call__) */
    const struct tmpl_view *w = in->t == TV_DICT && r->nviews ? iris__tmpl_view_find(r, in->j)
                                                              : NULL;
    *out = in->t == TV_MACRO || in->t == TV_UNDEF || (w && w->kind == VIEW_LOOP);
    return IRIS_OK;
  }
  if (strcmp(name, "defined") == 0)
    *out = in->t != TV_UNDEF;
  else if (strcmp(name, "undefined") == 0)
    *out = in->t == TV_UNDEF;
  else if (strcmp(name, "none") == 0)
    *out = in->t == TV_NONE;
  else if (strcmp(name, "string") == 0)
    *out = in->t == TV_STR;
  else if (strcmp(name, "number") == 0)
    *out = in->t == TV_INT || in->t == TV_FLOAT || in->t == TV_BOOL;
  else if (strcmp(name, "integer") == 0)
    *out = in->t == TV_INT;
  else if (strcmp(name, "float") == 0)
    *out = in->t == TV_FLOAT;
  else if (strcmp(name, "boolean") == 0)
    *out = in->t == TV_BOOL;
  else if (strcmp(name, "true") == 0)
    *out = in->t == TV_BOOL && in->i;
  else if (strcmp(name, "false") == 0)
    *out = in->t == TV_BOOL && !in->i;
  else if (strcmp(name, "mapping") == 0)
    *out = in->t == TV_DICT;
  else if (strcmp(name, "sequence") == 0)
    /* len() and [] both work: Undefined has them, dict views and ranges... views do not */
    *out = in->t == TV_STR || in->t == TV_DICT || in->t == TV_UNDEF ||
           (in->t == TV_LIST && !(r->nviews && iris__tmpl_view_find(r, in->j) &&
                                  iris__tmpl_view_find(r, in->j)->kind != VIEW_RANGE &&
                                  iris__tmpl_view_find(r, in->j)->kind != VIEW_TUPLE));
  else if (strcmp(name, "iterable") == 0)
    *out = in->t == TV_STR || in->t == TV_LIST || in->t == TV_DICT || in->t == TV_UNDEF;
  else if (strcmp(name, "odd") == 0 || strcmp(name, "even") == 0 ||
           strcmp(name, "divisibleby") == 0) {
    /* Jinja: value % 2 == 1, value % 2 == 0, value % num == 0 — Python's % on any numbers */
    const struct tv *n = arg(a, 0, "num");
    struct tv two = iris__tv_int(2), m, want = iris__tv_int(name[0] == 'o');
    int failed;
    if (name[0] == 'd' && !n)
      return iris__tmpl_fail(r, "divisibleby() missing 1 required positional argument: 'num'");
    if ((failed = iris__tv_binop(r, OP_MOD, in, name[0] == 'd' ? n : &two, &m)))
      return failed;
    *out = iris__tv_equal(&m, &want);
  } else if (strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0) {
    struct tv s;
    size_t i;
    int cased = 0, ok = 1, rc = iris__tv_to_string(r, in, &s);
    if (rc)
      return rc;
    /* Python's islower() / isupper(): some cased character, and none of the other case
     * (nor title case) */
    for (i = 0; i < s.n;) {
      uint32_t c;
      size_t len = iris__utf8_get(s.s, s.n, i, &c);
      int lo = iris__uc_is_lower(c), up = iris__uc_is_upper(c), ti = iris__uc_is_title(c);
      if (ti || (name[0] == 'l' ? up : lo))
        ok = 0;
      else if (name[0] == 'l' ? lo : up)
        cased = 1;
      i += len;
    }
    *out = cased && ok;
  } else if (strcmp(name, "in") == 0) {
    const struct tv *seq = arg(a, 0, "seq");
    if (!seq)
      return iris__tmpl_fail(r, "test 'in' needs a sequence");
    return iris__tv_contains(r, seq, in, out);
  } else {
    return iris__tmpl_fail(r, "unknown test '%s'", name);
  }
  return IRIS_OK;
}

/* ---- method calls ------------------------------------------------------------------------- */

static const char *const methods[] = {"items",  "keys",       "values",     "get",      "upper",
                                      "lower",  "capitalize", "title",      "strip",    "lstrip",
                                      "rstrip", "split",      "startswith", "endswith", "replace",
                                      "count",  "find",       "join",       "format",   "cycle",
                                      NULL};

int iris__tmpl_method_known(const char *name) { return in_list(methods, name); }

/* Python's str.title(): a character after a cased one is lower-cased, any other title-cased. */
static int py_title(struct rctx *r, const struct tv *in, struct tv *out) {
  struct iris_buf b;
  size_t i = 0;
  int prev_cased = 0;
  iris_buf_init(&b, 0);
  while (i < in->n) {
    uint32_t c;
    size_t len = iris__utf8_get(in->s, in->n, i, &c);
    if (prev_cased && c == 0x3A3)
      latch(put_cp(&b, iris__uc_final_sigma(in->s, 0, in->n, i) ? 0x3C2 : 0x3C3));
    else
      latch(iris__uc_append_case(&b, c, prev_cased ? 'l' : 't'));
    prev_cased = iris__uc_is_cased(c);
    i += len;
  }
  return take(r, &b, out, 0);
}

/* Python's str.split(sep, maxsplit): on runs of whitespace without sep. A new owned list. */
static int py_split(struct rctx *r, const struct tv *in, const struct tv *sep, int64_t maxsplit,
                    struct tv *out) {
  json_t *l = iris__tv_keep(r, json_array());
  size_t i = 0;
  int rc;
  if (!l)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  if (sep && sep->n == 0)
    return iris__tmpl_fail(r, "empty separator");
  if (sep) {
    size_t start = 0;
    for (i = 0; i + sep->n <= in->n && maxsplit != 0;) {
      if (memcmp(in->s + i, sep->s, sep->n) == 0) {
        if ((rc = iris__tmpl_append(r, l, json_stringn_nocheck(in->s + start, i - start))))
          return rc;
        i += sep->n;
        start = i;
        maxsplit--;
      } else {
        i++;
      }
    }
    if ((rc = iris__tmpl_append(r, l, json_stringn_nocheck(in->s + start, in->n - start))))
      return rc;
  } else {
    while (i < in->n) {
      uint32_t c;
      size_t len, start;
      /* skip whitespace */
      while (i < in->n) {
        len = iris__utf8_get(in->s, in->n, i, &c);
        if (!cp_space(c))
          break;
        i += len;
      }
      if (i >= in->n)
        break;
      start = i;
      if (maxsplit == 0) {
        /* the rest, trailing whitespace included, as Python keeps it */
        if ((rc = iris__tmpl_append(r, l, json_stringn_nocheck(in->s + start, in->n - start))))
          return rc;
        break;
      }
      while (i < in->n) {
        len = iris__utf8_get(in->s, in->n, i, &c);
        if (cp_space(c))
          break;
        i += len;
      }
      if ((rc = iris__tmpl_append(r, l, json_stringn_nocheck(in->s + start, i - start))))
        return rc;
      if (maxsplit > 0)
        maxsplit--;
    }
  }
  *out = iris__tv_from_json(l);
  return IRIS_OK;
}

/* Occurrences of sub in s, not overlapping (Python's str.count); empty sub: len + 1. */
static int64_t py_count(const struct tv *s, const struct tv *sub) {
  size_t i = 0;
  int64_t n = 0;
  if (sub->n == 0)
    return (int64_t)iris__utf8_count(s->s, s->n) + 1;
  while (i + sub->n <= s->n) {
    if (memcmp(s->s + i, sub->s, sub->n) == 0) {
      n++;
      i += sub->n;
    } else {
      i++;
    }
  }
  return n;
}

static int want_str(struct rctx *r, const struct tv *v, const char *what) {
  if (!v || v->t != TV_STR)
    return iris__tmpl_fail(r, "%s must be a string, not %s", what,
                           v ? iris__tv_type_name(v) : "nothing");
  return IRIS_OK;
}

int iris__tmpl_method(struct rctx *r, const char *name, const struct tv *obj,
                      const struct fargs *a, struct tv *out) {
  size_t nargs = a->npos + a->nkw;
  int rc;
  if (obj->t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined", obj->s ? obj->s : "value");
  if (obj->t == TV_STR && strcmp(name, "format") == 0)
    return iris__tmpl_str_format(r, obj, a, out);
  if (a->nkw && strcmp(name, "split") != 0)
    return iris__tmpl_fail(r, "%s() takes no keyword arguments", name);
  if (obj->t == TV_DICT && strcmp(name, "get") == 0) {
    char *k;
    json_t *v;
    if (nargs < 1 || nargs > 2)
      return iris__tmpl_fail(r, "get expected 1 or 2 arguments, got %zu", nargs);
    if (a->pos[0].t == TV_LIST || a->pos[0].t == TV_DICT)
      return iris__tmpl_fail(r, "unhashable type: '%s'", iris__tv_type_name(&a->pos[0]));
    v = NULL;
    if (a->pos[0].t == TV_STR) {
      if (!(k = iris__tmpl_scratch(r, a->pos[0].n)))
        return r->err->rc;
      memcpy(k, a->pos[0].s, a->pos[0].n);
      v = strlen(k) == a->pos[0].n ? json_object_get(obj->j, k) : NULL;
    }
    *out = v ? iris__tv_from_json_r(r, v) : nargs == 2 ? a->pos[1] : iris__tv_none();
    return IRIS_OK;
  }
  if (obj->t == TV_LIST && strcmp(name, "count") == 0) {
    size_t i;
    int64_t n = 0;
    if (nargs != 1)
      return iris__tmpl_fail(r, "list.count() takes exactly one argument (%zu given)", nargs);
    for (i = 0; i < json_array_size(obj->j); i++) {
      struct tv x = iris__tv_from_json(json_array_get(obj->j, i));
      n += iris__tv_equal(&x, &a->pos[0]);
    }
    *out = iris__tv_int(n);
    return IRIS_OK;
  }
  if (obj->t != TV_STR || strcmp(name, "get") == 0 || strcmp(name, "items") == 0 ||
      strcmp(name, "keys") == 0 || strcmp(name, "values") == 0)
    return iris__tmpl_fail(r, "'%s' object has no attribute '%s'", iris__tv_type_name(obj), name);
  /* Markup's methods (markupsafe) return Markup where str's return a string, and escape the
   * text they insert: replace's new text, join's items */
  if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0 ||
      strcmp(name, "capitalize") == 0 || strcmp(name, "title") == 0) {
    if (nargs)
      return iris__tmpl_fail(r, "str.%s() takes no arguments (%zu given)", name, nargs);
    if (name[0] == 't') {
      rc = py_title(r, obj, out);
      out->safe = obj->safe;
      return rc;
    }
    return change_case(r, obj, name[0] == 'u' ? UPPER : name[0] == 'l' ? LOWER : CAPITALIZE, out);
  }
  if (strcmp(name, "strip") == 0 || strcmp(name, "lstrip") == 0 || strcmp(name, "rstrip") == 0) {
    if (nargs > 1)
      return iris__tmpl_fail(r, "%s expected at most 1 argument, got %zu", name, nargs);
    if (nargs && a->pos[0].t != TV_NONE && (rc = want_str(r, &a->pos[0], "strip arg")))
      return rc;
    return do_strip(r, obj, nargs ? &a->pos[0] : NULL,
                    name[0] == 'l'   ? 1
                    : name[0] == 'r' ? 2
                                     : 3,
                    out);
  }
  if (strcmp(name, "split") == 0) {
    static const char *const kw[] = {"sep", "maxsplit", NULL};
    const struct tv *sep = arg(a, 0, "sep"), *mx = arg(a, 1, "maxsplit");
    int64_t maxsplit = -1;
    if ((rc = check_args(r, "split", a, 2, kw)))
      return rc;
    if (sep && sep->t == TV_NONE)
      sep = NULL;
    if (sep && (rc = want_str(r, sep, "split() separator")))
      return rc;
    if (mx && (rc = want_int(r, mx, "split() maxsplit", &maxsplit)))
      return rc;
    if ((rc = py_split(r, obj, sep, maxsplit, out)) || !obj->safe)
      return rc;
    {
      size_t i;
      for (i = 0; i < json_array_size(out->j) && rc == IRIS_OK; i++)
        rc = iris__tmpl_view_add(r, json_array_get(out->j, i), VIEW_MARKUP, 0, 0, 0);
    }
    return rc;
  }
  if (strcmp(name, "startswith") == 0 || strcmp(name, "endswith") == 0) {
    const struct tv *x = nargs ? &a->pos[0] : NULL;
    if (nargs != 1)
      return iris__tmpl_fail(r, "%s() with %zu arguments is not supported by this engine", name,
                             nargs);
    if ((rc = want_str(r, x, name)))
      return rc;
    *out = iris__tv_bool(x->n <= obj->n &&
                         memcmp(obj->s + (name[0] == 's' ? 0 : obj->n - x->n), x->s, x->n) == 0);
    return IRIS_OK;
  }
  if (strcmp(name, "replace") == 0) {
    struct fargs esc;
    if (nargs < 2 || nargs > 3)
      return iris__tmpl_fail(r, "replace expected 2 or 3 arguments, got %zu", nargs);
    if ((rc = want_str(r, &a->pos[0], "replace() argument 1")) ||
        (!obj->safe && (rc = want_str(r, &a->pos[1], "replace() argument 2"))))
      return rc;
    if (nargs == 3 && a->pos[2].t != TV_INT && a->pos[2].t != TV_BOOL)
      return iris__tmpl_fail(r, "replace() count must be an integer");
    if (!obj->safe)
      return do_replace(r, obj, a, out);
    esc = *a;
    if (!a->pos[1].safe) {
      struct tv text, *pos = (struct tv *)iris__tmpl_scratch(r, nargs * sizeof *pos);
      if (!pos)
        return r->err->rc;
      memcpy(pos, a->pos, a->npos * sizeof *pos);
      if ((rc = iris__tv_to_string(r, &a->pos[1], &text)) ||
          (rc = iris__tmpl_escape(r, &text, &pos[1])))
        return rc;
      esc.pos = pos;
    }
    if ((rc = do_replace(r, obj, &esc, out)) == IRIS_OK)
      out->safe = 1;
    return rc;
  }
  if (strcmp(name, "count") == 0 || strcmp(name, "find") == 0) {
    if (nargs != 1)
      return iris__tmpl_fail(r, "%s() with %zu arguments is not supported by this engine", name,
                             nargs);
    if ((rc = want_str(r, &a->pos[0], name)))
      return rc;
    if (name[0] == 'c') {
      *out = iris__tv_int(py_count(obj, &a->pos[0]));
    } else {
      size_t i;
      int64_t at = -1;
      for (i = 0; i + a->pos[0].n <= obj->n; i++)
        if (memcmp(obj->s + i, a->pos[0].s, a->pos[0].n) == 0) {
          at = (int64_t)iris__utf8_count(obj->s, i);
          break;
        }
      *out = iris__tv_int(at);
    }
    return IRIS_OK;
  }
  if (strcmp(name, "join") == 0) {
    struct iris_buf b;
    json_t *items;
    size_t i;
    if (nargs != 1)
      return iris__tmpl_fail(r, "str.join() takes exactly one argument (%zu given)", nargs);
    if (a->pos[0].t != TV_LIST && a->pos[0].t != TV_DICT && a->pos[0].t != TV_STR &&
        a->pos[0].t != TV_UNDEF)
      return iris__tmpl_fail(r, "can only join an iterable");
    if ((rc = iris__tmpl_iter(r, &a->pos[0], &items)))
      return rc;
    iris_buf_init(&b, 0);
    for (i = 0; i < json_array_size(items); i++) {
      struct tv x = iris__tv_from_json_r(r, json_array_get(items, i)), text = x;
      if (i)
        latch(iris_buf_append(&b, obj->s, obj->n));
      if (obj->safe && !x.safe) {
        /* Markup.join escapes each item (anything, as its str()) */
        struct tv plain;
        if ((rc = iris__tv_to_string(r, &x, &plain)) ||
            (rc = iris__tmpl_escape(r, &plain, &text))) {
          iris_buf_cleanup(&b);
          return rc;
        }
      } else if (x.t != TV_STR) {
        iris_buf_cleanup(&b);
        return iris__tmpl_fail(r, "sequence item %zu: expected str instance, %s found", i,
                               x.t == TV_NONE ? "NoneType" : iris__tv_type_name(&x));
      }
      latch(iris_buf_append(&b, text.s, text.n));
    }
    return take(r, &b, out, obj->safe);
  }
  return iris__tmpl_fail(r, "'str' object has no attribute '%s'", name);
}

/* ---- filters over sequences ------------------------------------------------------------- */

static const char *const seq_filters[] = {"list",   "sort",           "sum",        "max",
                                          "min",    "unique",         "reverse",    "map",
                                          "select", "reject",         "selectattr", "rejectattr",
                                          "center", "filesizeformat", "dictsort",   "batch",
                                          "slice",  "groupby",        NULL};

int iris__tmpl_seq_filter_known(const char *name) { return in_list(seq_filters, name); }

int iris__tmpl_iter(struct rctx *r, const struct tv *in, json_t **items) {
  int rc;
  if ((rc = iris__tmpl_check_iter(r, in)))
    return rc;
  if (in->t == TV_LIST) {
    *items = in->j;
    return IRIS_OK;
  }
  if (in->t != TV_DICT && in->t != TV_STR && in->t != TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' object is not iterable", iris__tv_type_name(in));
  *items = iris__tv_keep(r, json_array());
  if (!*items)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  if (in->t == TV_DICT) {
    const char *k;
    json_t *v;
    json_object_foreach(in->j, k, v) {
      if ((rc = iris__tmpl_append(r, *items, json_string(k))))
        return rc;
    }
  } else if (in->t == TV_STR) {
    size_t i = 0;
    while (i < in->n) {
      uint32_t c;
      size_t len = iris__utf8_get(in->s, in->n, i, &c);
      if ((rc = iris__tmpl_append(r, *items, json_stringn_nocheck(in->s + i, len))))
        return rc;
      i += len;
    }
  }
  return iris__tmpl_steps(r, (long)json_array_size(*items));
}

/* Jinja's make_attrgetter: "a.b.0" read part by part with Jinja's getitem (a part of ASCII
 * digits is an integer index), an integer attribute as one index; Undefined when missing. */
static int attr_get(struct rctx *r, const struct tv *attr, json_t *item, struct tv *out) {
  struct tv cur = iris__tv_from_json_r(r, item);
  size_t i = 0;
  if (!attr || attr->t == TV_NONE) {
    *out = cur;
    return IRIS_OK;
  }
  if (attr->t == TV_INT || attr->t == TV_BOOL)
    return iris__tmpl_getitem(r, &cur, attr, "attribute", out);
  if (attr->t != TV_STR)
    return iris__tmpl_fail(r, "attribute must be a string or an integer");
  while (i <= attr->n) {
    size_t z = i;
    int digits = 1, rc;
    struct tv key, next;
    while (z < attr->n && attr->s[z] != '.') {
      digits = digits && isdigit((unsigned char)attr->s[z]);
      z++;
    }
    if (z > i && digits) {
      int64_t idx = 0;
      size_t k;
      for (k = i; k < z; k++)
        idx = idx > (INT64_MAX - 9) / 10 ? INT64_MAX : idx * 10 + (attr->s[k] - '0');
      key = iris__tv_int(idx);
    } else {
      key = iris__tv_str(attr->s + i, z - i);
    }
    if ((rc = iris__tmpl_getitem(r, &cur, &key, "attribute", &next)))
      return rc;
    cur = next;
    i = z + 1;
  }
  *out = cur;
  return IRIS_OK;
}

/* Jinja's ignore_case: strings lower-cased for comparing. */
static int sort_key(struct rctx *r, const struct tv *v, int case_sensitive, struct tv *out) {
  if (v->t == TV_STR && !case_sensitive)
    return change_case(r, v, LOWER, out);
  *out = *v;
  return IRIS_OK;
}

struct keyed {
  struct tv key;
  json_t *item;
};

/* Python's key < key as list.sort asks it; listkey: keys are one-item lists, which compare equal
 * before any ordering is asked. */
static int key_lt(struct rctx *r, const struct keyed *a, const struct keyed *b, int listkey,
                  int *lt) {
  int c = 0, rc;
  *lt = 0;
  if (listkey && iris__tv_equal(&a->key, &b->key))
    return IRIS_OK;
  if ((rc = iris__tv_compare(r, &a->key, &b->key, &c)))
    return rc;
  *lt = c == -1;
  return IRIS_OK;
}

static void reverse_keyed(struct keyed *v, size_t n) {
  size_t i;
  for (i = 0; i < n / 2; i++) {
    struct keyed t = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = t;
  }
}

/* Stable merge sort by key with Python's ordering; a failed comparison fails the render. */
static int merge_sort(struct rctx *r, struct keyed *v, struct keyed *tmp, size_t n, int reverse,
                      int listkey) {
  size_t mid = n / 2, i, j, k;
  int rc;
  if (n < 2)
    return IRIS_OK;
  if ((rc = merge_sort(r, v, tmp, mid, reverse, listkey)) ||
      (rc = merge_sort(r, v + mid, tmp, n - mid, reverse, listkey)))
    return rc;
  for (i = 0, j = mid, k = 0; i < mid && j < n; k++) {
    int lt = 0;
    /* take the right one only when it is strictly first: equal items keep their order (sort's
     * keys are one-item lists in Jinja, make_multi_attrgetter: see key_lt) */
    if ((rc = reverse ? key_lt(r, &v[i], &v[j], listkey, &lt)
                      : key_lt(r, &v[j], &v[i], listkey, &lt)))
      return rc;
    if (lt)
      tmp[k] = v[j++];
    else
      tmp[k] = v[i++];
  }
  while (i < mid)
    tmp[k++] = v[i++];
  while (j < n)
    tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof *v);
  return iris__tmpl_steps(r, (long)n);
}

/* CPython's list.sort on fewer than 64 items, step for step: the leading run (a strictly
 * descending one reversed), then each further item inserted by binary search; a reverse sort
 * reverses the list before and after. Every stable sort agrees on a consistent order; NaN keys
 * make the order inconsistent, and then only the same comparisons give the same list. */
#define SMALL_SORT 64
static int small_sort(struct rctx *r, struct keyed *v, size_t n, int reverse, int listkey) {
  size_t run = 2, i;
  int lt = 0, rc;
  if (n < 2)
    return IRIS_OK;
  if (reverse)
    reverse_keyed(v, n);
  if ((rc = key_lt(r, &v[1], &v[0], listkey, &lt)))
    return rc;
  if (lt) {
    for (; run < n; run++) {
      if ((rc = key_lt(r, &v[run], &v[run - 1], listkey, &lt)))
        return rc;
      if (!lt)
        break;
    }
    reverse_keyed(v, run);
  } else {
    for (; run < n; run++) {
      if ((rc = key_lt(r, &v[run], &v[run - 1], listkey, &lt)))
        return rc;
      if (lt)
        break;
    }
  }
  for (i = run; i < n; i++) {
    struct keyed pivot = v[i];
    size_t lo = 0, hi = i;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if ((rc = key_lt(r, &pivot, &v[mid], listkey, &lt)))
        return rc;
      if (lt)
        hi = mid;
      else
        lo = mid + 1;
    }
    memmove(v + lo + 1, v + lo, (i - lo) * sizeof *v);
    v[lo] = pivot;
  }
  if (reverse)
    reverse_keyed(v, n);
  return iris__tmpl_steps(r, (long)(n * 4));
}

/* Is v NaN, or a sequence holding NaN (the keys whose order is not consistent)? */
static int tv_has_nan(const struct tv *v) {
  size_t i;
  if (v->t == TV_FLOAT)
    return isnan(v->f);
  if (v->t != TV_LIST)
    return 0;
  for (i = 0; i < json_array_size(v->j); i++) {
    struct tv x = iris__tv_from_json(json_array_get(v->j, i));
    if (tv_has_nan(&x))
      return 1;
  }
  return 0;
}

/* sort / dictsort / max / min: the items with their keys (a new owned array), sorted when
 * order is set. */
static int sorted_items(struct rctx *r, json_t *items, const struct tv *attr, int by_value,
                        int case_sensitive, int reverse, int listkey, int order,
                        struct keyed **out) {
  size_t n = json_array_size(items), i;
  struct keyed *v, *tmp;
  int rc;
  if ((rc = iris__tmpl_charge(r, 2 * n * sizeof *v)))
    return rc;
  v = iris_calloc(n ? n : 1, sizeof *v);
  tmp = iris_calloc(n ? n : 1, sizeof *tmp);
  if (!v || !tmp) {
    iris_free(v);
    iris_free(tmp);
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  }
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    struct tv k;
    v[i].item = json_array_get(items, i);
    if (by_value >= 0) /* dictsort: a (key, value) pair */
      k = iris__tv_from_json_r(r, json_array_get(v[i].item, (size_t)by_value));
    else if ((rc = attr_get(r, attr, v[i].item, &k)))
      break;
    rc = sort_key(r, &k, case_sensitive, &v[i].key);
  }
  if (rc == IRIS_OK && order && n >= SMALL_SORT)
    for (i = 0; i < n && rc == IRIS_OK; i++)
      if (tv_has_nan(&v[i].key))
        rc = iris__tmpl_fail(r,
                             "sorting %d or more items with NaN among their keys is not "
                             "supported by this engine",
                             SMALL_SORT);
  if (rc == IRIS_OK && order)
    rc = n < SMALL_SORT ? small_sort(r, v, n, reverse, listkey)
                        : merge_sort(r, v, tmp, n, reverse, listkey);
  iris_free(tmp);
  if (rc) {
    iris_free(v);
    return rc;
  }
  *out = v;
  return IRIS_OK;
}

/* A new owned list registered as a one-pass iterator (map, select, reverse…): Jinja returns a
 * generator there, which prints as an address. */
static int new_iter(struct rctx *r, json_t **l) {
  *l = iris__tv_keep(r, json_array());
  if (!*l)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  return iris__tmpl_view_add(r, *l, VIEW_ITER, 0, 0, 0);
}

static int tv_append(struct rctx *r, json_t *l, const struct tv *v) {
  json_t *j;
  int rc = iris__tv_to_json(r, v, &j);
  return rc ? rc : iris__tmpl_append(r, l, j);
}

/* Python's str.center(width): CPython puts the odd space on the left when width is odd. */
static int do_center(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"width", NULL};
  const struct tv *wv = arg(a, 0, "width");
  int64_t width = 80, len, marg, left, k;
  struct iris_buf b;
  struct tv s;
  int rc = check_args(r, "center", a, 1, kw);
  if (rc || (wv && (rc = want_int(r, wv, "center() width", &width))) ||
      (rc = iris__tv_to_string(r, in, &s)))
    return rc;
  len = (int64_t)iris__utf8_count(s.s, s.n);
  if (width <= len) {
    *out = s;
    return IRIS_OK;
  }
  if (width > (int64_t)(r->lim.max_memory))
    return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                           r->lim.max_memory);
  marg = width - len;
  left = marg / 2 + (marg & width & 1);
  iris_buf_init(&b, 0);
  for (k = 0; k < left; k++)
    latch(iris_buf_appendc(&b, ' '));
  latch(iris_buf_append(&b, s.s, s.n));
  for (k = 0; k < marg - left; k++)
    latch(iris_buf_appendc(&b, ' '));
  return take(r, &b, out, in->safe); /* Markup.center */
}

static int do_filesizeformat(struct rctx *r, const struct tv *in, const struct fargs *a,
                             struct tv *out) {
  static const char *const kw[] = {"binary", NULL};
  static const char *const dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char *const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  const struct tv *bv = arg(a, 0, "binary");
  int binary = bv && iris__tmpl_truthy(r, bv), i;
  double bytes, base = binary ? 1024.0 : 1000.0, unit = 0;
  char num[64], buf[96];
  int rc = check_args(r, "filesizeformat", a, 1, kw);
  if (rc)
    return rc;
  if (in->t == TV_INT || in->t == TV_BOOL)
    bytes = (double)in->i;
  else if (in->t == TV_FLOAT)
    bytes = in->f;
  else if (in->t == TV_STR && parse_float(in->s, in->n, &bytes))
    ;
  else
    return iris__tmpl_fail(r, "filesizeformat(): could not convert %s to float",
                           iris__tv_type_name(in));
  if (bytes == 1) {
    snprintf(buf, sizeof buf, "1 Byte");
  } else if (bytes < base) {
    struct tv t = iris__tv_float(bytes), iv;
    struct fargs none = {0};
    if ((rc = do_int(r, &t, &none, &iv)))
      return rc;
    snprintf(buf, sizeof buf, "%lld Bytes", (long long)iv.i);
  } else {
    for (i = 0; i < 8; i++) {
      char e[16];
      if (binary) {
        unit = ldexp(1.0, 10 * (i + 2));
      } else {
        snprintf(e, sizeof e, "1e%d", 3 * (i + 2));
        unit = strtod(e, NULL);
      }
      if (bytes < unit)
        break;
    }
    if (i == 8)
      i = 7;
    snprintf(num, sizeof num, "%.1f", base * bytes / unit);
    snprintf(buf, sizeof buf, "%s %s", num, binary ? bin[i] : dec[i]);
  }
  {
    char *s = iris__tmpl_scratch(r, strlen(buf));
    if (!s)
      return r->err->rc;
    memcpy(s, buf, strlen(buf));
    *out = iris__tv_str(s, strlen(buf));
  }
  return IRIS_OK;
}

/* Jinja's make_attrgetter with a default: the attribute, the default in place of an undefined
 * one (unless the default is None), lower-cased when it is a string and `fold` is set. */
static int group_key(struct rctx *r, const struct tv *attr, const struct tv *dflt, int fold,
                     json_t *item, struct tv *out) {
  int rc = attr_get(r, attr, item, out);
  if (rc)
    return rc;
  if (dflt && dflt->t != TV_NONE && out->t == TV_UNDEF)
    *out = *dflt;
  return fold ? sort_key(r, out, 0, out) : IRIS_OK;
}

/*
 * groupby(attribute, default=None, case_sensitive=False): the items sorted by the attribute
 * (strings compared lower-cased unless case_sensitive) and grouped where consecutive keys are
 * equal, as a list of (grouper, list) named tuples; the grouper is the first item's own
 * attribute, not its lower-cased key.
 */
static int do_groupby(struct rctx *r, const struct tv *in, const struct fargs *a, struct tv *out) {
  static const char *const kw[] = {"attribute", "default", "case_sensitive", NULL};
  const struct tv *at = arg(a, 0, "attribute"), *dflt = arg(a, 1, "default"),
                  *cs = arg(a, 2, "case_sensitive");
  int fold = !(cs && iris__tmpl_truthy(r, cs)), rc;
  json_t *items, *l;
  struct keyed *v = NULL, *tmp = NULL;
  size_t n, i, start;
  if ((rc = check_args(r, "groupby", a, 3, kw)))
    return rc;
  if (!at)
    return iris__tmpl_fail(r, "groupby() missing 1 required positional argument: 'attribute'");
  if ((rc = iris__tmpl_iter(r, in, &items)))
    return rc;
  n = json_array_size(items);
  if ((rc = iris__tmpl_charge(r, 2 * n * sizeof *v)))
    return rc;
  v = iris_calloc(n ? n : 1, sizeof *v);
  tmp = iris_calloc(n ? n : 1, sizeof *tmp);
  if (!v || !tmp) {
    rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    goto out;
  }
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    v[i].item = json_array_get(items, i);
    rc = group_key(r, at, dflt, fold, v[i].item, &v[i].key);
  }
  if (rc || (rc = merge_sort(r, v, tmp, n, 0, 0)))
    goto out;
  if (!(l = iris__tv_keep(r, json_array()))) {
    rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    goto out;
  }
  for (start = 0; start < n && rc == IRIS_OK; start = i) {
    json_t *group = json_array(), *members = json_array(), *gj = NULL;
    struct tv grouper = v[start].key;
    for (i = start; i < n && iris__tv_equal(&v[i].key, &v[start].key); i++)
      if ((rc = iris__tmpl_append(r, members, json_incref(v[i].item))))
        break;
    if (rc == IRIS_OK && fold)
      rc = group_key(r, at, dflt, 0, v[start].item, &grouper);
    if (rc == IRIS_OK)
      rc = iris__tv_to_json(r, &grouper, &gj);
    if (rc == IRIS_OK && (!group || !members || json_array_append_new(group, gj) ||
                          json_array_append(group, members)))
      rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    else if (rc)
      json_decref(gj);
    json_decref(members);
    if (rc) {
      json_decref(group);
      break;
    }
    if ((rc = iris__tmpl_append(r, l, group)) ||
        (rc = iris__tmpl_view_add(r, group, VIEW_TUPLE, 0, 0, 0)))
      break;
    r->views[r->nviews - 1].group = 1;
  }
  if (rc == IRIS_OK)
    *out = iris__tv_from_json(l);
out:
  iris_free(v);
  iris_free(tmp);
  return rc;
}

static int seq_filter_eager(struct rctx *r, const char *name, const struct tv *in,
                            const struct fargs *a, struct tv *out) {
  json_t *items = NULL, *l;
  size_t i, n;
  int rc;
  if (strcmp(name, "center") == 0)
    return do_center(r, in, a, out);
  if (strcmp(name, "groupby") == 0)
    return do_groupby(r, in, a, out);
  if (strcmp(name, "filesizeformat") == 0)
    return do_filesizeformat(r, in, a, out);
  if (strcmp(name, "reverse") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    if (in->t == TV_STR) {
      struct iris_buf b;
      size_t z = in->n;
      iris_buf_init(&b, 0);
      while (z > 0) {
        size_t st = z - 1;
        while (st > 0 && ((unsigned char)in->s[st] & 0xC0) == 0x80)
          st--;
        latch(iris_buf_append(&b, in->s + st, z - st));
        z = st;
      }
      return take(r, &b, out, in->safe);
    }
    if ((rc = iris__tmpl_iter(r, in, &items)))
      return rc;
    if (in->t == TV_LIST && r->nviews && iris__tmpl_view_find(r, in->j) &&
        iris__tmpl_view_find(r, in->j)->kind == VIEW_ITER) {
      /* reversed() refuses a generator: Jinja reverses list(value), a plain list */
      if (!(l = iris__tv_keep(r, json_array())))
        return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    } else if ((rc = new_iter(r, &l))) {
      return rc;
    }
    for (n = json_array_size(items); n > 0; n--)
      if ((rc = iris__tmpl_append(r, l, json_incref(json_array_get(items, n - 1)))))
        return rc;
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (!iris__tmpl_truthy(r, in) && in->t != TV_LIST &&
      (strcmp(name, "map") == 0 || strncmp(name, "select", 6) == 0 ||
       strncmp(name, "reject", 6) == 0)) {
    /* Jinja's map/select/reject start with `if value:` — a false value yields nothing */
    json_t *empty;
    if ((rc = new_iter(r, &empty)))
      return rc;
    *out = iris__tv_from_json(empty);
    return IRIS_OK;
  }
  if ((rc = iris__tmpl_iter(r, in, &items)))
    return rc;
  n = json_array_size(items);
  if (strcmp(name, "list") == 0) {
    if ((rc = check_args(r, name, a, 0, NULL)))
      return rc;
    l = iris__tv_keep(r, json_array());
    if (!l || json_array_extend(l, items))
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    if ((rc = iris__tmpl_charge(r, 16 * n)))
      return rc;
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (strcmp(name, "sort") == 0 || strcmp(name, "max") == 0 || strcmp(name, "min") == 0 ||
      strcmp(name, "dictsort") == 0) {
    static const char *const kw_sort[] = {"reverse", "case_sensitive", "attribute", NULL};
    static const char *const kw_mm[] = {"case_sensitive", "attribute", NULL};
    static const char *const kw_ds[] = {"case_sensitive", "by", "reverse", NULL};
    int is_sort = name[1] == 'o', is_ds = name[0] == 'd';
    const struct tv *rv = is_sort ? arg(a, 0, "reverse") : is_ds ? arg(a, 2, "reverse") : NULL;
    const struct tv *cs = arg(a, is_sort ? 1 : 0, "case_sensitive");
    const struct tv *at = is_ds ? NULL : arg(a, is_sort ? 2 : 1, "attribute");
    const struct tv *by = is_ds ? arg(a, 1, "by") : NULL;
    struct keyed *v = NULL;
    int by_value = -1;
    if ((rc = check_args(r, name, a, is_sort || is_ds ? 3 : 2,
                         is_sort ? kw_sort
                         : is_ds ? kw_ds
                                 : kw_mm)))
      return rc;
    if (at && at->t == TV_STR && memchr(at->s, ',', at->n))
      return iris__tmpl_fail(r, "%s() of several attributes is not supported by this engine", name);
    if (is_ds) {
      const char *k;
      json_t *x;
      if (in->t != TV_DICT)
        return iris__tmpl_fail(r, "dictsort(): '%s' object has no attribute 'items'",
                               iris__tv_type_name(in));
      if (by && (by->t != TV_STR || (!(by->n == 3 && !memcmp(by->s, "key", 3)) &&
                                     !(by->n == 5 && !memcmp(by->s, "value", 5)))))
        return iris__tmpl_fail(r, "You can only sort by either \"key\" or \"value\"");
      by_value = by && by->n == 5 ? 1 : 0;
      items = iris__tv_keep(r, json_array());
      if (!items)
        return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
      json_object_foreach(in->j, k, x) {
        json_t *pair = json_pack("[sO]", k, x);
        if ((rc = iris__tmpl_append(r, items, pair)) ||
            (rc = iris__tmpl_view_add(r, pair, VIEW_TUPLE, 0, 0, 0)))
          return rc;
      }
      n = json_array_size(items);
    }
    if (!is_sort && !is_ds && n == 0) {
      *out = iris__tv_undef("No aggregated item, sequence was empty.");
      return IRIS_OK;
    }
    if ((rc = sorted_items(r, items, at, by_value, cs && iris__tmpl_truthy(r, cs),
                           rv && iris__tmpl_truthy(r, rv), is_sort, is_sort || is_ds, &v)))
      return rc;
    if (!is_sort && !is_ds) {
      /* Python's max()/min(): an item replaces the pick only when its key is strictly greater
       * (smaller), so the first of the largest (smallest) wins and NaN keys are never picked
       * after the first item */
      size_t pick = 0;
      int want = name[1] == 'a' ? 1 : -1;
      for (i = 1; i < n; i++) {
        int c = 0;
        if ((rc = iris__tv_compare(r, &v[i].key, &v[pick].key, &c)))
          break;
        if (c == want)
          pick = i;
      }
      if (rc == IRIS_OK)
        rc = iris__tmpl_steps(r, (long)n);
      if (rc == IRIS_OK)
        *out = iris__tv_from_json_r(r, v[pick].item);
      iris_free(v);
      return rc;
    }
    l = iris__tv_keep(r, json_array());
    for (i = 0; l && i < n && rc == IRIS_OK; i++)
      rc = iris__tmpl_append(r, l, json_incref(v[i].item));
    iris_free(v);
    if (!l)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    if (rc)
      return rc;
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (strcmp(name, "sum") == 0) {
    static const char *const kw[] = {"attribute", "start", NULL};
    const struct tv *at = arg(a, 0, "attribute"), *st = arg(a, 1, "start");
    struct tv acc = st ? *st : iris__tv_int(0);
    if ((rc = check_args(r, name, a, 2, kw)))
      return rc;
    if (acc.t == TV_STR)
      return iris__tmpl_fail(r, "sum() can't sum strings [use ''.join(seq) instead]");
    for (i = 0; i < n; i++) {
      struct tv x, y;
      if ((rc = attr_get(r, at, json_array_get(items, i), &x)) ||
          (rc = iris__tv_binop(r, OP_ADD, &acc, &x, &y)))
        return rc;
      acc = y;
    }
    *out = acc;
    return IRIS_OK;
  }
  if (strcmp(name, "unique") == 0) {
    static const char *const kw[] = {"case_sensitive", "attribute", NULL};
    const struct tv *cs = arg(a, 0, "case_sensitive"), *at = arg(a, 1, "attribute");
    json_t *keys;
    if ((rc = check_args(r, name, a, 2, kw)) || (rc = new_iter(r, &l)))
      return rc;
    keys = iris__tv_keep(r, json_array());
    if (!keys)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (i = 0; i < n; i++) {
      struct tv x, k;
      size_t j;
      int seen = 0;
      if ((rc = attr_get(r, at, json_array_get(items, i), &x)) ||
          (rc = sort_key(r, &x, cs && iris__tmpl_truthy(r, cs), &k)))
        return rc;
      if (!iris__tv_hashable(r, &k))
        return iris__tmpl_fail(r, "unhashable type: '%s'", iris__tv_type_name(&k));
      if ((rc = iris__tmpl_steps(r, (long)json_array_size(keys))))
        return rc;
      for (j = 0; j < json_array_size(keys) && !seen; j++) {
        struct tv y = iris__tv_from_json(json_array_get(keys, j));
        seen = iris__tv_equal(&k, &y);
      }
      if (!seen && ((rc = tv_append(r, keys, &k)) ||
                    (rc = iris__tmpl_append(r, l, json_incref(json_array_get(items, i))))))
        return rc;
    }
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (strcmp(name, "map") == 0) {
    struct fargs rest = *a;
    const struct tv *at = NULL, *dflt = NULL;
    size_t k;
    if ((rc = new_iter(r, &l)))
      return rc;
    for (k = 0; k < a->nkw; k++) {
      if (strcmp(a->kwname[k], "attribute") == 0)
        at = &a->kw[k];
      else if (strcmp(a->kwname[k], "default") == 0)
        dflt = &a->kw[k];
    }
    if (!at && (a->npos == 0 || a->pos[0].t != TV_STR))
      return iris__tmpl_fail(r, "map requires a filter argument");
    if (!at) {
      char *fname = iris__tmpl_scratch(r, a->pos[0].n);
      if (!fname)
        return r->err->rc;
      memcpy(fname, a->pos[0].s, a->pos[0].n);
      if (!iris__tmpl_filter_known(fname))
        return iris__tmpl_fail(r, "map() with the filter '%s' is not supported by this engine",
                               fname);
      rest.pos++;
      rest.npos--;
      for (i = 0; i < n; i++) {
        struct tv x = iris__tv_from_json_r(r, json_array_get(items, i)), y;
        if ((rc = iris__tmpl_filter(r, fname, &x, &rest, &y)) || (rc = tv_append(r, l, &y)))
          return rc;
      }
    } else {
      for (i = 0; i < n; i++) {
        struct tv y;
        if ((rc = attr_get(r, at, json_array_get(items, i), &y)))
          return rc;
        if (y.t == TV_UNDEF && dflt)
          y = *dflt;
        if ((rc = tv_append(r, l, &y)))
          return rc;
      }
    }
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (strcmp(name, "select") == 0 || strcmp(name, "reject") == 0 ||
      strcmp(name, "selectattr") == 0 || strcmp(name, "rejectattr") == 0) {
    int by_attr = strlen(name) > 6, keep_true = name[0] == 's';
    struct fargs rest = *a;
    const struct tv *at = NULL;
    char *tname = NULL;
    if (a->nkw)
      return iris__tmpl_fail(r, "%s() takes no keyword arguments", name);
    if (by_attr) {
      if (a->npos == 0)
        return iris__tmpl_fail(r, "Missing parameter for attribute name");
      at = &a->pos[0];
    }
    if ((size_t)by_attr < a->npos) {
      const struct tv *tn = &a->pos[by_attr];
      if (tn->t != TV_STR)
        return iris__tmpl_fail(r, "%s(): the test name must be a string", name);
      tname = iris__tmpl_scratch(r, tn->n);
      if (!tname)
        return r->err->rc;
      memcpy(tname, tn->s, tn->n);
      if (!iris__tmpl_test_known(tname))
        return iris__tmpl_fail(r, "%s() with the test '%s' is not supported by this engine", name,
                               tname);
      rest.pos += by_attr + 1;
      rest.npos -= (size_t)by_attr + 1;
    } else {
      rest.npos = 0;
    }
    if ((rc = new_iter(r, &l)))
      return rc;
    for (i = 0; i < n; i++) {
      struct tv x;
      int res;
      if ((rc = attr_get(r, at, json_array_get(items, i), &x)))
        return rc;
      if (tname) {
        if ((rc = iris__tmpl_test(r, tname, &x, &rest, &res)))
          return rc;
      } else {
        res = iris__tmpl_truthy(r, &x);
      }
      if (res == keep_true && (rc = iris__tmpl_append(r, l, json_incref(json_array_get(items, i)))))
        return rc;
    }
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  if (strcmp(name, "batch") == 0 || strcmp(name, "slice") == 0) {
    static const char *const kw_b[] = {"linecount", "fill_with", NULL};
    static const char *const kw_s[] = {"slices", "fill_with", NULL};
    int is_batch = name[0] == 'b';
    const struct tv *cv = arg(a, 0, is_batch ? "linecount" : "slices"),
                    *fill = arg(a, 1, "fill_with");
    int64_t count = 0;
    if ((rc = check_args(r, name, a, 2, is_batch ? kw_b : kw_s)))
      return rc;
    if (!cv)
      return iris__tmpl_fail(r, "%s() missing its count", name);
    if ((rc = want_int(r, cv, is_batch ? "batch() linecount" : "slice() slices", &count)))
      return rc;
    if (count <= 0)
      return iris__tmpl_fail(r, "%s() needs a positive count", name);
    if ((rc = new_iter(r, &l)))
      return rc;
    if (is_batch) {
      /* lists of linecount items; the last one padded with fill_with when given */
      json_t *cur = NULL;
      for (i = 0; i < n; i++) {
        if (!cur && !(cur = json_array()))
          return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
        if ((rc = iris__tmpl_append(r, cur, json_incref(json_array_get(items, i))))) {
          json_decref(cur);
          return rc;
        }
        if ((int64_t)json_array_size(cur) == count) {
          if ((rc = iris__tmpl_append(r, l, cur)))
            return rc;
          cur = NULL;
        }
      }
      if (cur) {
        while (fill && (int64_t)json_array_size(cur) < count) {
          if ((rc = tv_append(r, cur, fill))) {
            json_decref(cur);
            return rc;
          }
        }
        if ((rc = iris__tmpl_append(r, l, cur)))
          return rc;
      }
    } else {
      /* Jinja's do_slice: count columns, the first `extra` one item longer */
      int64_t per = (int64_t)n / count, extra = (int64_t)n % count, offset = 0, k;
      for (k = 0; k < count; k++) {
        int64_t start = offset + k * per, end = offset + (k + 1) * per, j;
        json_t *col = json_array();
        if (!col)
          return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
        if (k < extra)
          offset++;
        end = offset + (k + 1) * per;
        for (j = start; j < end; j++)
          if ((rc = iris__tmpl_append(r, col, json_incref(json_array_get(items, (size_t)j))))) {
            json_decref(col);
            return rc;
          }
        if (fill && k >= extra && (rc = tv_append(r, col, fill))) {
          json_decref(col);
          return rc;
        }
        if ((rc = iris__tmpl_append(r, l, col)))
          return rc;
      }
    }
    *out = iris__tv_from_json(l);
    return IRIS_OK;
  }
  return iris__tmpl_fail(r, "unknown filter '%s'", name);
}

/* map, select, reject, selectattr, rejectattr, unique, batch, slice and reverse (of anything but
 * a string) return generators in Jinja: always true, and failing only when first used. */
static int is_generator_filter(const char *name, const struct tv *in) {
  static const char *const gens[] = {"map",    "select", "reject", "selectattr", "rejectattr",
                                     "unique", "batch",  "slice",  NULL};
  (void)in;
  return in_list(gens, name);
}

int iris__tmpl_seq_filter(struct rctx *r, const char *name, const struct tv *in,
                          const struct fargs *a, struct tv *out) {
  int rc;
  const struct tmpl_view *w;
  if (!is_generator_filter(name, in)) {
    /* reverse fails at once (Jinja tries reversed() and list()) and makes an iterator — but
     * of a generator, which reversed() refuses, the list that list() made */
    rc = seq_filter_eager(r, name, in, a, out);
    if (rc == IRIS_OK && strcmp(name, "reverse") == 0 && out->t == TV_LIST &&
        (w = iris__tmpl_view_find(r, out->j)) && w->kind == VIEW_ITER)
      out->view = VIEW_ITER;
    return rc;
  }
  if (in->t == TV_LIST && r->nviews && (w = iris__tmpl_view_find(r, in->j)) && w->broken) {
    /* a generator over a broken generator fails where the first would */
    const char *msg = w->broken;
    json_t *l;
    if ((rc = new_iter(r, &l)))
      return rc;
    r->views[r->nviews - 1].broken = msg;
    *out = iris__tv_from_json(l);
    out->view = VIEW_ITER;
    return IRIS_OK;
  }
  rc = seq_filter_eager(r, name, in, a, out);
  if (rc == IRIS_ETEMPLATE && !strstr(r->err->msg, "budget")) {
    /* keep the error for the generator's first use */
    size_t n = strlen(r->err->msg);
    char *msg = iris__tmpl_scratch(r, n);
    json_t *l;
    const char *colon;
    if (!msg)
      return r->err->rc;
    colon = strstr(r->err->msg, ": ");
    memcpy(msg, colon ? colon + 2 : r->err->msg,
           colon ? n - (size_t)(colon + 2 - r->err->msg) + 1 : n + 1);
    iris_err_clear(r->err);
    if ((rc = new_iter(r, &l)))
      return rc;
    r->views[r->nviews - 1].broken = msg;
    *out = iris__tv_from_json(l);
    out->view = VIEW_ITER;
    return IRIS_OK;
  }
  if (rc == IRIS_OK && out->t == TV_LIST)
    out->view = VIEW_ITER;
  return rc;
}
