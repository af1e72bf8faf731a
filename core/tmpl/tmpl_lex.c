/*
 * tmpl_lex.c — template source to tokens, as Jinja2's lexer does it with default settings:
 * newlines normalised to "\n", one trailing newline dropped (keep_trailing_newline=False),
 * `{{ }}`, `{% %}`, `{# #}` with `-` whitespace control, and `{% raw %}` blocks.
 * Also the arena every compiled template allocates from.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"
#include "utf8.h"

/* ---- arena ----------------------------------------------------------------------------- */

struct tmpl_chunk {
  struct tmpl_chunk *next;
  size_t used, size;
  max_align_t data[];
};

void *iris__tmpl_alloc(struct tmpl_arena *a, size_t n) {
  struct tmpl_chunk *c = a->head;
  size_t align = sizeof(max_align_t);
  n = (n + align - 1) / align * align;
  if (a->oom)
    return NULL;
  if (!c || c->size - c->used < n) {
    size_t size = n > 16384 ? n : 16384;
    c = iris_malloc(sizeof *c + size);
    if (!c) {
      a->oom = 1;
      return NULL;
    }
    c->size = size;
    c->used = 0;
    a->bytes += sizeof *c + size;
    c->next = a->head;
    a->head = c;
  }
  {
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
  }
}

