/*
 * tmpl_format.c — Python's string formatting as Jinja templates reach it:
 *
 *   - printf-style `fmt % args` (the % operator on a string, and the `format` filter, which
 *     is `fmt % args` or `fmt % kwargs`), as CPython's PyUnicode_Format does it;
 *   - `str.format()`, through Jinja's sandboxed string.Formatter: fields numbered or named,
 *     with .attr and [item] read by Jinja's getattr/getitem, !s/!r/!a conversions, and format
 *     specs that may themselves hold one level of fields;
 *   - the format-spec mini-language format() applies to str, int, bool and float
 *     ([[fill]align][sign][z][#][0][width][,|_][.precision][type]).
 *
 * Markup (a safe string) formats as markupsafe does: what is inserted into it is escaped,
 * the result is Markup. Floats are printed with the C library's correctly rounded printf,
 * which gives Python's digits for e, f and g; repr-style output uses the engine's own
 * shortest round-trip formatter. Called by tmpl_value.c (%), tmpl_filters.c (the format
 * filter, str.format). Everything is built in an iris_buf and moved to the render's scratch
 * arena; no fixed buffer holds data of unbounded size.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"

/* ---- shared helpers --------------------------------------------------------------------- */

/* Appends to an iris_buf latch their first failure, checked once with iris_buf_rc(). */
static void latch(int rc) { (void)rc; }

/* A buffer that may grow to what is left of the render's memory budget. */
static void buf_init(struct rctx *r, struct iris_buf *b) {
  size_t used = r->json_mem + r->scratch.bytes;
  iris_buf_init(b, r->lim.max_memory > used ? r->lim.max_memory - used : 1);
}

/* Finish: the text of b as a scratch string (safe when it is Markup). Frees b. */
static int finish(struct rctx *r, struct iris_buf *b, int safe, struct tv *out) {
  char *s;
  int rc = iris_buf_rc(b);
  if (rc) {
    iris_buf_cleanup(b);
    if (rc == IRIS_ETOOBIG)
      return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                             r->lim.max_memory);
    return iris_err_set(r->err, rc, "template '%s' line %d: out of memory", r->t->name, r->line);
  }
  if (!(s = iris__tmpl_scratch(r, iris_buf_len(b)))) {
    iris_buf_cleanup(b);
    return r->err->rc ? (int)r->err->rc : IRIS_ENOMEM;
  }
  memcpy(s, iris_buf_ptr(b), iris_buf_len(b));
  *out = iris__tv_str(s, iris_buf_len(b));
  out->safe = safe;
  iris_buf_cleanup(b);
  return IRIS_OK;
}

/* A failure inside a formatting routine: frees b and returns rc. */
static int failb(struct rctx *r, struct iris_buf *b, int rc) {
  (void)r;
  iris_buf_cleanup(b);
  return rc;
}

/* The error of a whole formatting: a buffer that hit its cap (what is left of the budget)
 * or an allocation failure becomes the render's error when nothing raised one yet. */
static int raised(struct rctx *r, int rc) {
  if (r->err->rc)
    return r->err->rc;
  if (rc == IRIS_ETOOBIG)
    return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                           r->lim.max_memory);
  return iris_err_set(r->err, rc, "template '%s' line %d: out of memory", r->t->name, r->line);
}

/* The widths and fills of this file are bounded by the render's memory budget before any
 * of them is written. */
static int check_width(struct rctx *r, int64_t width) {
  if (width > 0 && (uint64_t)width > r->lim.max_memory)
    return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                           r->lim.max_memory);
  return IRIS_OK;
}

static int repeat_text(struct iris_buf *b, const char *s, size_t n, int64_t times) {
  int rc = IRIS_OK;
  for (; times > 0 && rc == IRIS_OK; times--)
    rc = iris_buf_append(b, s, n);
  return rc;
}

/* str(v) / repr(v) / ascii(v) of a value, appended to b ('s', 'r', 'a'). */
static int append_conv(struct rctx *r, const struct tv *v, int conv, struct iris_buf *b) {
  struct iris_buf t;
  size_t i;
  int rc;
  if (conv == 's')
    return iris__tv_append_str(r, v, b);
  if (conv == 'r')
    return iris__tv_append_repr(r, v, b);
  /* ascii(): repr with every non-ASCII character escaped as Python's ascii() does */
  buf_init(r, &t);
  if ((rc = iris__tv_append_repr(r, v, &t))) {
    iris_buf_cleanup(&t);
    return rc;
  }
  for (i = 0; i < iris_buf_len(&t) && rc == IRIS_OK;) {
    uint32_t c;
    size_t len = iris__utf8_get(iris_buf_ptr(&t), iris_buf_len(&t), i, &c);
    rc = c < 0x80 ? iris_buf_appendc(b, (char)c) : iris__tmpl_append_py_escape(b, c);
    i += len;
  }
  iris_buf_cleanup(&t);
  return rc;
}

/* What one value formats to, escaped when it goes into Markup (markupsafe's escape of
 * str(value); a Markup value stays as it is). */
static int append_escaped(struct rctx *r, const char *s, size_t n, int escape, int safe,
                          struct iris_buf *b) {
  struct tv in, out;
  int rc;
  if (!escape || safe)
    return iris_buf_append(b, s, n);
  in = iris__tv_str(s, n);
  if ((rc = iris__tmpl_escape(r, &in, &out)))
    return rc;
  return iris_buf_append(b, out.s, out.n);
}

/* Digits of the magnitude of i in base (2, 8, 10, 16), into d (room for 65). */
static size_t int_digits(int64_t i, int base, int upper, char *d) {
  uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
  const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[65];
  size_t n = 0, k;
  do {
    tmp[n++] = set[u % (uint64_t)base];
    u /= (uint64_t)base;
  } while (u);
  for (k = 0; k < n; k++)
    d[k] = tmp[n - 1 - k];
  return n;
}

/* snprintf of f in C's %e %E %f %g %G (with # for alt); F prints as f (non-finite values
 * never get here). */
static int print_float(char *p, size_t size, int type, int alt, int prec, double f) {
  switch (type) {
  case 'e': return alt ? snprintf(p, size, "%#.*e", prec, f) : snprintf(p, size, "%.*e", prec, f);
  case 'E': return alt ? snprintf(p, size, "%#.*E", prec, f) : snprintf(p, size, "%.*E", prec, f);
  case 'g': return alt ? snprintf(p, size, "%#.*g", prec, f) : snprintf(p, size, "%.*g", prec, f);
  case 'G': return alt ? snprintf(p, size, "%#.*G", prec, f) : snprintf(p, size, "%.*G", prec, f);
  default: return alt ? snprintf(p, size, "%#.*f", prec, f) : snprintf(p, size, "%.*f", prec, f);
  }
}

