/*
 * tmpl_parse.c — tokens to a syntax tree, with Jinja2's grammar and precedence:
 *   cond-expr:  or-expr ["if" or-expr ["else" cond-expr]]
 *   or/and/not, comparisons (== != < <= > >= in, not in), + -, ~, * / // %, ** (left-assoc,
 *   as in Jinja), unary - +, primary with .attr [item] [a, b] and calls, then |filter and
 *   `is` tests. Statements: if/elif/else, for/else, set and set blocks, macro, call.
 * Everything Jinja has but this engine does not implement is refused here, with the
 * template name, line and column: include, import, extends, block, filter blocks, with,
 * autoescape, loop controls, the globals other than range(), methods other than those
 * tmpl_filters.c implements, and unknown filters or tests.
 *
 * Node fields: N_TEXT s/n; N_OUTPUT a; N_IF list = (cond, body-holder) pairs, list2 = else;
 * N_FOR s (target), s2 (second target or NULL), a (iterable), b (loop filter), list (body),
 * list2 (else); N_SET s, a; N_SETBLOCK s, list; N_MACRO s, kw (parameters and defaults),
 * list; N_CALLBLOCK a (the call), kw, list; E_CONST ck/i/f/s/n; E_NAME s; E_GETATTR a, s;
 * E_GETITEM a, b; E_LIST list; E_DICT list (keys), list2 (values); E_BINOP op, a, b;
 * E_UNARY op, a; E_COND a (cond), b (then), c (else or NULL); E_FILTER s, a, list (args),
 * kw; E_TEST s, a, list, neg; E_METHOD s, a, list, kw; E_RANGE list; E_CALL a (callee),
 * list, kw, b (*args), c (**kwargs). Filters, tests and methods take *args and **kwargs in b, c
 * too. The frames' scopes and the macros' flags are filled in by tmpl_scope.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"

struct parser {
  struct iris_tmpl *t;
  const struct tok_list *toks;
  size_t pos;
  int depth;  /* recursion levels of the grammar (bounded by max_depth) */
  int tree;   /* depth of the syntax tree being built: recursion levels plus chained
                operators, filters and attributes (bounded by 4 * max_depth) */
  int in_for; /* for-loop bodies open around the current statement */
  struct iris_err *err;
};

static const struct tok *peek(struct parser *p) { return &p->toks->v[p->pos]; }
static const struct tok *peek2(struct parser *p) {
  return p->pos + 1 < p->toks->n ? &p->toks->v[p->pos + 1] : &p->toks->v[p->pos];
}
static const struct tok *next(struct parser *p) {
  const struct tok *t = &p->toks->v[p->pos];
  if (t->type != TK_EOF)
    p->pos++;
  return t;
}

static const char *describe(const struct tok *t) {
  switch (t->type) {
  case TK_EOF: return "end of template";
  case TK_TEXT: return "template data";
  case TK_VAR_BEGIN: return "'{{'";
  case TK_VAR_END: return "'}}'";
  case TK_BLOCK_BEGIN: return "'{%'";
  case TK_BLOCK_END: return "'%}'";
  case TK_NAME: return t->s;
  case TK_STRING: return "a string";
  case TK_INT:
  case TK_FLOAT: return "a number";
  case TK_OP: return t->s;
  }
  return "?";
}

static int fail_at(struct parser *p, const struct tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct parser *p, const struct tok *t, const char *fmt, ...) {
  va_list ap;
  int rc;
  va_start(ap, fmt);
  rc = iris__tmpl_verr(p->err, p->t->name, t->line, t->col, fmt, ap);
  va_end(ap);
  return rc;
}
static int is_op(const struct tok *t, const char *op) {
  return t->type == TK_OP && strcmp(t->s, op) == 0;
}
static int is_name(const struct tok *t, const char *name) {
  return t->type == TK_NAME && strcmp(t->s, name) == 0;
}

static int expect_op(struct parser *p, const char *op) {
  const struct tok *t = peek(p);
  if (!is_op(t, op))
    return fail_at(p, t, "expected '%s', got %s", op, describe(t));
  next(p);
  return IRIS_OK;
}

static struct node *mk(struct parser *p, enum node_kind k, const struct tok *at) {
  struct node *n = iris__tmpl_alloc(&p->t->arena, sizeof *n);
  if (!n) {
    iris_err_set(p->err, IRIS_ENOMEM, "template '%s': syntax tree", p->t->name);
    return NULL;
  }
  n->kind = k;
  n->line = at->line;
  n->col = at->col;
  return n;
}

/* Growable node list in the arena (copied on growth; old copies stay in the arena). */
static int list_add(struct parser *p, struct node_list *l, struct node *n) {
  if ((l->n & (l->n - 1)) == 0) { /* 0, 1, 2, 4, 8...: grow to the next power of two */
    size_t cap = l->n ? l->n * 2 : 1;
    struct node **g = iris__tmpl_alloc(&p->t->arena, cap * sizeof *g);
    if (!g)
      return iris_err_set(p->err, IRIS_ENOMEM, "template '%s': syntax tree", p->t->name);
    if (l->n)
      memcpy(g, l->v, l->n * sizeof *g);
    l->v = g;
  }
  l->v[l->n++] = n;
  return IRIS_OK;
}