char *iris__tmpl_strndup(struct tmpl_arena *a, const char *s, size_t n) {
  char *d = iris__tmpl_alloc(a, n + 1);
  if (d) {
    if (n)
      memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

struct tmpl_arena_mark iris__tmpl_arena_mark(const struct tmpl_arena *a) {
  struct tmpl_arena_mark m = {a->head, a->head ? a->head->used : 0};
  return m;
}

void iris__tmpl_arena_reset(struct tmpl_arena *a, struct tmpl_arena_mark m) {
  while (a->head && a->head != m.head) {
    struct tmpl_chunk *c = a->head;
    a->head = c->next;
    a->bytes -= sizeof *c + c->size;
    iris_free(c);
  }
  if (a->head)
    a->head->used = m.used;
}

void iris__tmpl_arena_free(struct tmpl_arena *a) {
  struct tmpl_chunk *c = a->head, *next;
  for (; c; c = next) {
    next = c->next;
    iris_free(c);
  }
  a->head = NULL;
  a->bytes = 0;
}

/* ---- lexer ------------------------------------------------------------------------------- */

/* Offset of the first byte that does not belong to well-formed UTF-8; n when all of s is. */
static size_t utf8_invalid_at(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t len = (unsigned char)s[i] < 0x80 ? 1 : iris_utf8_seq(s + i, n - i);
    if (len == 0)
      return i;
    i += len;
  }
  return n;
}

struct lexer {
  const char *name;
  char *src; /* normalised copy (arena) */
  size_t len, pos;
  int line, col;
  struct tmpl_arena *a;
  struct tok_list *out;
  struct iris_err *err;
  int strip_next; /* the previous tag ended with '-': strip leading whitespace of the text */
};

static int fail(struct lexer *lx, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct lexer *lx, int line, int col, const char *fmt, ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = iris__tmpl_verr(lx->err, lx->name, line, col, fmt, ap);
  va_end(ap);
  return rc;
}

static int push(struct lexer *lx, enum tok_type type, const char *s, size_t n, int line, int col) {
  struct tok *t;
  if (lx->out->n == lx->out->cap) {
    size_t cap = lx->out->cap ? lx->out->cap * 2 : 64;
    struct tok *g = iris_realloc(lx->out->v, cap * sizeof *g);
    if (!g)
      return iris_err_set(lx->err, IRIS_ENOMEM, "template '%s': tokens", lx->name);
    lx->out->v = g;
    lx->out->cap = cap;
  }
  t = &lx->out->v[lx->out->n++];
  memset(t, 0, sizeof *t);
  t->type = type;
  t->line = line;
  t->col = col;
  if (s) {
    t->s = iris__tmpl_strndup(lx->a, s, n);
    t->n = n;
    if (!t->s)
      return iris_err_set(lx->err, IRIS_ENOMEM, "template '%s': tokens", lx->name);
  }
  return IRIS_OK;
}

/* Advance pos to p, keeping line/col. */
static void advance_to(struct lexer *lx, size_t p) {
  for (; lx->pos < p; lx->pos++) {
    if (lx->src[lx->pos] == '\n') {
      lx->line++;
      lx->col = 1;
    } else if (((unsigned char)lx->src[lx->pos] & 0xC0) != 0x80) {
      lx->col++;
    }
  }
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Emit data text [from, to), honouring strip flags. */
static int emit_text(struct lexer *lx, size_t from, size_t to, int rstrip, int line, int col) {
  if (lx->strip_next) {
    while (from < to && is_space(lx->src[from]))
      from++;
    lx->strip_next = 0;
  }
  if (rstrip)
    while (to > from && is_space(lx->src[to - 1]))
      to--;
  if (to > from)
    return push(lx, TK_TEXT, lx->src + from, to - from, line, col);
  return IRIS_OK;
}

/* Decode a string literal's escapes as Python's unicode-escape does (common cases). */
static int unescape(struct lexer *lx, const char *s, size_t n, int line, int col) {
  char *buf = iris__tmpl_alloc(lx->a, n * 4 + 1);
  size_t i, o = 0;
  if (!buf)
    return iris_err_set(lx->err, IRIS_ENOMEM, "template '%s': string", lx->name);
  for (i = 0; i < n; i++) {
    unsigned long cp;
    int digits = 0;
    if (s[i] != '\\' || i + 1 >= n) {
      buf[o++] = s[i];
      continue;
    }
    i++;
    switch (s[i]) {
    case 'n': buf[o++] = '\n'; continue;
    case 't': buf[o++] = '\t'; continue;
    case 'r': buf[o++] = '\r'; continue;
    case '\\': buf[o++] = '\\'; continue;
    case '\'': buf[o++] = '\''; continue;
    case '"': buf[o++] = '"'; continue;
    case 'a': buf[o++] = '\a'; continue;
    case 'b': buf[o++] = '\b'; continue;
    case 'f': buf[o++] = '\f'; continue;
    case 'v': buf[o++] = '\v'; continue;
    case '\n': continue; /* line continuation */
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    case 'N':
      return fail(lx, line, col,
                  "the \\N{name} escape is not supported by this template "
                  "engine (see docs/templates.md); write the character itself");
    default:
      if (s[i] >= '0' && s[i] <= '7') {
        int k = 0;
        cp = 0;
        while (k < 3 && i < n && s[i] >= '0' && s[i] <= '7') {
          cp = cp * 8 + (unsigned long)(s[i] - '0');
          i++;
          k++;
        }
        i--;
        goto emit;
      }
      buf[o++] = '\\'; /* unknown escapes stay as written */
      buf[o++] = s[i];
      continue;
    }
    {
      int k;
      cp = 0;
      for (k = 0; k < digits; k++) {
        char h = i + 1 + (size_t)k < n ? s[i + 1 + k] : 0;
        if (!isxdigit((unsigned char)h))
          return fail(lx, line, col, "bad \\%c escape in a string literal", s[i]);
        cp = cp * 16 +
             (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
      }
      i += (size_t)digits;
    }
  emit:
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return fail(lx, line, col, "escape produces an invalid character U+%04lX", cp);
    if (cp < 0x80) {
      buf[o++] = (char)cp;
    } else if (cp < 0x800) {
      buf[o++] = (char)(0xC0 | (cp >> 6));
      buf[o++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      buf[o++] = (char)(0xE0 | (cp >> 12));
      buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      buf[o++] = (char)(0x80 | (cp & 0x3F));
    } else {
      buf[o++] = (char)(0xF0 | (cp >> 18));
      buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
      buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      buf[o++] = (char)(0x80 | (cp & 0x3F));
    }
  }
  {
    int rc = push(lx, TK_STRING, NULL, 0, line, col);
    if (rc)
      return rc;
    lx->out->v[lx->out->n - 1].s = buf;
    lx->out->v[lx->out->n - 1].n = o;
    buf[o] = '\0';
  }
  return IRIS_OK;
}

/* Tokens inside a tag until its end marker ("}}" or "%}"). */
static int lex_tag(struct lexer *lx, int var) {
  static const char *const ops2[] = {"**", "//", "==", "!=", "<=", ">=", NULL};
  const char *end = var ? "}}" : "%}";
  size_t open = 0; /* brackets open: as in Jinja, the tag cannot end inside them ({{ {'a': {}} }}) */
  while (lx->pos < lx->len) {
    char c = lx->src[lx->pos];
    int line = lx->line, col = lx->col;
    size_t k;
    if (is_space(c)) {
      advance_to(lx, lx->pos + 1);
      continue;
    }
    if (open == 0) {
      if (c == '-' && lx->pos + 2 < lx->len + 1 && strncmp(lx->src + lx->pos + 1, end, 2) == 0) {
        advance_to(lx, lx->pos + 3);
        lx->strip_next = 1;
        return push(lx, var ? TK_VAR_END : TK_BLOCK_END, NULL, 0, line, col);
      }
      if (strncmp(lx->src + lx->pos, end, 2) == 0) {
        advance_to(lx, lx->pos + 2);
        return push(lx, var ? TK_VAR_END : TK_BLOCK_END, NULL, 0, line, col);
      }
      if (c == '+' && !var && strncmp(lx->src + lx->pos + 1, "%}", 2) == 0) {
        advance_to(lx, lx->pos + 3); /* "+%}": lstrip_blocks override; no-op here */
        return push(lx, TK_BLOCK_END, NULL, 0, line, col);
      }
    }
    if (c == '(' || c == '[' || c == '{')
      open++;
    else if ((c == ')' || c == ']' || c == '}') && open > 0)
      open--;
    if (isalpha((unsigned char)c) || c == '_') {
      size_t p = lx->pos;
      while (p < lx->len && (isalnum((unsigned char)lx->src[p]) || lx->src[p] == '_'))
        p++;
      if (push(lx, TK_NAME, lx->src + lx->pos, p - lx->pos, line, col))
        return lx->err->rc;
      advance_to(lx, p);
      continue;
    }
    if (isdigit((unsigned char)c)) {
      size_t p = lx->pos;
      int is_float = 0;
      char num[128];
      size_t nn = 0;
      while (p < lx->len && (isdigit((unsigned char)lx->src[p]) || lx->src[p] == '_'))
        p++;
      if (p + 1 < lx->len && lx->src[p] == '.' && isdigit((unsigned char)lx->src[p + 1])) {
        is_float = 1;
        p++;
        while (p < lx->len && (isdigit((unsigned char)lx->src[p]) || lx->src[p] == '_'))
          p++;
      }
      if (p < lx->len && (lx->src[p] == 'e' || lx->src[p] == 'E')) {
        size_t q = p + 1;
        if (q < lx->len && (lx->src[q] == '+' || lx->src[q] == '-'))
          q++;
        if (q < lx->len && isdigit((unsigned char)lx->src[q])) {
          is_float = 1;
          p = q;
          while (p < lx->len && (isdigit((unsigned char)lx->src[p]) || lx->src[p] == '_'))
            p++;
        }
      }
      for (k = lx->pos; k < p && nn + 1 < sizeof num; k++)
        if (lx->src[k] != '_')
          num[nn++] = lx->src[k];
      num[nn] = '\0';
      if (push(lx, is_float ? TK_FLOAT : TK_INT, lx->src + lx->pos, p - lx->pos, line, col))
        return lx->err->rc;
      if (is_float) {
        lx->out->v[lx->out->n - 1].f = strtod(num, NULL);
      } else {
        char *e = NULL;
        long long v;
        errno = 0;
        v = strtoll(num, &e, 10);
        if (errno)
          return fail(lx, line, col, "integer literal %s is too large (64-bit integers only)", num);
        lx->out->v[lx->out->n - 1].i = v;
      }
      advance_to(lx, p);
      continue;
    }
    if (c == '\'' || c == '"') {
      size_t p = lx->pos + 1;
      while (p < lx->len && lx->src[p] != c) {
        if (lx->src[p] == '\\')
          p++;
        p++;
      }
      if (p >= lx->len)
        return fail(lx, line, col, "unterminated string literal");
      if (unescape(lx, lx->src + lx->pos + 1, p - lx->pos - 1, line, col))
        return lx->err->rc;
      advance_to(lx, p + 1);
      continue;
    }
    for (k = 0; ops2[k]; k++)
      if (strncmp(lx->src + lx->pos, ops2[k], 2) == 0)
        break;
    if (ops2[k]) {
      if (push(lx, TK_OP, ops2[k], 2, line, col))
        return lx->err->rc;
      advance_to(lx, lx->pos + 2);
      continue;
    }
    if (strchr("+-*/%~<>()[]{},.:|=", c)) {
      if (push(lx, TK_OP, &c, 1, line, col))
        return lx->err->rc;
      advance_to(lx, lx->pos + 1);
      continue;
    }
    {
      /* the whole character, never half of one */
      unsigned char u = (unsigned char)c;
      size_t len = u < 0xC0 ? 1 : u < 0xE0 ? 2 : u < 0xF0 ? 3 : 4;
      if (len > lx->len - lx->pos)
        len = lx->len - lx->pos;
      return fail(lx, line, col, "unexpected character '%.*s'", (int)len, lx->src + lx->pos);
    }
  }
  return fail(lx, lx->line, lx->col, "unexpected end of template, expected '%s'", end);
}

/* After "{% raw %}": find "{% endraw %}" (with optional '-'), emit the text between. */
static int lex_raw(struct lexer *lx, int strip_open_after) {
  size_t p = lx->pos;
  int line = lx->line, col = lx->col;
  while (p < lx->len) {
    const char *hit = strstr(lx->src + p, "{%");
    size_t q, tag_start;
    int strip_before = 0, strip_after = 0;
    if (!hit)
      break;
    tag_start = (size_t)(hit - lx->src);
    q = tag_start + 2;
    if (q < lx->len && lx->src[q] == '-') {
      strip_before = 1;
      q++;
    }
    while (q < lx->len && is_space(lx->src[q]))
      q++;
    if (strncmp(lx->src + q, "endraw", 6) != 0) {
      p = tag_start + 2;
      continue;
    }
    q += 6;
    while (q < lx->len && is_space(lx->src[q]))
      q++;
    if (q < lx->len && lx->src[q] == '-') {
      strip_after = 1;
      q++;
    }
    if (strncmp(lx->src + q, "%}", 2) != 0) {
      p = tag_start + 2;
      continue;
    }
    lx->strip_next = strip_open_after;
    if (emit_text(lx, lx->pos, tag_start, strip_before, line, col))
      return lx->err->rc;
    advance_to(lx, q + 2);
    lx->strip_next = strip_after;
    return IRIS_OK;
  }
  return fail(lx, line, col, "missing {%% endraw %%}");
}

int iris__tmpl_lex(const char *name, const char *src, size_t len, struct tmpl_arena *a,
                   struct tok_list *out, struct iris_err *err) {
  struct lexer lx;
  size_t i, o = 0;

  memset(&lx, 0, sizeof lx);
  lx.name = name;
  lx.a = a;
  lx.out = out;
  lx.err = err;
  lx.line = lx.col = 1;
  /* Jinja reads templates as text: bytes that are not UTF-8 cannot be one. */
  {
    size_t bad = utf8_invalid_at(src, len);
    if (bad < len) {
      int line = 1;
      size_t k;
      for (k = 0; k < bad; k++)
        line += src[k] == '\n';
      return fail(&lx, line, 1, "the template is not valid UTF-8 (byte %zu)", bad + 1);
    }
  }
  /* Normalise newlines and drop one trailing newline, as Jinja does. */
  lx.src = iris__tmpl_alloc(a, len + 1);
  if (!lx.src)
    return iris_err_set(err, IRIS_ENOMEM, "template '%s': source copy", name);
  for (i = 0; i < len; i++) {
    if (src[i] == '\0')
      return fail(&lx, 1, 1, "the template contains a NUL byte");
    if (src[i] == '\r') {
      lx.src[o++] = '\n';
      if (i + 1 < len && src[i + 1] == '\n')
        i++;
    } else {
      lx.src[o++] = src[i];
    }
  }
  if (o && lx.src[o - 1] == '\n')
    o--;
  lx.src[o] = '\0';
  lx.len = o;

  while (lx.pos < lx.len) {
    const char *open = NULL, *p;
    size_t tag;
    int line, col, strip_before;
    for (p = lx.src + lx.pos; (p = strchr(p, '{')) != NULL; p++) {
      if (p[1] == '{' || p[1] == '%' || p[1] == '#') {
        open = p;
        break;
      }
    }
    if (!open) {
      if (emit_text(&lx, lx.pos, lx.len, 0, lx.line, lx.col))
        return err->rc;
      break;
    }
    tag = (size_t)(open - lx.src);
    strip_before = open[2] == '-';
    line = lx.line;
    col = lx.col;
    if (emit_text(&lx, lx.pos, tag, strip_before, line, col))
      return err->rc;
    advance_to(&lx, tag);
    line = lx.line;
    col = lx.col;
    if (open[1] == '#') {
      const char *close = strstr(open + 2, "#}");
      if (!close)
        return fail(&lx, line, col, "unterminated comment");
      lx.strip_next = close > open + 2 && close[-1] == '-';
      advance_to(&lx, (size_t)(close - lx.src) + 2);
      continue;
    }
    advance_to(&lx, tag + 2 + (strip_before || open[2] == '+'));
    if (open[1] == '{') {
      if (push(&lx, TK_VAR_BEGIN, NULL, 0, line, col) || lex_tag(&lx, 1))
        return err->rc;
      continue;
    }
    /* {% raw %} is handled here: its content is never tokenized. */
    {
      size_t q = lx.pos;
      while (q < lx.len && is_space(lx.src[q]))
        q++;
      if (strncmp(lx.src + q, "raw", 3) == 0 && !isalnum((unsigned char)lx.src[q + 3]) &&
          lx.src[q + 3] != '_') {
        size_t r = q + 3;
        int strip_after = 0;
        while (r < lx.len && is_space(lx.src[r]))
          r++;
        if (lx.src[r] == '-') {
          strip_after = 1;
          r++;
        }
        if (strncmp(lx.src + r, "%}", 2) != 0)
          return fail(&lx, line, col, "expected '%%}' after 'raw'");
        advance_to(&lx, r + 2);
        if (lex_raw(&lx, strip_after))
          return err->rc;
        continue;
      }
    }
    if (push(&lx, TK_BLOCK_BEGIN, NULL, 0, line, col) || lex_tag(&lx, 0))
      return err->rc;
  }
  return push(&lx, TK_EOF, NULL, 0, lx.line, lx.col);
}