/*
 * A float as PyOS_double_to_string prints it: type e/E/f/F/g/G with a precision, or 'r'
 * (repr, the shortest round trip); `alt` keeps the point and trailing zeros (#), `dot0` adds
 * ".0" to a 'g' result that has neither point nor exponent, `nonneg0` drops the sign of a
 * result that rounds to zero (z). Infinity and nan print as inf/nan (INF/NAN for E, F, G);
 * nan never has a sign. The text is appended to b.
 */
static int float_text(struct rctx *r, double f, int type, int64_t prec, int alt, int dot0,
                      int nonneg0, struct iris_buf *b) {
  size_t start = iris_buf_len(b), i;
  int upper = type == 'E' || type == 'F' || type == 'G', rc;
  if (isnan(f))
    return iris_buf_appends(b, upper ? "NAN" : "nan");
  if (isinf(f))
    return iris_buf_appends(b, f < 0 ? (upper ? "-INF" : "-inf") : (upper ? "INF" : "inf"));
  if (type == 'r') {
    char num[64];
    iris__tmpl_format_float(f, num, sizeof num);
    rc = iris_buf_appends(b, num);
  } else {
    char *p;
    int n;
    if ((rc = check_width(r, prec)))
      return rc;
    if (prec > 100000000)
      return iris__tmpl_fail(r, "precision too big");
    n = print_float(NULL, 0, type, alt, (int)prec, f);
    if (n < 0)
      return iris__tmpl_fail(r, "cannot format the number");
    if (!(p = iris_malloc((size_t)n + 1)))
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    print_float(p, (size_t)n + 1, type, alt, (int)prec, f);
    rc = iris_buf_append(b, p, (size_t)n);
    iris_free(p);
    if (rc == IRIS_OK && dot0 && !memchr(iris_buf_ptr(b) + start, '.', iris_buf_len(b) - start) &&
        !memchr(iris_buf_ptr(b) + start, 'e', iris_buf_len(b) - start))
      rc = iris_buf_appends(b, ".0");
  }
  if (rc == IRIS_OK && nonneg0 && iris_buf_ptr(b)[start] == '-') {
    /* a negative result that rounds to zero loses its sign */
    int zero = 1;
    for (i = start + 1; i < iris_buf_len(b) && zero; i++) {
      char c = iris_buf_ptr(b)[i];
      if (c == 'e' || c == 'E')
        break;
      zero = c == '0' || c == '.';
    }
    if (zero) {
      memmove(b->ptr + start, b->ptr + start + 1, iris_buf_len(b) - start - 1);
      b->len--;
      b->ptr[b->len] = '\0';
    }
  }
  return rc;
}

/* ---- the format-spec mini-language (format(value, spec)) -------------------------------- */

struct spec {
  char fill[4]; /* UTF-8 of the fill character */
  size_t nfill;
  int fill_given, align_given;
  char align; /* '<' '>' '=' '^' */
  char sign;  /* 0 '+' '-' ' ' */
  int z, alt;
  int64_t width;    /* -1: none */
  char sep;         /* 0 ',' '_' */
  int group;        /* digits per group: 3, or 4 for '_' with b/o/x/X */
  int64_t prec;     /* -1: none */
  uint32_t type;    /* 0: none */
  const char *what; /* the value's type name, for errors */
};

static int is_align(uint32_t c) { return c == '<' || c == '>' || c == '=' || c == '^'; }

/* Digits of a width or precision: ASCII digits; another script's digits are refused (Python
 * reads them too). Returns how many were read; -1 after raising. */
static int read_int(struct rctx *r, const char *s, size_t n, size_t *i, int64_t *out) {
  int count = 0;
  *out = 0;
  while (*i < n) {
    uint32_t c;
    size_t len = iris__utf8_get(s, n, *i, &c);
    if (c >= '0' && c <= '9') {
      if (*out > (INT64_MAX - 9) / 10) {
        iris__tmpl_fail(r, "Too many decimal digits in format string");
        return -1;
      }
      *out = *out * 10 + (int64_t)(c - '0');
      count++;
      *i += len;
      continue;
    }
    if (c >= 0x80 && iris__uc_decimal(c) >= 0) {
      iris__tmpl_fail(r, "digits of other scripts in a format specification are not supported "
                         "by this engine");
      return -1;
    }
    break;
  }
  return count;
}

/*
 * Parse a format spec as CPython's parse_internal_render_format_spec does, with the type's
 * default type ('d' for int, 0 for float, 's' for str) and alignment ('>' numbers, '<'
 * strings).
 */
static int parse_spec(struct rctx *r, const char *s, size_t n, uint32_t default_type,
                      char default_align, const char *what, struct spec *sp) {
  size_t i = 0, len0 = 0, len1 = 0;
  uint32_t c0 = 0, c1 = 0;
  int got;
  memset(sp, 0, sizeof *sp);
  sp->fill[0] = ' ';
  sp->nfill = 1;
  sp->align = default_align;
  sp->width = -1;
  sp->prec = -1;
  sp->type = default_type;
  sp->group = 3;
  sp->what = what;
  if (n)
    len0 = iris__utf8_get(s, n, 0, &c0);
  if (len0 < n)
    len1 = iris__utf8_get(s, n, len0, &c1);
  if (len1 && is_align(c1)) {
    memcpy(sp->fill, s, len0);
    sp->nfill = len0;
    sp->align = (char)c1;
    sp->fill_given = sp->align_given = 1;
    i = len0 + len1;
  } else if (len0 && is_align(c0)) {
    sp->align = (char)c0;
    sp->align_given = 1;
    i = len0;
  }
  if (i < n && (s[i] == '+' || s[i] == '-' || s[i] == ' '))
    sp->sign = s[i++];
  if (i < n && s[i] == 'z') {
    sp->z = 1;
    i++;
  }
  if (i < n && s[i] == '#') {
    sp->alt = 1;
    i++;
  }
  if (!sp->fill_given && i < n && s[i] == '0') {
    sp->fill[0] = '0';
    sp->nfill = 1;
    if (!sp->align_given && default_align == '>')
      sp->align = '=';
    i++;
  }
  if ((got = read_int(r, s, n, &i, &sp->width)) < 0)
    return r->err->rc;
  if (got == 0)
    sp->width = -1;
  if (i < n && s[i] == ',') {
    sp->sep = ',';
    i++;
  }
  if (i < n && s[i] == '_') {
    if (sp->sep)
      return iris__tmpl_fail(r, "Cannot specify both ',' and '_'.");
    sp->sep = '_';
    i++;
  }
  if (i < n && s[i] == ',' && sp->sep == '_')
    return iris__tmpl_fail(r, "Cannot specify both ',' and '_'.");
  if (i < n && s[i] == '.') {
    i++;
    if ((got = read_int(r, s, n, &i, &sp->prec)) < 0)
      return r->err->rc;
    if (got == 0)
      return iris__tmpl_fail(r, "Format specifier missing precision");
  }
  if (i < n) {
    uint32_t t;
    size_t len = iris__utf8_get(s, n, i, &t);
    if (i + len < n)
      return iris__tmpl_fail(r, "Invalid format specifier '%.*s' for object of type '%s'", (int)n,
                             s, what);
    sp->type = t;
  }
  if (sp->sep) {
    switch (sp->type) {
    case 'd':
    case 'e':
    case 'f':
    case 'g':
    case 'E':
    case 'G':
    case '%':
    case 'F':
    case 0: break;
    case 'b':
    case 'o':
    case 'x':
    case 'X':
      if (sp->sep == '_') {
        sp->group = 4;
        break;
      }
      /* fall through */
    default:
      if (sp->type < 0x80)
        return iris__tmpl_fail(r, "Cannot specify '%c' with '%c'.", sp->sep, (char)sp->type);
      return iris__tmpl_fail(r, "Cannot specify '%c' with that format code.", sp->sep);
    }
  }
  return IRIS_OK;
}