static struct node *parse_expr(struct parser *p);
static struct node *parse_cond(struct parser *p);
static struct node *tuple_rest(struct parser *p, struct node *first, const struct tok *at,
                               const char *end);
static struct node *parse_or(struct parser *p);

/*
 * Every recursive level of the grammar (expressions, `not`, unary signs, blocks) counts
 * against the nesting limit, so no template can recurse the parser off its stack.
 */
static int fail_at(struct parser *p, const struct tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int enter(struct parser *p, const struct tok *t) {
  if (++p->depth > iris__tmpl_max_depth()) {
    p->depth--;
    return fail_at(p, t, "expression or block nested too deeply (more than %d levels)",
                   iris__tmpl_max_depth());
  }
  if (++p->tree > 4 * iris__tmpl_max_depth()) {
    p->depth--;
    p->tree--;
    return fail_at(p, t, "expression nested too deeply (more than %d chained operations)",
                   4 * iris__tmpl_max_depth());
  }
  return IRIS_OK;
}
static void leave(struct parser *p) {
  p->depth--;
  p->tree--;
}
/* One more link of a left-associative chain (a + b + c, x|f|g, a.b.c): it deepens the tree
 * without recursing; the caller restores p->tree when the chain ends. */
static int chain(struct parser *p, const struct tok *t) {
  if (++p->tree > 4 * iris__tmpl_max_depth())
    return fail_at(p, t, "expression nested too deeply (more than %d chained operations)",
                   4 * iris__tmpl_max_depth());
  return IRIS_OK;
}

/* Refuse Jinja features we do not implement (a clear message instead of wrong output). */
static int unsupported(struct parser *p, const struct tok *t, const char *what) {
  return fail_at(p, t, "%s is not supported by this template engine (see docs/templates.md)", what);
}

/* Add a keyword (name = value, or a parameter with its default) to n->kw. */
static int kw_add(struct parser *p, struct node *n, const char *name, struct node *value) {
  struct kwarg *g = iris__tmpl_alloc(&p->t->arena, (n->nkw + 1) * sizeof *g);
  if (!g)
    return iris_err_set(p->err, IRIS_ENOMEM, "template '%s': syntax tree", p->t->name);
  if (n->nkw)
    memcpy(g, n->kw, n->nkw * sizeof *g);
  g[n->nkw].name = name;
  g[n->nkw].value = value;
  n->kw = g;
  n->nkw++;
  return IRIS_OK;
}

/* A call, filter, test or method takes at most this many positional and as many keyword
 * arguments written out (Python has no such limit; a template has no use for more). */
#define MAX_CALL_ARGS 255

/*
 * After '(': positional and keyword arguments until ')', as Jinja's parser reads them: a
 * trailing comma is allowed, no positional argument after a keyword or an unpacking, a
 * keyword given twice is an error (Python refuses to compile that call). `*args` and
 * `**kwargs` (n->b and n->c) where `dyn` is set: every call but range()'s.
 */
static int parse_call_args(struct parser *p, struct node *n, int dyn) {
  size_t max = MAX_CALL_ARGS;
  int any = 0;
  while (!is_op(peek(p), ")")) {
    const struct tok *t;
    struct node *v;
    if (any && expect_op(p, ","))
      return p->err->rc;
    if (is_op(peek(p), ")"))
      break; /* trailing comma */
    any = 1;
    t = peek(p);
    if (is_op(t, "*") || is_op(t, "**")) {
      int star2 = t->s[1] == '*';
      if (!dyn)
        return unsupported(p, t, "argument unpacking (*args, **kwargs) in range()");
      if (star2 ? n->c != NULL : (n->b != NULL || n->c != NULL))
        return fail_at(p, t, "invalid syntax for function call expression");
      next(p);
      v = parse_expr(p);
      if (!v)
        return p->err->rc;
      if (star2)
        n->c = v;
      else
        n->b = v;
      continue;
    }
    if (t->type == TK_NAME && is_op(peek2(p), "=")) {
      size_t k;
      if (n->c)
        return fail_at(p, t, "invalid syntax for function call expression");
      for (k = 0; k < n->nkw; k++)
        if (strcmp(n->kw[k].name, t->s) == 0)
          return fail_at(p, t, "keyword argument repeated: %s", t->s);
      next(p);
      next(p);
      v = parse_expr(p);
      if (!v || kw_add(p, n, t->s, v))
        return p->err->rc;
      if (n->nkw > max)
        return fail_at(p, t,
                       "more than %zu keyword arguments are not supported by this template "
                       "engine",
                       max);
      continue;
    }
    if (n->nkw || n->b || n->c)
      return fail_at(p, t, "invalid syntax for function call expression");
    v = parse_expr(p);
    if (!v || list_add(p, &n->list, v))
      return p->err->rc;
    if (n->list.n > max)
      return fail_at(p, t, "more than %zu arguments are not supported by this template engine",
                     max);
  }
  next(p); /* ')' */
  return IRIS_OK;
}

/* The names Jinja's environment defines as globals (the sandbox's range(), dict(), lipsum(),
 * cycler(), joiner(), namespace()): range() is implemented, the others refused. */
static int is_refused_global(const char *name) {
  static const char *const g[] = {"dict", "lipsum", "cycler", "joiner", "namespace", NULL};
  size_t i;
  for (i = 0; g[i]; i++)
    if (strcmp(g[i], name) == 0)
      return 1;
  return 0;
}

/* A call of callee: E_CALL with the arguments after '('. */
static struct node *parse_call(struct parser *p, struct node *callee, const struct tok *open) {
  struct node *n = mk(p, E_CALL, open);
  if (!n)
    return NULL;
  n->a = callee;
  if (parse_call_args(p, n, 1))
    return NULL;
  return n;
}

static struct node *parse_primary(struct parser *p) {
  const struct tok *t = next(p);
  struct node *n = NULL;
  switch (t->type) {
  case TK_NAME:
    if (is_name(t, "true") || is_name(t, "True") || is_name(t, "false") || is_name(t, "False")) {
      n = mk(p, E_CONST, t);
      if (n) {
        n->ck = C_BOOL;
        n->i = t->s[0] == 't' || t->s[0] == 'T';
      }
      return n;
    }
    if (is_name(t, "none") || is_name(t, "None")) {
      n = mk(p, E_CONST, t);
      if (n)
        n->ck = C_NONE;
      return n;
    }
    if (is_op(peek(p), "(")) {
      if (strcmp(t->s, "range") == 0) {
        n = mk(p, E_RANGE, t);
        next(p);
        if (n && parse_call_args(p, n, 0) == IRIS_OK) {
          if (n->nkw || n->list.n < 1 || n->list.n > 3) {
            fail_at(p, t, "range() takes 1 to 3 positional arguments");
            return NULL;
          }
          return n;
        }
        return NULL;
      }
      if (is_refused_global(t->s)) {
        fail_at(p, t,
                "calling the Jinja global '%s()' is not supported by this template engine "
                "(see docs/templates.md)",
                t->s);
        return NULL;
      }
    }
    n = mk(p, E_NAME, t);
    if (n)
      n->s = t->s;
    return n;
  case TK_STRING: {
    /* Adjacent string literals concatenate, as in Python. */
    size_t total = t->n, k = p->pos;
    char *s;
    while (p->toks->v[k].type == TK_STRING)
      total += p->toks->v[k++].n;
    s = iris__tmpl_alloc(&p->t->arena, total + 1);
    n = mk(p, E_CONST, t);
    if (!s || !n)
      return NULL;
    memcpy(s, t->s, t->n);
    total = t->n;
    while (peek(p)->type == TK_STRING) {
      const struct tok *u = next(p);
      memcpy(s + total, u->s, u->n);
      total += u->n;
    }
    s[total] = '\0';
    n->ck = C_STR;
    n->s = s;
    n->n = total;
    return n;
  }
  case TK_INT:
    n = mk(p, E_CONST, t);
    if (n) {
      n->ck = C_INT;
      n->i = t->i;
    }
    return n;
  case TK_FLOAT:
    n = mk(p, E_CONST, t);
    if (n) {
      n->ck = C_FLOAT;
      n->f = t->f;
    }
    return n;
  case TK_OP:
    if (is_op(t, "(")) {
      if (is_op(peek(p), ")")) { /* () is the empty tuple */
        next(p);
        return mk(p, E_TUPLE, t);
      }
      n = parse_expr(p);
      if (n && is_op(peek(p), ","))
        n = tuple_rest(p, n, t, ")");
      if (n && expect_op(p, ")"))
        return NULL;
      return n;
    }
    if (is_op(t, "[")) {
      n = mk(p, E_LIST, t);
      while (n && !is_op(peek(p), "]")) {
        struct node *item;
        if (n->list.n && expect_op(p, ","))
          return NULL;
        if (is_op(peek(p), "]"))
          break;
        item = parse_expr(p);
        if (!item || list_add(p, &n->list, item))
          return NULL;
      }
      if (n)
        next(p);
      return n;
    }
    if (is_op(t, "{")) {
      n = mk(p, E_DICT, t);
      while (n && !is_op(peek(p), "}")) {
        struct node *k, *v;
        if (n->list.n && expect_op(p, ","))
          return NULL;
        if (is_op(peek(p), "}"))
          break;
        k = parse_expr(p);
        if (!k || expect_op(p, ":"))
          return NULL;
        v = parse_expr(p);
        if (!v || list_add(p, &n->list, k) || list_add(p, &n->list2, v))
          return NULL;
      }
      if (n)
        next(p);
      return n;
    }
    break;
  default: break;
  }
  fail_at(p, t, "unexpected %s", describe(t));
  return NULL;
}

/* After `first` and a comma: the rest of a tuple, up to (not including) `end` (")" or the end
 * of the tag). A trailing comma is allowed: (1,) is a tuple of one. */
static struct node *tuple_rest(struct parser *p, struct node *first, const struct tok *at,
                               const char *end) {
  struct node *tup = mk(p, E_TUPLE, at);
  if (!tup || list_add(p, &tup->list, first))
    return NULL;
  while (is_op(peek(p), ",")) {
    struct node *item;
    next(p);
    if (end ? is_op(peek(p), end) : peek(p)->type == TK_VAR_END || peek(p)->type == TK_BLOCK_END)
      break;
    item = parse_expr(p);
    if (!item || list_add(p, &tup->list, item))
      return NULL;
  }
  return tup;
}

static struct node *parse_postfix(struct parser *p, struct node *n) {
  int saved = p->tree;
  while (n) {
    const struct tok *t = peek(p);
    if ((is_op(t, ".") || is_op(t, "[") || is_op(t, "|") || is_name(t, "is")) && chain(p, t))
      return NULL;
    if (is_op(t, ".")) {
      const struct tok *name;
      next(p);
      name = next(p);
      if (name->type == TK_INT) {
        struct node *g = mk(p, E_GETITEM, name), *k = mk(p, E_CONST, name);
        if (!g || !k)
          return NULL;
        k->ck = C_INT;
        k->i = name->i;
        g->a = n;
        g->b = k;
        n = g;
        continue;
      }
      if (name->type != TK_NAME) {
        fail_at(p, name, "expected an attribute name after '.', got %s", describe(name));
        return NULL;
      }
      if (is_op(peek(p), "(")) {
        const struct tok *open = next(p);
        struct node *m;
        if (!iris__tmpl_method_known(name->s)) {
          fail_at(p, open,
                  "calling the method '.%s()' is not supported by this template engine "
                  "(see docs/templates.md)",
                  name->s);
          return NULL;
        }
        m = mk(p, E_METHOD, name);
        if (!m)
          return NULL;
        m->s = name->s;
        m->a = n;
        if (parse_call_args(p, m, 1))
          return NULL;
        n = m;
        continue;
      }
      {
        struct node *g = mk(p, E_GETATTR, name);
        if (!g)
          return NULL;
        g->a = n;
        g->s = name->s;
        n = g;
      }
      continue;
    }
    if (is_op(t, "[")) {
      struct node *g, *k = NULL;
      next(p);
      if (is_op(peek(p), "]")) {
        /* x[] subscripts with the empty tuple in Jinja (undefined for any JSON value) */
        k = mk(p, E_TUPLE, peek(p));
        if (!k)
          return NULL;
      } else if (!is_op(peek(p), ":")) {
        k = parse_expr(p);
        if (!k)
          return NULL;
      }
      if (is_op(peek(p), ":")) {
        /* a slice: [start:stop:step], each part optional, as in Python */
        struct node *bounds[3] = {k, NULL, NULL};
        int part;
        g = mk(p, E_SLICE, t);
        if (!g)
          return NULL;
        for (part = 1; part < 3 && is_op(peek(p), ":"); part++) {
          next(p);
          if (!is_op(peek(p), ":") && !is_op(peek(p), "]")) {
            bounds[part] = parse_expr(p);
            if (!bounds[part])
              return NULL;
          }
        }
        if (expect_op(p, "]"))
          return NULL;
        for (part = 0; part < 3; part++)
          if (list_add(p, &g->list, bounds[part]))
            return NULL;
        g->a = n;
        n = g;
        continue;
      }
      if (k && k->kind != E_TUPLE && is_op(peek(p), ",")) {
        /* x[a, b] subscripts with a tuple (undefined for any JSON value) */
        k = tuple_rest(p, k, t, "]");
        if (!k)
          return NULL;
      }
      if (expect_op(p, "]"))
        return NULL;
      g = mk(p, E_GETITEM, t);
      if (!g)
        return NULL;
      g->a = n;
      g->b = k;
      n = g;
      continue;
    }
    if (is_op(t, "(")) {
      if (chain(p, t))
        return NULL;
      next(p);
      n = parse_call(p, n, t);
      continue;
    }
    break;
  }
  p->tree = saved;
  return n;
}

static struct node *parse_filters_and_tests(struct parser *p, struct node *n) {
  int saved = p->tree;
  while (n) {
    const struct tok *t = peek(p);
    if ((is_op(t, ".") || is_op(t, "[") || is_op(t, "|") || is_name(t, "is")) && chain(p, t))
      return NULL;
    if (is_op(t, "|")) {
      const struct tok *name;
      struct node *f;
      next(p);
      name = next(p);
      if (name->type != TK_NAME) {
        fail_at(p, name, "expected a filter name after '|', got %s", describe(name));
        return NULL;
      }
      if (!iris__tmpl_filter_known(name->s)) {
        fail_at(p, name,
                "filter '%s' is not supported by this template engine (see "
                "docs/templates.md)",
                name->s);
        return NULL;
      }
      f = mk(p, E_FILTER, name);
      if (!f)
        return NULL;
      f->s = name->s;
      f->a = n;
      if (is_op(peek(p), "(")) {
        next(p);
        if (parse_call_args(p, f, 1))
          return NULL;
      }
      n = f;
      continue;
    }
    if (is_name(t, "is")) {
      const struct tok *name;
      struct node *x;
      int neg = 0;
      next(p);
      if (is_name(peek(p), "not")) {
        neg = 1;
        next(p);
      }
      name = next(p);
      if (name->type != TK_NAME) {
        fail_at(p, name, "expected a test name after 'is', got %s", describe(name));
        return NULL;
      }
      if (!iris__tmpl_test_known(name->s)) {
        fail_at(p, name, "test '%s' is not supported by this template engine", name->s);
        return NULL;
      }
      x = mk(p, E_TEST, name);
      if (!x)
        return NULL;
      x->s = name->s;
      x->a = n;
      x->neg = neg;
      if (is_op(peek(p), "(")) {
        next(p);
        if (parse_call_args(p, x, 1))
          return NULL;
      } else if (peek(p)->type == TK_INT || peek(p)->type == TK_FLOAT ||
                 peek(p)->type == TK_STRING || is_op(peek(p), "[") || is_op(peek(p), "{") ||
                 (peek(p)->type == TK_NAME && !is_name(peek(p), "and") &&
                  !is_name(peek(p), "or") && !is_name(peek(p), "else"))) {
        /* `x is divisibleby 3`: one argument without parentheses. As in Jinja, any name
         * but and/or/else is taken as that argument (`x is defined if c` is a syntax
         * error there too). */
        struct node *arg;
        if (is_name(peek(p), "is")) {
          fail_at(p, peek(p), "you cannot chain multiple tests with 'is'");
          return NULL;
        }
        arg = parse_primary(p);
        arg = parse_postfix(p, arg);
        if (!arg || list_add(p, &x->list, arg))
          return NULL;
      }
      n = x;
      continue;
    }
    break;
  }
  p->tree = saved;
  return n;
}

static struct node *parse_unary(struct parser *p, int with_filter) {
  const struct tok *t = peek(p);
  struct node *n;
  if (enter(p, t))
    return NULL;
  if (is_op(t, "-") || is_op(t, "+")) {
    next(p);
    n = mk(p, E_UNARY, t);
    if (n) {
      n->op = t->s[0] == '-' ? OP_NEG : OP_POS;
      n->a = parse_unary(p, 0);
      if (!n->a)
        n = NULL;
    }
  } else {
    n = parse_postfix(p, parse_primary(p));
  }
  if (n && with_filter)
    n = parse_filters_and_tests(p, n);
  leave(p);
  return n;
}

static struct node *binop(struct parser *p, const struct tok *at, int op, struct node *a,
                          struct node *b) {
  struct node *n;
  if (!a || !b || chain(p, at))
    return NULL;
  n = mk(p, E_BINOP, at);
  if (n) {
    n->op = op;
    n->a = a;
    n->b = b;
  }
  return n;
}

static struct node *parse_pow(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_unary(p, 1);
  while (n && is_op(peek(p), "**")) {
    const struct tok *t = next(p);
    n = binop(p, t, OP_POW, n, parse_unary(p, 1));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_math2(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_pow(p);
  while (n) {
    const struct tok *t = peek(p);
    int op = is_op(t, "*")    ? OP_MUL
             : is_op(t, "/")  ? OP_DIV
             : is_op(t, "//") ? OP_FLOORDIV
             : is_op(t, "%")  ? OP_MOD
                              : 0;
    if (!op)
      break;
    next(p);
    n = binop(p, t, op, n, parse_pow(p));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_concat(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_math2(p);
  while (n && is_op(peek(p), "~")) {
    const struct tok *t = next(p);
    n = binop(p, t, OP_CONCAT, n, parse_math2(p));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_math1(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_concat(p);
  while (n) {
    const struct tok *t = peek(p);
    int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : 0;
    if (!op)
      break;
    next(p);
    n = binop(p, t, op, n, parse_concat(p));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_compare(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_math1(p);
  /* Python chains comparisons: a < b < c is (a < b) and (b < c) with b evaluated once. */
  struct node *chainn = NULL;
  char ops[65];
  int seen = 0;
  while (n) {
    const struct tok *t = peek(p);
    int op = is_op(t, "==")     ? OP_EQ
             : is_op(t, "!=")   ? OP_NE
             : is_op(t, "<")    ? OP_LT
             : is_op(t, "<=")   ? OP_LE
             : is_op(t, ">")    ? OP_GT
             : is_op(t, ">=")   ? OP_GE
             : is_name(t, "in") ? OP_IN
                                : 0;
    if (!op && is_name(t, "not") && is_name(peek2(p), "in")) {
      next(p);
      op = OP_NOTIN;
    }
    if (!op)
      break;
    next(p);
    if (seen == 1) {
      /* the second operator: turn the first comparison into a chain */
      chainn = mk(p, E_CMPCHAIN, t);
      if (!chainn || list_add(p, &chainn->list, n->a) || list_add(p, &chainn->list, n->b))
        return NULL;
      chainn->line = n->line;
      chainn->col = n->col;
      ops[0] = (char)n->op;
      n = chainn;
    }
    if (seen >= 64) {
      fail_at(p, t, "more than 64 chained comparisons");
      return NULL;
    }
    if (seen++ == 0) {
      n = binop(p, t, op, n, parse_math1(p));
    } else {
      struct node *operand = parse_math1(p);
      if (!operand || chain(p, t) || list_add(p, &chainn->list, operand))
        return NULL;
      ops[seen - 1] = (char)op;
    }
  }
  if (n && chainn) {
    char *codes = iris__tmpl_alloc(&p->t->arena, (size_t)seen + 1);
    if (!codes) {
      iris_err_set(p->err, IRIS_ENOMEM, "template '%s': syntax tree", p->t->name);
      return NULL;
    }
    memcpy(codes, ops, (size_t)seen);
    chainn->s = codes;
    chainn->n = (size_t)seen;
  }
  p->tree = saved;
  return n;
}

static struct node *parse_not(struct parser *p) {
  const struct tok *t = peek(p);
  if (is_name(t, "not")) {
    struct node *n;
    if (enter(p, t))
      return NULL;
    next(p);
    n = mk(p, E_UNARY, t);
    if (n) {
      n->op = OP_NOT;
      n->a = parse_not(p);
      if (!n->a)
        n = NULL;
    }
    leave(p);
    return n;
  }
  return parse_compare(p);
}

static struct node *parse_and(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_not(p);
  while (n && is_name(peek(p), "and")) {
    const struct tok *t = next(p);
    n = binop(p, t, OP_AND, n, parse_not(p));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_or(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_and(p);
  while (n && is_name(peek(p), "or")) {
    const struct tok *t = next(p);
    n = binop(p, t, OP_OR, n, parse_and(p));
  }
  p->tree = saved;
  return n;
}

static struct node *parse_expr(struct parser *p) {
  struct node *n;
  if (enter(p, peek(p)))
    return NULL;
  n = parse_cond(p);
  leave(p);
  return n;
}

static struct node *parse_cond(struct parser *p) {
  int saved = p->tree;
  struct node *n = parse_or(p);
  while (n && is_name(peek(p), "if")) {
    const struct tok *t = next(p);
    struct node *c = mk(p, E_COND, t);
    if (!c)
      return NULL;
    if (chain(p, t))
      return NULL;
    c->b = n;
    c->a = parse_or(p);
    if (!c->a)
      return NULL;
    if (is_name(peek(p), "else")) {
      next(p);
      c->c = parse_expr(p);
      if (!c->c)
        return NULL;
    }
    n = c;
  }
  p->tree = saved;
  return n;
}

/* ---- statements ------------------------------------------------------------------------ */

static int parse_body(struct parser *p, struct node_list *body, const char *const *stop,
                      const struct tok **stopped);

static int expect_block_end(struct parser *p) {
  const struct tok *t = peek(p);
  if (t->type != TK_BLOCK_END)
    return fail_at(p, t, "expected '%%}', got %s", describe(t));
  next(p);
  return IRIS_OK;
}

/* The end of a tag that opens a body: Jinja accepts a colon before '%}' there
 * ({% for x in y: %}, {% else: %}). */
static int expect_body_start(struct parser *p) {
  if (is_op(peek(p), ":"))
    next(p);
  return expect_block_end(p);
}

/* A name a template may assign (set, for, macro and its parameters): Jinja refuses the
 * constants. */
static const struct tok *assign_target(struct parser *p, const char *what) {
  const struct tok *t = next(p);
  if (t->type != TK_NAME) {
    fail_at(p, t, "expected %s, got %s", what, describe(t));
    return NULL;
  }
  if (is_name(t, "true") || is_name(t, "True") || is_name(t, "false") || is_name(t, "False") ||
      is_name(t, "none") || is_name(t, "None")) {
    fail_at(p, t, "can't assign to the constant '%s'", t->s);
    return NULL;
  }
  return t;
}

/* An if/elif condition: Jinja reads a tuple there, without the conditional expression
 * (`{% if a if b else c %}` is a syntax error, `{% if a, b %}` tests a tuple). */
static struct node *parse_condition(struct parser *p, const struct tok *at) {
  struct node *n = parse_or(p);
  if (n && is_op(peek(p), ","))
    n = tuple_rest(p, n, at, NULL);
  return n;
}

static int parse_if(struct parser *p, const struct tok *at, struct node **out) {
  static const char *const stops[] = {"elif", "else", "endif", NULL};
  struct node *n = mk(p, N_IF, at);
  const struct tok *stopped = NULL;
  if (!n)
    return p->err->rc;
  for (;;) {
    struct node *cond = parse_condition(p, at), *holder;
    if (!cond || expect_body_start(p))
      return p->err->rc;
    holder = mk(p, N_TEXT, at); /* carries the branch body in its list */
    if (!holder || list_add(p, &n->list, cond) || list_add(p, &n->list, holder))
      return p->err->rc;
    if (parse_body(p, &holder->list, stops, &stopped))
      return p->err->rc;
    if (strcmp(stopped->s, "elif") == 0)
      continue;
    if (strcmp(stopped->s, "else") == 0) {
      static const char *const end[] = {"endif", NULL};
      if (expect_body_start(p) || parse_body(p, &n->list2, end, &stopped))
        return p->err->rc;
    }
    break;
  }
  *out = n;
  return expect_block_end(p);
}

static int parse_for(struct parser *p, const struct tok *at, struct node **out) {
  static const char *const stops[] = {"else", "endfor", NULL};
  struct node *n = mk(p, N_FOR, at);
  const struct tok *t = assign_target(p, "a loop variable after 'for'"), *stopped = NULL;
  if (!n || !t)
    return p->err->rc;
  n->s = t->s;
  if (is_op(peek(p), ",")) {
    next(p);
    t = assign_target(p, "a second loop variable");
    if (!t)
      return p->err->rc;
    n->s2 = t->s;
    if (is_op(peek(p), ","))
      return unsupported(p, peek(p), "unpacking into more than two loop variables");
  }
  if (!is_name(peek(p), "in"))
    return fail_at(p, peek(p), "expected 'in', got %s", describe(peek(p)));
  next(p);
  n->a = parse_or(p);
  if (n->a && is_op(peek(p), ",")) /* for x in a, b: over a tuple */
    n->a = tuple_rest(p, n->a, t, NULL);
  if (!n->a)
    return p->err->rc;
  if (is_name(peek(p), "if")) {
    /* a loop filter: only the items for which the condition holds are looped over */
    next(p);
    n->b = parse_expr(p);
    if (!n->b)
      return p->err->rc;
  }
  if (is_name(peek(p), "recursive"))
    return unsupported(p, peek(p), "a recursive loop");
  p->in_for++;
  if (expect_body_start(p) || parse_body(p, &n->list, stops, &stopped))
    return p->err->rc;
  p->in_for--;
  if (strcmp(stopped->s, "else") == 0) {
    static const char *const end[] = {"endfor", NULL};
    if (expect_body_start(p) || parse_body(p, &n->list2, end, &stopped))
      return p->err->rc;
  }
  *out = n;
  return expect_block_end(p);
}

static int parse_set(struct parser *p, const struct tok *at, struct node **out) {
  const struct tok *t = assign_target(p, "a variable name after 'set'");
  struct node *n;
  if (!t)
    return p->err->rc;
  if (p->in_for && strcmp(t->s, "loop") == 0)
    return fail_at(p, t, "can't assign to the special loop variable inside a for loop");
  if (is_op(peek(p), ",") || is_op(peek(p), "."))
    return unsupported(p, peek(p), "assigning to several names or to an attribute");
  if (peek(p)->type == TK_BLOCK_END || is_op(peek(p), ":")) {
    static const char *const end[] = {"endset", NULL};
    const struct tok *stopped = NULL;
    n = mk(p, N_SETBLOCK, at);
    if (!n)
      return p->err->rc;
    n->s = t->s;
    if (expect_body_start(p) || parse_body(p, &n->list, end, &stopped) || expect_block_end(p))
      return p->err->rc;
    *out = n;
    return IRIS_OK;
  }
  if (is_op(peek(p), "|"))
    return unsupported(p, peek(p), "a filtered block assignment");
  if (expect_op(p, "="))
    return p->err->rc;
  n = mk(p, N_SET, at);
  if (!n)
    return p->err->rc;
  n->s = t->s;
  n->a = parse_expr(p);
  if (n->a && is_op(peek(p), ",")) /* {% set x = a, b %} stores a tuple */
    n->a = tuple_rest(p, n->a, t, NULL);
  if (!n->a)
    return p->err->rc;
  *out = n;
  return expect_block_end(p);
}

/* A macro's or call block's parameters after '(' (Jinja's parse_signature): names, each
 * optionally `= default`; no parameter without a default after one with; no trailing comma;
 * no name twice (Python refuses a function with two parameters of one name). */
static int parse_signature(struct parser *p, struct node *n) {
  while (!is_op(peek(p), ")")) {
    const struct tok *t;
    struct node *dflt = NULL;
    size_t k;
    if (n->nkw && expect_op(p, ","))
      return p->err->rc;
    if (!(t = assign_target(p, "a parameter name")))
      return p->err->rc;
    for (k = 0; k < n->nkw; k++)
      if (strcmp(n->kw[k].name, t->s) == 0)
        return fail_at(p, t, "duplicate argument '%s' in the definition", t->s);
    if (is_op(peek(p), "=")) {
      next(p);
      if (!(dflt = parse_expr(p)))
        return p->err->rc;
    } else if (n->nkw && n->kw[n->nkw - 1].value) {
      return fail_at(p, t, "non-default argument follows default argument");
    }
    if (kw_add(p, n, t->s, dflt))
      return p->err->rc;
    if (n->nkw > MAX_CALL_ARGS)
      return fail_at(p, t, "more than %d parameters are not supported by this template engine",
                     MAX_CALL_ARGS);
  }
  next(p); /* ')' */
  return IRIS_OK;
}

/* {% macro name(params) %}body{% endmacro %} */
static int parse_macro(struct parser *p, const struct tok *at, struct node **out) {
  static const char *const end[] = {"endmacro", NULL};
  const struct tok *t = assign_target(p, "a macro name"), *stopped = NULL;
  struct node *n = mk(p, N_MACRO, at);
  if (!t || !n)
    return p->err->rc;
  n->s = t->s;
  if (expect_op(p, "(") || parse_signature(p, n) || expect_body_start(p) ||
      parse_body(p, &n->list, end, &stopped))
    return p->err->rc;
  *out = n;
  return expect_block_end(p);
}

/* {% call[(params)] callee(args) %}body{% endcall %}: the body is the callee's `caller`. */
static int parse_callblock(struct parser *p, const struct tok *at, struct node **out) {
  static const char *const end[] = {"endcall", NULL};
  const struct tok *stopped = NULL;
  struct node *n = mk(p, N_CALLBLOCK, at);
  size_t k;
  if (!n)
    return p->err->rc;
  if (is_op(peek(p), "(")) {
    next(p);
    if (parse_signature(p, n))
      return p->err->rc;
  }
  if (!(n->a = parse_expr(p)))
    return p->err->rc;
  if (n->a->kind != E_CALL && n->a->kind != E_METHOD && n->a->kind != E_RANGE)
    return fail_at(p, at, "expected call");
  for (k = 0; k < n->a->nkw; k++)
    if (strcmp(n->a->kw[k].name, "caller") == 0)
      return fail_at(p, at, "keyword argument repeated: caller");
  if (expect_body_start(p) || parse_body(p, &n->list, end, &stopped))
    return p->err->rc;
  *out = n;
  return expect_block_end(p);
}

static int parse_body(struct parser *p, struct node_list *body, const char *const *stop,
                      const struct tok **stopped) {
  static const char *const refused[] = {"include", "import", "from",       "extends", "block",
                                        "filter",  "with",   "autoescape", "break",   "continue",
                                        "do",      "trans",  "pluralize",  NULL};
  if (enter(p, peek(p)))
    return p->err->rc;
  for (;;) {
    const struct tok *t = next(p);
    struct node *n = NULL;
    size_t k;
    if (t->type == TK_EOF) {
      if (stop)
        return fail_at(p, t, "unexpected end of template, expected '%s'", stop[0]);
      break;
    }
    if (t->type == TK_TEXT) {
      n = mk(p, N_TEXT, t);
      if (!n)
        return p->err->rc;
      n->s = t->s;
      n->n = t->n;
    } else if (t->type == TK_VAR_BEGIN) {
      n = mk(p, N_OUTPUT, t);
      if (!n)
        return p->err->rc;
      n->a = parse_expr(p);
      if (n->a && is_op(peek(p), ",")) /* {{ a, b }} prints a tuple */
        n->a = tuple_rest(p, n->a, t, NULL);
      if (!n->a)
        return p->err->rc;
      if (peek(p)->type != TK_VAR_END)
        return fail_at(p, peek(p), "expected '}}', got %s", describe(peek(p)));
      next(p);
    } else if (t->type == TK_BLOCK_BEGIN) {
      const struct tok *kw = next(p);
      if (kw->type != TK_NAME)
        return fail_at(p, kw, "expected a tag name after '{%%', got %s", describe(kw));
      for (k = 0; stop && stop[k]; k++) {
        if (strcmp(kw->s, stop[k]) == 0) {
          *stopped = kw;
          leave(p);
          return IRIS_OK;
        }
      }
      if (strcmp(kw->s, "if") == 0) {
        if (parse_if(p, kw, &n))
          return p->err->rc;
      } else if (strcmp(kw->s, "for") == 0) {
        if (parse_for(p, kw, &n))
          return p->err->rc;
      } else if (strcmp(kw->s, "set") == 0) {
        if (parse_set(p, kw, &n))
          return p->err->rc;
      } else if (strcmp(kw->s, "macro") == 0) {
        if (parse_macro(p, kw, &n))
          return p->err->rc;
      } else if (strcmp(kw->s, "call") == 0) {
        if (parse_callblock(p, kw, &n))
          return p->err->rc;
      } else {
        for (k = 0; refused[k]; k++)
          if (strcmp(kw->s, refused[k]) == 0)
            return fail_at(p, kw,
                           "the '%s' tag is not supported by this template engine (see "
                           "docs/templates.md)",
                           kw->s);
        if (stop)
          return fail_at(p, kw, "unexpected tag '%s', expected '%s'", kw->s, stop[0]);
        return fail_at(p, kw, "unknown tag '%s'", kw->s);
      }
    } else {
      return fail_at(p, t, "unexpected %s", describe(t));
    }
    if (list_add(p, body, n))
      return p->err->rc;
  }
  leave(p);
  return IRIS_OK;
}

int iris__tmpl_parse(struct iris_tmpl *t, const struct tok_list *toks, struct iris_err *err) {
  struct parser p;
  memset(&p, 0, sizeof p);
  p.t = t;
  p.toks = toks;
  p.err = err;
  if (parse_body(&p, &t->body, NULL, NULL))
    return err->rc ? err->rc : IRIS_ETEMPLATE;
  if (t->arena.oom)
    return iris_err_set(err, IRIS_ENOMEM, "template '%s': out of memory", t->name);
  return IRIS_OK;
}