/* e E f F g G: the float presentations both languages share */
static int is_float_code(uint32_t c) { return c < 0x80 && c && strchr("eEfFgG", (int)c); }

static int unknown_code(struct rctx *r, const struct spec *sp) {
  if (sp->type < 0x80 && sp->type > 0x20)
    return iris__tmpl_fail(r, "Unknown format code '%c' for object of type '%s'", (char)sp->type,
                           sp->what);
  return iris__tmpl_fail(r, "Unknown format code '\\x%x' for object of type '%s'",
                         (unsigned)sp->type, sp->what);
}

/* Padding of `pad` fill characters split by the alignment ('<' all after, '>' all before, '^'
 * half before, '=' after sign and prefix: the caller places it). */
static int put_fill(struct iris_buf *b, const struct spec *sp, int64_t times) {
  return repeat_text(b, sp->fill, sp->nfill, times);
}

/*
 * A number laid out as CPython's calc_number_widths and fill_number do: sign, prefix (0x…),
 * the integer digits grouped by the separator, then `rest` (point, fraction, exponent, %).
 * With fill '0' and '=' alignment the padding zeros count as digits and are grouped too
 * (format(1234, '010,') is 00,001,234).
 */
static int put_number(struct rctx *r, struct iris_buf *b, const struct spec *sp, char sign,
                      const char *prefix, const char *digits, size_t nd, const char *rest,
                      size_t nrest) {
  struct iris_buf g;
  size_t nprefix = strlen(prefix), nsign = sign ? 1 : 0, chars;
  int64_t min_width = 0, total, pad, left = 0, right = 0, mid = 0;
  int rc;
  if ((rc = check_width(r, sp->width)))
    return rc;
  if (sp->nfill == 1 && sp->fill[0] == '0' && sp->align == '=')
    min_width = sp->width - (int64_t)(nsign + nprefix + nrest);
  buf_init(r, &g);
  {
    /* grouped digits, built from the right in reverse */
    int64_t remaining = (int64_t)nd, mw = min_width;
    size_t pos = nd;
    int first = 1, sep = sp->sep != 0, done = nd == 0 && min_width <= 0; /* inf, nan */
    int64_t gsize = sep ? sp->group : INT64_MAX;
    while (!done) {
      int64_t l = gsize, zeros, take, k;
      int64_t want = remaining > mw ? remaining : mw;
      if (want < 1)
        want = 1;
      if (l > want)
        l = want;
      zeros = l - remaining > 0 ? l - remaining : 0;
      take = remaining < l ? (remaining > 0 ? remaining : 0) : l;
      if (!first && sep)
        latch(iris_buf_appendc(&g, sp->sep));
      for (k = 0; k < take; k++)
        latch(iris_buf_appendc(&g, digits[--pos]));
      for (k = 0; k < zeros; k++)
        latch(iris_buf_appendc(&g, '0'));
      first = 0;
      remaining -= take;
      mw -= l;
      if (remaining <= 0 && mw <= 0)
        done = 1;
      else if (sep)
        mw -= 1;
    }
  }
  if ((rc = iris_buf_rc(&g)))
    return failb(r, &g, iris_err_set(r->err, rc, "template: out of memory"));
  chars = iris_buf_len(&g);
  total = (int64_t)(nsign + nprefix + chars + iris__utf8_count(rest, nrest));
  pad = sp->width > total ? sp->width - total : 0;
  switch (sp->align) {
  case '<': right = pad; break;
  case '^':
    left = pad / 2;
    right = pad - left;
    break;
  case '=': mid = pad; break;
  default: left = pad; break;
  }
  latch(put_fill(b, sp, left));
  if (sign)
    latch(iris_buf_appendc(b, sign));
  latch(iris_buf_appends(b, prefix));
  latch(put_fill(b, sp, mid));
  {
    size_t k;
    for (k = chars; k > 0; k--)
      latch(iris_buf_appendc(b, iris_buf_ptr(&g)[k - 1]));
  }
  latch(iris_buf_append(b, rest, nrest));
  latch(put_fill(b, sp, right));
  iris_buf_cleanup(&g);
  return iris_buf_rc(b);
}

/* format(str, spec) */
static int format_string(struct rctx *r, const char *s, size_t n, const struct spec *sp,
                         struct iris_buf *b) {
  size_t len = iris__utf8_count(s, n), cut = n;
  int64_t pad, left = 0, right = 0;
  int rc;
  if (sp->type != 's')
    return unknown_code(r, sp);
  if (sp->sign)
    return iris__tmpl_fail(r, "Sign not allowed in string format specifier");
  if (sp->z)
    return iris__tmpl_fail(r, "Negative zero coercion (z) not allowed in string format specifier");
  if (sp->alt)
    return iris__tmpl_fail(r, "Alternate form (#) not allowed in string format specifier");
  if (sp->align == '=')
    return iris__tmpl_fail(r, "'=' alignment not allowed in string format specifier");
  if ((rc = check_width(r, sp->width)))
    return rc;
  if (sp->prec >= 0 && (uint64_t)sp->prec < len) {
    cut = iris__utf8_offset(s, n, (size_t)sp->prec);
    len = (size_t)sp->prec;
  }
  pad = sp->width > (int64_t)len ? sp->width - (int64_t)len : 0;
  if (sp->align == '>')
    left = pad;
  else if (sp->align == '^')
    left = pad / 2;
  right = pad - left;
  latch(put_fill(b, sp, left));
  latch(iris_buf_append(b, s, cut));
  latch(put_fill(b, sp, right));
  return iris_buf_rc(b);
}

static int format_float_spec(struct rctx *r, double f, struct spec *sp, struct iris_buf *b);
static int format_general(struct rctx *r, double f, const struct spec *sp, struct iris_buf *b);

/* format(int, spec) (bools too: format(True, '>5') is '    1') */
static int format_int_spec(struct rctx *r, int64_t i, struct spec *sp, struct iris_buf *b) {
  char d[72], prefix[3] = "";
  size_t nd;
  char sign = i < 0 ? '-' : sp->sign == '+' ? '+' : sp->sign == ' ' ? ' ' : 0;
  int base = 10, upper = 0;
  if (is_float_code(sp->type) || sp->type == '%')
    return format_float_spec(r, (double)i, sp, b);
  switch (sp->type) {
  case 'b': base = 2; break;
  case 'o': base = 8; break;
  case 'x': base = 16; break;
  case 'X':
    base = 16;
    upper = 1;
    break;
  case 'c':
  case 'd':
  case 'n': break;
  default: return unknown_code(r, sp);
  }
  if (sp->prec >= 0)
    return iris__tmpl_fail(r, "Precision not allowed in integer format specifier");
  if (sp->z)
    return iris__tmpl_fail(r, "Negative zero coercion (z) not allowed in integer format "
                              "specifier");
  if (sp->type == 'c') {
    char u[4];
    int len;
    if (sp->sign)
      return iris__tmpl_fail(r, "Sign not allowed with integer format specifier 'c'");
    if (sp->alt)
      return iris__tmpl_fail(r, "Alternate form (#) not allowed with integer format specifier "
                                "'c'");
    if (i < 0 || i > 0x10FFFF)
      return iris__tmpl_fail(r, "%%c arg not in range(0x110000)");
    if (i >= 0xD800 && i <= 0xDFFF)
      return iris__tmpl_fail(r, "a surrogate character cannot be output (not valid UTF-8)");
    len = iris__utf8_put((uint32_t)i, u);
    return put_number(r, b, sp, 0, "", u, (size_t)len, "", 0);
  }
  if (sp->alt && base != 10) {
    prefix[0] = '0';
    prefix[1] = base == 2 ? 'b' : base == 8 ? 'o' : upper ? 'X' : 'x';
  }
  nd = int_digits(i, base, upper, d);
  return put_number(r, b, sp, sign, prefix, d, nd, "", 0);
}

/* Lay out a float's text (its sign first, if any) by the spec. */
static int layout_float(struct rctx *r, struct iris_buf *t, const struct spec *sp,
                        struct iris_buf *b) {
  const char *s = iris_buf_ptr(t);
  size_t n = iris_buf_len(t), nd = 0, at = 0;
  char sign = 0;
  int rc;
  if (s[0] == '-') {
    sign = '-';
    at = 1;
  } else if (sp->sign == '+' || sp->sign == ' ') {
    sign = sp->sign;
  }
  while (at + nd < n && s[at + nd] >= '0' && s[at + nd] <= '9')
    nd++;
  rc = put_number(r, b, sp, sign, "", s + at, nd, s + at + nd, n - at - nd);
  iris_buf_cleanup(t);
  return rc;
}

/*
 * A float with no type but a precision p: Python's 'g' with at least one digit after the
 * point — and, unlike 'g', exponential already from 10**(p-1) (format(2.5, '.1') is 2e+00,
 * format(1.0, '.3') is 1.0). The digits come from printf's correctly rounded %e.
 */
static int format_general(struct rctx *r, double f, const struct spec *sp, struct iris_buf *b) {
  struct iris_buf t;
  int64_t p = sp->prec < 1 ? 1 : sp->prec;
  int rc;
  buf_init(r, &t);
  if (!isfinite(f)) {
    if ((rc = float_text(r, f, 'g', p, 0, 0, 0, &t)))
      return failb(r, &t, rc);
    return layout_float(r, &t, sp, b);
  }
  if ((rc = float_text(r, f, 'e', p - 1, sp->alt, 0, sp->z, &t)))
    return failb(r, &t, rc);
  {
    const char *e = strchr(iris_buf_ptr(&t), 'e');
    long x = e ? strtol(e + 1, NULL, 10) : 0;
    if (x >= -4 && x < p - 1) {
      /* fixed point with p significant digits */
      size_t k;
      iris_buf_reset(&t);
      if ((rc = float_text(r, f, 'f', p - 1 - x, 0, 0, sp->z, &t)))
        return failb(r, &t, rc);
      if (!sp->alt && memchr(iris_buf_ptr(&t), '.', iris_buf_len(&t))) {
        for (k = iris_buf_len(&t); k > 0 && t.ptr[k - 1] == '0'; k--)
          ;
        t.len = k;
        t.ptr[k] = '\0';
      }
      if (t.len && t.ptr[t.len - 1] == '.')
        latch(iris_buf_appendc(&t, '0'));
    } else if (!sp->alt && e && memchr(iris_buf_ptr(&t), '.', (size_t)(e - iris_buf_ptr(&t)))) {
      /* trailing zeros of the mantissa's fraction go, and its point with them (a mantissa
       * without a point, 0e+00, keeps its digit) */
      size_t epos = (size_t)(e - iris_buf_ptr(&t)), k = epos;
      while (k > 0 && t.ptr[k - 1] == '0')
        k--;
      if (k > 0 && t.ptr[k - 1] == '.')
        k--;
      memmove(t.ptr + k, t.ptr + epos, t.len - epos + 1);
      t.len -= epos - k;
    }
  }
  if ((rc = iris_buf_rc(&t)))
    return failb(r, &t, rc);
  return layout_float(r, &t, sp, b);
}

/* format(float, spec) */
static int format_float_spec(struct rctx *r, double f, struct spec *sp, struct iris_buf *b) {
  struct iris_buf t;
  uint32_t type = sp->type;
  int dot0 = 0, pct = 0, rc;
  int64_t prec = sp->prec;
  switch (type) {
  case 0:
    if (prec >= 0)
      return format_general(r, f, sp, b);
    dot0 = 1;
    type = 'r';
    break;
  case 'n': type = 'g'; break;
  case '%':
    type = 'f';
    f *= 100;
    pct = 1;
    break;
  default:
    if (!is_float_code(type))
      return unknown_code(r, sp);
    break;
  }
  if (prec < 0)
    prec = 6;
  buf_init(r, &t);
  if ((rc = float_text(r, f, (int)type, prec, sp->alt, dot0, sp->z, &t)) ||
      (pct && (rc = iris_buf_appendc(&t, '%'))))
    return failb(r, &t, rc);
  if (type == 'r' && sp->alt && memchr(iris_buf_ptr(&t), 'e', iris_buf_len(&t)) &&
      !memchr(iris_buf_ptr(&t), '.', iris_buf_len(&t))) {
    /* repr with # keeps a point in the mantissa: 1.e+20 */
    size_t e = (size_t)((const char *)memchr(iris_buf_ptr(&t), 'e', iris_buf_len(&t)) -
                        iris_buf_ptr(&t));
    struct iris_buf u;
    buf_init(r, &u);
    latch(iris_buf_append(&u, iris_buf_ptr(&t), e));
    latch(iris_buf_appendc(&u, '.'));
    latch(iris_buf_append(&u, iris_buf_ptr(&t) + e, iris_buf_len(&t) - e));
    iris_buf_cleanup(&t);
    t = u;
    if ((rc = iris_buf_rc(&t)))
      return failb(r, &t, rc);
  }
  return layout_float(r, &t, sp, b);
}

/* format(value, spec) appended to b, as Python's built-in format(). */
static int format_value(struct rctx *r, const struct tv *v, const char *spec, size_t n,
                        struct iris_buf *b) {
  struct spec sp;
  int rc;
  if (n == 0)
    return iris__tv_append_str(r, v, b);
  switch (v->t) {
  case TV_STR:
    if ((rc = parse_spec(r, spec, n, 's', '<', "str", &sp)))
      return rc;
    return format_string(r, v->s, v->n, &sp, b);
  case TV_INT:
  case TV_BOOL:
    if ((rc = parse_spec(r, spec, n, 'd', '>', v->t == TV_INT ? "int" : "bool", &sp)))
      return rc;
    return format_int_spec(r, v->i, &sp, b);
  case TV_FLOAT:
    if ((rc = parse_spec(r, spec, n, 0, '>', "float", &sp)))
      return rc;
    return format_float_spec(r, v->f, &sp, b);
  default:
    return iris__tmpl_fail(r, "unsupported format string passed to %s.__format__",
                           v->t == TV_NONE ? "NoneType" : iris__tv_type_name(v));
  }
}

/* ---- printf-style: fmt % args ------------------------------------------------------------ */

/* Where the conversions take their arguments from (CPython's ctx.args/arglen/argidx/dict). */
struct pargs {
  struct tv args; /* the arguments; after a %(key) conversion, that item */
  json_t *tuple;  /* args is a tuple: its items one by one */
  int64_t arglen, argidx;
  int mapping; /* args can be subscripted by key (dict, list, range, undefined) */
};

static int next_arg(struct rctx *r, struct pargs *pa, struct tv *out) {
  if (pa->argidx < pa->arglen) {
    int64_t i = pa->argidx++;
    *out = pa->arglen < 0 ? pa->args
                          : iris__tv_from_json_r(r, json_array_get(pa->tuple, (size_t)i));
    return IRIS_OK;
  }
  return iris__tmpl_fail(r, "not enough arguments for format string");
}

/* A width or precision taken from the arguments ('*'). */
static int star_arg(struct rctx *r, struct pargs *pa, int escape, int64_t *out) {
  struct tv v = iris__tv_none();
  int rc = next_arg(r, pa, &v);
  if (rc)
    return rc;
  /* into Markup every argument is wrapped by markupsafe, an int no more */
  if ((v.t != TV_INT && v.t != TV_BOOL) || escape)
    return iris__tmpl_fail(r, "* wants int");
  *out = v.i;
  return IRIS_OK;
}

struct pconv {
  int left, plus, space, alt, zero;
  int64_t width, prec;
};

/* Lay out sign, prefix and body with %-style padding: '-' pads on the right, '0' (numbers
 * only) between sign/prefix and body, otherwise spaces on the left. */
static int pad_printf(struct rctx *r, struct iris_buf *b, const struct pconv *pc, int numeric,
                      char sign, const char *prefix, const char *body, size_t nbody) {
  int64_t len = (sign ? 1 : 0) + (int64_t)strlen(prefix) + (int64_t)iris__utf8_count(body, nbody);
  int64_t pad = pc->width > len ? pc->width - len : 0;
  int rc;
  if ((rc = check_width(r, pc->width)))
    return rc;
  if (!pc->left && !(numeric && pc->zero))
    latch(repeat_text(b, " ", 1, pad));
  if (sign)
    latch(iris_buf_appendc(b, sign));
  latch(iris_buf_appends(b, prefix));
  if (!pc->left && numeric && pc->zero)
    latch(repeat_text(b, "0", 1, pad));
  latch(iris_buf_append(b, body, nbody));
  if (pc->left)
    latch(repeat_text(b, " ", 1, pad));
  return iris_buf_rc(b);
}

/* One conversion (after its flags) of the value v. `escape`: the format is Markup. */
static int convert_one(struct rctx *r, struct iris_buf *b, uint32_t conv, const struct pconv *pc,
                       const struct tv *v, int escape) {
  struct iris_buf t;
  int rc = IRIS_OK;
  buf_init(r, &t);
  switch (conv) {
  case 's':
  case 'r':
  case 'a': {
    size_t cut;
    if ((rc = append_conv(r, v, (int)conv, &t)))
      return failb(r, &t, rc);
    if (escape && !(conv == 's' && v->t == TV_STR && v->safe)) {
      struct tv in = iris__tv_str(iris_buf_ptr(&t), iris_buf_len(&t)), out;
      if ((rc = iris__tmpl_escape(r, &in, &out)))
        return failb(r, &t, rc);
      iris_buf_reset(&t);
      latch(iris_buf_append(&t, out.s, out.n));
    }
    cut = iris_buf_len(&t);
    if (pc->prec >= 0 && (uint64_t)pc->prec < iris__utf8_count(iris_buf_ptr(&t), cut))
      cut = iris__utf8_offset(iris_buf_ptr(&t), cut, (size_t)pc->prec);
    rc = pad_printf(r, b, pc, 0, 0, "", iris_buf_ptr(&t), cut);
    break;
  }
  case 'c': {
    char u[4];
    int len;
    if (v->t == TV_STR && !escape && iris__utf8_count(v->s, v->n) == 1) {
      rc = pad_printf(r, b, pc, 0, 0, "", v->s, v->n);
      break;
    }
    if ((v->t != TV_INT && v->t != TV_BOOL) || escape) {
      rc = iris__tmpl_fail(r, "%%c requires int or char");
      break;
    }
    if (v->i < 0 || v->i > 0x10FFFF) {
      rc = iris__tmpl_fail(r, "%%c arg not in range(0x110000)");
      break;
    }
    if (v->i >= 0xD800 && v->i <= 0xDFFF) {
      rc = iris__tmpl_fail(r, "a surrogate character cannot be output (not valid UTF-8)");
      break;
    }
    len = iris__utf8_put((uint32_t)v->i, u);
    rc = pad_printf(r, b, pc, 0, 0, "", u, (size_t)len);
    break;
  }
  case 'd':
  case 'i':
  case 'u':
  case 'o':
  case 'x':
  case 'X': {
    int64_t i;
    char d[72], prefix[3] = "", sign;
    size_t nd;
    int base = conv == 'o' ? 8 : conv == 'x' || conv == 'X' ? 16 : 10;
    if (escape && base != 10) {
      /* markupsafe wraps each argument in a helper without __index__ */
      rc = iris__tmpl_fail(r, "%%%c format: an integer is required, not _MarkupEscapeHelper",
                           (char)conv);
      break;
    }
    if (v->t == TV_INT || v->t == TV_BOOL) {
      i = v->i;
    } else if (v->t == TV_FLOAT && base == 10 &&
               (v->f >= 9223372036854775808.0 || v->f < -9223372036854775808.0) &&
               isfinite(v->f)) {
      /* beyond 64 bits: the float's exact integer value, as Python's int() gives it */
      char *big;
      int len = snprintf(NULL, 0, "%.0f", fabs(trunc(v->f)));
      if (len < 0 || !(big = iris_malloc((size_t)len + 1))) {
        rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
        break;
      }
      snprintf(big, (size_t)len + 1, "%.0f", fabs(trunc(v->f)));
      if (pc->prec > len && (rc = check_width(r, pc->prec)) == IRIS_OK)
        latch(repeat_text(&t, "0", 1, pc->prec - len));
      latch(iris_buf_append(&t, big, (size_t)len));
      iris_free(big);
      if (rc || (rc = iris_buf_rc(&t)))
        break;
      rc = pad_printf(r, b, pc, 1,
                      v->f < 0    ? '-'
                      : pc->plus  ? '+'
                      : pc->space ? ' '
                                  : 0,
                      "", iris_buf_ptr(&t), iris_buf_len(&t));
      break;
    } else if (v->t == TV_FLOAT && base == 10) {
      if (isnan(v->f)) {
        rc = iris__tmpl_fail(r, "cannot convert float NaN to integer");
        break;
      }
      if (isinf(v->f)) {
        rc = iris__tmpl_fail(r, "cannot convert float infinity to integer");
        break;
      }
      i = (int64_t)v->f;
    } else if (escape && v->t == TV_STR && base == 10) {
      rc = iris__tmpl_fail(r, "%%d of a string into Markup is not supported by this engine");
      break;
    } else {
      rc = iris__tmpl_fail(r,
                           base == 10 ? "%%%c format: a real number is required, not %s"
                                      : "%%%c format: an integer is required, not %s",
                           (char)conv, v->t == TV_NONE ? "NoneType" : iris__tv_type_name(v));
      break;
    }
    nd = int_digits(i, base, conv == 'X', d);
    sign = i < 0 ? '-' : pc->plus ? '+' : pc->space ? ' ' : 0;
    if (pc->alt && base != 10) {
      prefix[0] = '0';
      prefix[1] = conv == 'o' ? 'o' : (char)conv;
    }
    if ((rc = check_width(r, pc->prec)))
      break;
    if (pc->prec > (int64_t)nd)
      latch(repeat_text(&t, "0", 1, pc->prec - (int64_t)nd));
    latch(iris_buf_append(&t, d, nd));
    if ((rc = iris_buf_rc(&t)))
      break;
    rc = pad_printf(r, b, pc, 1, sign, prefix, iris_buf_ptr(&t), iris_buf_len(&t));
    break;
  }
  case 'e':
  case 'E':
  case 'f':
  case 'F':
  case 'g':
  case 'G': {
    double f;
    const char *s;
    char sign = 0;
    if (v->t == TV_FLOAT) {
      f = v->f;
    } else if (v->t == TV_INT || v->t == TV_BOOL) {
      f = (double)v->i;
    } else if (escape && v->t == TV_STR) {
      rc = iris__tmpl_fail(r, "%%%c of a string into Markup is not supported by this engine",
                           (char)conv);
      break;
    } else {
      rc = iris__tmpl_fail(r, "must be real number, not %s",
                           v->t == TV_NONE ? "NoneType" : iris__tv_type_name(v));
      break;
    }
    if ((rc = float_text(r, f, (int)conv, pc->prec < 0 ? 6 : pc->prec, pc->alt, 0, 0, &t)))
      break;
    s = iris_buf_ptr(&t);
    if (s[0] == '-') {
      sign = '-';
      s++;
    } else if (pc->plus) {
      sign = '+';
    } else if (pc->space) {
      sign = ' ';
    }
    rc = pad_printf(r, b, pc, 1, sign, "", s, iris_buf_len(&t) - (size_t)(s - iris_buf_ptr(&t)));
    break;
  }
  default: rc = iris__tmpl_fail(r, "unsupported format character"); break;
  }
  iris_buf_cleanup(&t);
  return rc;
}

int iris__tmpl_percent(struct rctx *r, const struct tv *fmt, const struct tv *args,
                       struct tv *out) {
  struct iris_buf b;
  struct pargs pa;
  const struct tmpl_view *w = NULL;
  const char *s = fmt->s;
  size_t n = fmt->n, i = 0;
  int escape = fmt->safe, rc = IRIS_OK;
  memset(&pa, 0, sizeof pa);
  pa.args = *args;
  if (args->t == TV_LIST && r->nviews)
    w = iris__tmpl_view_find(r, args->j);
  if (args->t == TV_LIST && w && w->kind == VIEW_TUPLE) {
    pa.tuple = args->j;
    pa.arglen = (int64_t)json_array_size(args->j);
  } else {
    pa.arglen = -1;
    pa.argidx = -2;
    /* what Python can subscript by a key: dicts (not a stored loop), lists, ranges,
     * undefined */
    if (args->t == TV_DICT && r->nviews)
      w = iris__tmpl_view_find(r, args->j);
    pa.mapping = (args->t == TV_DICT && !w) || args->t == TV_UNDEF ||
                 (args->t == TV_LIST && (!w || w->kind == VIEW_RANGE));
  }
  buf_init(r, &b);
  while (i < n && rc == IRIS_OK) {
    struct pconv pc;
    struct tv v = iris__tv_none();
    uint32_t conv;
    const char *pct = memchr(s + i, '%', n - i);
    if (!pct) {
      latch(iris_buf_append(&b, s + i, n - i));
      break;
    }
    latch(iris_buf_append(&b, s + i, (size_t)(pct - (s + i))));
    i = (size_t)(pct - s) + 1;
    if (i < n && s[i] == '%') {
      latch(iris_buf_appendc(&b, '%'));
      i++;
      continue;
    }
    memset(&pc, 0, sizeof pc);
    pc.width = pc.prec = -1;
    if (i < n && s[i] == '(') {
      /* %(key)s: an item of the mapping */
      size_t depth = 1, k = i + 1;
      while (k < n && depth) {
        depth += s[k] == '(';
        depth -= s[k] == ')';
        k++;
      }
      if (depth) {
        rc = iris__tmpl_fail(r, "incomplete format key");
        break;
      }
      if (!pa.mapping) {
        rc = iris__tmpl_fail(r, "format requires a mapping");
        break;
      }
      if (args->t == TV_UNDEF) {
        rc = iris__tmpl_fail(r, "'%s' is undefined", args->s ? args->s : "value");
        break;
      }
      if (args->t != TV_DICT) {
        rc = iris__tmpl_fail(r, "%s indices must be integers or slices, not str",
                             iris__tv_type_name(args));
        break;
      }
      {
        json_t *item = json_object_getn(args->j, s + i + 1, k - i - 2);
        if (!item) {
          rc = iris__tmpl_fail(r, "KeyError: '%.*s'", (int)(k - i - 2), s + i + 1);
          break;
        }
        /* the item is the arguments of this conversion, and of nothing after it */
        pa.args = iris__tv_from_json_r(r, item);
      }
      pa.arglen = -1;
      pa.argidx = -2;
      i = k;
    }
    for (; i < n; i++) {
      char c = s[i];
      if (c == '-')
        pc.left = 1;
      else if (c == '+')
        pc.plus = 1;
      else if (c == ' ')
        pc.space = 1;
      else if (c == '#')
        pc.alt = 1;
      else if (c == '0')
        pc.zero = 1;
      else
        break;
    }
    if (i < n && s[i] == '*') {
      if ((rc = star_arg(r, &pa, escape, &pc.width)))
        break;
      if (pc.width < 0) {
        pc.left = 1;
        pc.width = pc.width == INT64_MIN ? INT64_MAX : -pc.width;
      }
      i++;
    } else {
      int64_t wdt = 0;
      int any = 0;
      while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (wdt > (INT64_MAX - 9) / 10) {
          rc = iris__tmpl_fail(r, "width too big");
          break;
        }
        wdt = wdt * 10 + (s[i++] - '0');
        any = 1;
      }
      if (rc)
        break;
      if (any)
        pc.width = wdt;
    }
    if (i < n && s[i] == '.') {
      i++;
      pc.prec = 0;
      /* CPython keeps the precision in a C int */
      if (i < n && s[i] == '*') {
        if ((rc = star_arg(r, &pa, escape, &pc.prec)))
          break;
        if (pc.prec > INT_MAX || pc.prec < INT_MIN) {
          rc = iris__tmpl_fail(r, "Python int too large to convert to C int");
          break;
        }
        if (pc.prec < 0)
          pc.prec = 0;
        i++;
      } else {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          pc.prec = pc.prec * 10 + (s[i++] - '0');
          if (pc.prec > INT_MAX) {
            rc = iris__tmpl_fail(r, "precision too big");
            break;
          }
        }
        if (rc)
          break;
      }
    }
    if (i < n && (s[i] == 'h' || s[i] == 'l' || s[i] == 'L'))
      i++;
    if (i >= n) {
      rc = iris__tmpl_fail(r, "incomplete format");
      break;
    }
    i += iris__utf8_get(s, n, i, &conv);
    if ((rc = next_arg(r, &pa, &v)))
      break;
    if (!strchr("sracdiuoxXeEfFgG", (int)(conv < 0x80 ? conv : 1)) || conv == 0) {
      rc = iris__tmpl_fail(r, "unsupported format character at index %zu",
                           iris__utf8_count(s, i) - 1);
      break;
    }
    if ((rc = iris__tmpl_steps(r, 1)) == IRIS_OK)
      rc = convert_one(r, &b, conv, &pc, &v, escape);
  }
  if (rc == IRIS_OK && pa.argidx < pa.arglen && !pa.mapping)
    rc = iris__tmpl_fail(r, "not all arguments converted during string formatting");
  if (rc)
    return raised(r, failb(r, &b, rc));
  return finish(r, &b, escape, out);
}

/* ---- str.format --------------------------------------------------------------------------- */

struct fmtctx {
  const struct fargs *a;
  int escape; /* the format string is Markup: fields are escaped (markupsafe's formatter) */
  int64_t auto_index; /* next automatic field number; -1 once a number was given */
};

/* A field name's value: the argument named by its first part, then .attr and [item] read as
 * Jinja's sandbox reads them. */
static int get_field(struct rctx *r, struct fmtctx *fc, const char *f, size_t n, struct tv *out) {
  size_t i = 0, k;
  int numeric = 1;
  for (k = 0; k < n;) {
    uint32_t c;
    k += iris__utf8_get(f, n, k, &c);
    if (c >= 0x80 && iris__uc_is_digit(c))
      return iris__tmpl_fail(r, "a field name with digits of another script is not supported by "
                                "this engine");
  }
  while (i < n && f[i] != '.' && f[i] != '[')
    i++;
  for (k = 0; k < i; k++)
    numeric = numeric && f[k] >= '0' && f[k] <= '9';
  if (i == 0)
    numeric = 0;
  if (numeric) {
    uint64_t idx = 0;
    for (k = 0; k < i; k++) {
      if (idx > (uint64_t)INT64_MAX / 10)
        return iris__tmpl_fail(r, "Too many decimal digits in format string");
      idx = idx * 10 + (uint64_t)(f[k] - '0');
    }
    if (idx >= fc->a->npos)
      return iris__tmpl_fail(r, "Replacement index %llu out of range for positional args tuple",
                             (unsigned long long)idx);
    *out = fc->a->pos[idx];
  } else {
    for (k = 0; k < fc->a->nkw; k++)
      if (strlen(fc->a->kwname[k]) == i && memcmp(fc->a->kwname[k], f, i) == 0)
        break;
    if (k == fc->a->nkw)
      return iris__tmpl_fail(r, "KeyError: '%.*s'", (int)i, f);
    *out = fc->a->kw[k];
  }
  while (i < n) {
    struct tv key, next;
    size_t st;
    int rc, by_attr = f[i] == '.';
    if (f[i] != '.' && f[i] != '[')
      return iris__tmpl_fail(r, "Only '.' or '[' may follow ']' in format field specifier");
    st = ++i;
    if (by_attr) {
      while (i < n && f[i] != '.' && f[i] != '[')
        i++;
      key = iris__tv_str(f + st, i - st);
    } else {
      int digits = 1;
      while (i < n && f[i] != ']')
        i++;
      if (i >= n)
        return iris__tmpl_fail(r, "Missing ']' in format string");
      for (k = st; k < i; k++)
        digits = digits && f[k] >= '0' && f[k] <= '9';
      if (digits && i > st) {
        int64_t idx = 0;
        for (k = st; k < i; k++) {
          if (idx > (INT64_MAX - 9) / 10)
            return iris__tmpl_fail(r, "Too many decimal digits in format string");
          idx = idx * 10 + (f[k] - '0');
        }
        key = iris__tv_int(idx);
      } else {
        key = iris__tv_str(f + st, i - st);
      }
      i++; /* ']' */
    }
    if (key.t == TV_STR && key.n == 0)
      return iris__tmpl_fail(r, "Empty attribute in format string");
    if (out->t == TV_UNDEF)
      return iris__tmpl_fail(r, "'%s' is undefined", out->s ? out->s : "value");
    if ((rc = by_attr ? iris__tmpl_member(r, out, &key, 1, "field", &next)
                      : iris__tmpl_getitem(r, out, &key, "field", &next)))
      return rc;
    *out = next;
  }
  return IRIS_OK;
}

/* One field, formatted (escaped into Markup as markupsafe's EscapeFormatter does). */
static int format_field(struct rctx *r, struct fmtctx *fc, const struct tv *v, int conv,
                        const char *spec, size_t nspec, struct iris_buf *b) {
  struct iris_buf t;
  int rc;
  const struct tv *val = v;
  struct tv converted;
  buf_init(r, &t);
  if (conv) {
    char *text;
    if (conv != 's' && conv != 'r' && conv != 'a')
      return failb(r, &t, iris__tmpl_fail(r, "Unknown conversion specifier"));
    if ((rc = append_conv(r, v, conv, &t)))
      return failb(r, &t, rc);
    if (!(text = iris__tmpl_scratch(r, iris_buf_len(&t))))
      return failb(r, &t, r->err->rc ? (int)r->err->rc : IRIS_ENOMEM);
    memcpy(text, iris_buf_ptr(&t), iris_buf_len(&t));
    converted = iris__tv_str(text, iris_buf_len(&t));
    val = &converted;
    iris_buf_reset(&t);
  }
  if (fc->escape && val->t == TV_STR && val->safe) {
    /* Markup's __html_format__: no spec allowed, inserted as it is */
    iris_buf_cleanup(&t);
    if (nspec)
      return iris__tmpl_fail(r, "Unsupported format specification for Markup.");
    return iris_buf_append(b, val->s, val->n);
  }
  if ((rc = format_value(r, val, spec, nspec, &t)) || (rc = iris_buf_rc(&t)))
    return failb(r, &t, rc);
  rc = append_escaped(r, iris_buf_ptr(&t), iris_buf_len(&t), fc->escape, 0, b);
  iris_buf_cleanup(&t);
  return rc;
}

/*
 * string.Formatter._vformat: literal text (with {{ and }} for braces) and fields
 * {name!conv:spec}; a spec's own fields are expanded one level down (depth 2 at the top: a
 * field inside a field's spec inside a spec is "Max string recursion exceeded").
 */
static int vformat(struct rctx *r, struct fmtctx *fc, const char *s, size_t n, int depth,
                   struct iris_buf *b) {
  size_t i = 0;
  int rc;
  if (depth < 0)
    return iris__tmpl_fail(r, "Max string recursion exceeded");
  if ((rc = iris__tmpl_steps(r, 1)))
    return rc;
  while (i < n) {
    size_t lit = i, name, name_end, spec = 0, spec_end = 0;
    int conv = 0, has_spec = 0;
    char c = 0;
    struct tv v;
    /* literal text up to { or } */
    while (i < n && s[i] != '{' && s[i] != '}')
      i++;
    latch(iris_buf_append(b, s + lit, i - lit));
    if (i >= n)
      break;
    c = s[i++];
    if (c == '}') {
      if (i < n && s[i] == '}') {
        latch(iris_buf_appendc(b, '}'));
        i++;
        continue;
      }
      return iris__tmpl_fail(r, "Single '}' encountered in format string");
    }
    if (i >= n)
      return iris__tmpl_fail(r, "Single '{' encountered in format string");
    if (s[i] == '{') {
      latch(iris_buf_appendc(b, '{'));
      i++;
      continue;
    }
    /* the field name up to ! : or }, with [...] read whole */
    name = i;
    c = 0;
    while (i < n) {
      c = s[i++];
      if (c == '{')
        return iris__tmpl_fail(r, "unexpected '{' in field name");
      if (c == '[') {
        while (i < n && s[i] != ']')
          i++;
        continue;
      }
      if (c == '}' || c == ':' || c == '!')
        break;
    }
    name_end = i - 1;
    if (c == '!' || c == ':') {
      size_t count = 1;
      if (c == '!') {
        uint32_t cc;
        if (i >= n)
          return iris__tmpl_fail(r, "end of string while looking for conversion specifier");
        i += iris__utf8_get(s, n, i, &cc);
        conv = cc < 0x80 ? (int)cc : 1;
        if (i < n) {
          c = s[i++];
          if (c == '}')
            goto field;
          if (c != ':')
            return iris__tmpl_fail(r, "expected ':' after conversion specifier");
        }
      }
      spec = i;
      has_spec = 1;
      while (i < n) {
        c = s[i++];
        if (c == '{')
          count++;
        else if (c == '}' && --count == 0)
          break;
      }
      if (count)
        return iris__tmpl_fail(r, "unmatched '{' in format spec");
      spec_end = i - 1;
    } else if (c != '}') {
      return iris__tmpl_fail(r, "expected '}' before end of string");
    }
  field:
    /* automatic numbering, or a number given (one or the other) */
    if (name_end == name) {
      char num[24];
      if (fc->auto_index < 0)
        return iris__tmpl_fail(r, "cannot switch from manual field specification to automatic "
                                  "field numbering");
      snprintf(num, sizeof num, "%lld", (long long)fc->auto_index++);
      if ((rc = get_field(r, fc, num, strlen(num), &v)))
        return rc;
    } else {
      size_t k;
      int digits = 1;
      for (k = name; k < name_end; k++)
        digits = digits && s[k] >= '0' && s[k] <= '9';
      if (digits) {
        if (fc->auto_index > 0)
          return iris__tmpl_fail(r, "cannot switch from manual field specification to "
                                    "automatic field numbering");
        fc->auto_index = -1;
      }
      if ((rc = get_field(r, fc, s + name, name_end - name, &v)))
        return rc;
    }
    {
      /* the spec, its own fields expanded */
      struct iris_buf sp;
      buf_init(r, &sp);
      if (has_spec && (rc = vformat(r, fc, s + spec, spec_end - spec, depth - 1, &sp)))
        return failb(r, &sp, rc);
      if (!has_spec && (rc = vformat(r, fc, "", 0, depth - 1, &sp)))
        return failb(r, &sp, rc);
      if ((rc = iris_buf_rc(&sp)))
        return failb(r, &sp, iris_err_set(r->err, rc, "template: out of memory"));
      rc = format_field(r, fc, &v, conv, iris_buf_ptr(&sp) ? iris_buf_ptr(&sp) : "",
                        iris_buf_len(&sp), b);
      iris_buf_cleanup(&sp);
      if (rc)
        return rc;
    }
  }
  return iris_buf_rc(b);
}

int iris__tmpl_str_format(struct rctx *r, const struct tv *fmt, const struct fargs *a,
                          struct tv *out) {
  struct iris_buf b;
  struct fmtctx fc;
  int rc;
  fc.a = a;
  fc.escape = fmt->safe;
  fc.auto_index = 0;
  buf_init(r, &b);
  if ((rc = vformat(r, &fc, fmt->s, fmt->n, 2, &b)))
    return raised(r, failb(r, &b, rc));
  return finish(r, &b, fmt->safe, out);
}
