/*
 * tmpl_scope.c — Jinja's symbol analysis, done once after parsing, so that names resolve as
 * Jinja resolves them (its compiler decides statically, per frame, where each name comes
 * from; the renderer here looks names up at run time and needs two facts from that analysis):
 *
 *   1. which names start *missing* in each frame — stored in the frame before any read of
 *      them there and unknown to the frames around it (Jinja's VAR_LOAD_UNDEFINED). Until
 *      the frame sets such a name, reading it — from the frame, a loop or a macro inside it —
 *      is undefined even when the context has the name ({% macro m() %}{{ x }}{% endmacro
 *      %}{{ m() }}{% set x = 1 %} prints nothing for the first call, whatever the context);
 *   2. which macros and call blocks read `caller`, `varargs` and `kwargs` (Jinja's
 *      find_undeclared): only those accept a caller, extra positional or extra keyword
 *      arguments.
 *
 * Frames are Jinja's: the template's top level, a for loop's body and its else (each
 * separate), a macro's or call block's body, a {% set %} block's body. `if` opens none.
 * Called by iris_tmpl_compile (tmpl_render.c) after iris__tmpl_parse; the results live in the
 * template's arena (node->scope, node->op, t->scope).
 */
#include <stdarg.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"

enum load { L_PARAM, L_RESOLVE, L_ALIAS, L_UNDEF };

struct ref {
  const char *name;
  enum load load;
};

/* One frame's symbols (Jinja's Symbols): refs by name, the names stored, the frame around. */
struct syms {
  const struct syms *parent;
  struct ref *refs;
  size_t nrefs, caprefs;
  const char **stores;
  size_t nstores, capstores;
};

/* The analysis of one template and its first error. */
struct scoper {
  struct iris_tmpl *t;
  struct iris_err *err;
  int rc;
};

static void syms_free(struct syms *s) {
  iris_free(s->refs);
  iris_free(s->stores);
  s->refs = NULL;
  s->stores = NULL;
  s->nrefs = s->caprefs = s->nstores = s->capstores = 0;
}

static int oom(struct scoper *sc) {
  if (!sc->rc)
    sc->rc = iris_err_set(sc->err, IRIS_ENOMEM, "template '%s': out of memory", sc->t->name);
  return sc->rc;
}

static int fail_node(struct scoper *sc, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_node(struct scoper *sc, const struct node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sc->rc = iris__tmpl_verr(sc->err, sc->t->name, n->line, n->col, fmt, ap);
  va_end(ap);
  return sc->rc;
}

static struct ref *own_ref(const struct syms *s, const char *name) {
  size_t i;
  for (i = 0; i < s->nrefs; i++)
    if (strcmp(s->refs[i].name, name) == 0)
      return &s->refs[i];
  return NULL;
}

static int find_ref(const struct syms *s, const char *name) {
  for (; s; s = s->parent)
    if (own_ref(s, name))
      return 1;
  return 0;
}

static int has_store(const struct syms *s, const char *name) {
  size_t i;
  for (i = 0; i < s->nstores; i++)
    if (strcmp(s->stores[i], name) == 0)
      return 1;
  return 0;
}

/* Define (or redefine) name's ref in s. */
static int define(struct scoper *sc, struct syms *s, const char *name, enum load load) {
  struct ref *r = own_ref(s, name);
  if (r) {
    r->load = load;
    return IRIS_OK;
  }
  if (s->nrefs == s->caprefs) {
    size_t cap = s->caprefs ? s->caprefs * 2 : 8;
    struct ref *g = iris_realloc(s->refs, cap * sizeof *g);
    if (!g)
      return oom(sc);
    s->refs = g;
    s->caprefs = cap;
  }
  s->refs[s->nrefs].name = name;
  s->refs[s->nrefs].load = load;
  s->nrefs++;
  return IRIS_OK;
}

static int add_store(struct scoper *sc, struct syms *s, const char *name) {
  if (has_store(s, name))
    return IRIS_OK;
  if (s->nstores == s->capstores) {
    size_t cap = s->capstores ? s->capstores * 2 : 8;
    const char **g = iris_realloc(s->stores, cap * sizeof *g);
    if (!g)
      return oom(sc);
    s->stores = g;
    s->capstores = cap;
  }
  s->stores[s->nstores++] = name;
  return IRIS_OK;
}

/* A read: a name no frame knows yet is resolved from the context when the frame starts. */
static int sym_load(struct scoper *sc, struct syms *s, const char *name) {
  return find_ref(s, name) ? IRIS_OK : define(sc, s, name, L_RESOLVE);
}

/* An assignment: a name this frame has not seen aliases the frame around's when that one
 * knows it, else starts missing. */
static int sym_store(struct scoper *sc, struct syms *s, const char *name) {
  if (add_store(sc, s, name))
    return sc->rc;
  if (own_ref(s, name))
    return IRIS_OK;
  return define(sc, s, name, s->parent && find_ref(s->parent, name) ? L_ALIAS : L_UNDEF);
}

static int sym_param(struct scoper *sc, struct syms *s, const char *name) {
  if (add_store(sc, s, name))
    return sc->rc;
  return define(sc, s, name, L_PARAM);
}

static int sym_copy(struct scoper *sc, const struct syms *from, struct syms *to) {
  memset(to, 0, sizeof *to);
  to->parent = from->parent;
  if (from->nrefs) {
    to->refs = iris_malloc(from->nrefs * sizeof *to->refs);
    if (!to->refs)
      return oom(sc);
    memcpy(to->refs, from->refs, from->nrefs * sizeof *to->refs);
    to->nrefs = to->caprefs = from->nrefs;
  }
  if (from->nstores) {
    to->stores = iris_malloc(from->nstores * sizeof *to->stores);
    if (!to->stores)
      return oom(sc);
    memcpy(to->stores, from->stores, from->nstores * sizeof *to->stores);
    to->nstores = to->capstores = from->nstores;
  }
  return IRIS_OK;
}

/* After the branches of an if (each analysed on a copy of s): s takes their refs; a name a
 * branch stored that s did not is resolved (or aliased) when the frame starts, since no one
 * knows which branch runs. */
static int branch_update(struct scoper *sc, struct syms *s, struct syms *br, size_t nbr) {
  size_t b, i;
  const char **stored = NULL;
  size_t nstored = 0, cap = 0;
  int rc = IRIS_OK;
  for (b = 0; b < nbr && !rc; b++)
    for (i = 0; i < br[b].nstores && !rc; i++) {
      const char *name = br[b].stores[i];
      size_t k;
      int dup = has_store(s, name);
      for (k = 0; k < nstored && !dup; k++)
        dup = strcmp(stored[k], name) == 0;
      if (dup)
        continue;
      if (nstored == cap) {
        const char **g;
        cap = cap ? cap * 2 : 8;
        if (!(g = iris_realloc(stored, cap * sizeof *g))) {
          rc = oom(sc);
          break;
        }
        stored = g;
      }
      stored[nstored++] = name;
    }
  for (b = 0; b < nbr && !rc; b++) {
    for (i = 0; i < br[b].nrefs && !rc; i++)
      rc = define(sc, s, br[b].refs[i].name, br[b].refs[i].load);
    for (i = 0; i < br[b].nstores && !rc; i++)
      rc = add_store(sc, s, br[b].stores[i]);
  }
  for (i = 0; i < nstored && !rc; i++)
    rc = define(sc, s, stored[i],
                s->parent && find_ref(s->parent, stored[i]) ? L_ALIAS : L_RESOLVE);
  iris_free(stored);
  return rc;
}

/* Frames found inside the frame being analysed, analysed after it (they see its final
 * symbols, as Jinja's compiler analyses an inner frame when it reaches it). */
struct pending {
  struct node **v;
  size_t n, cap;
};

static int pend(struct scoper *sc, struct pending *pd, struct node *n) {
  if (pd->n == pd->cap) {
    size_t cap = pd->cap ? pd->cap * 2 : 8;
    struct node **g = iris_realloc(pd->v, cap * sizeof *g);
    if (!g)
      return oom(sc);
    pd->v = g;
    pd->cap = cap;
  }
  pd->v[pd->n++] = n;
  return IRIS_OK;
}

/* Every name an expression reads (order does not matter: an expression only reads). */
static int visit_expr(struct scoper *sc, struct syms *s, const struct node *e) {
  size_t i;
  if (!e || sc->rc)
    return sc->rc;
  if (e->kind == E_NAME)
    return sym_load(sc, s, e->s);
  if (visit_expr(sc, s, e->a) || visit_expr(sc, s, e->b) || visit_expr(sc, s, e->c))
    return sc->rc;
  for (i = 0; i < e->list.n; i++)
    if (visit_expr(sc, s, e->list.v[i]))
      return sc->rc;
  for (i = 0; i < e->list2.n; i++)
    if (visit_expr(sc, s, e->list2.v[i]))
      return sc->rc;
  for (i = 0; i < e->nkw; i++)
    if (visit_expr(sc, s, e->kw[i].value))
      return sc->rc;
  return IRIS_OK;
}

static int visit_stmts(struct scoper *sc, struct syms *s, const struct node_list *l,
                       struct pending *pd);

/* One if/elif branch's body on a copy of s (the caller merges the copies). */
static int visit_branch(struct scoper *sc, const struct syms *s, const struct node_list *body,
                        struct pending *pd, struct syms *out) {
  if (sym_copy(sc, s, out))
    return sc->rc;
  return visit_stmts(sc, out, body, pd);
}

/*
 * The statements of one frame, as Jinja's FrameSymbolVisitor walks them: an assignment reads
 * its value before it stores; a for loop contributes only its iterable (its body and else
 * are frames of their own); a macro stores its name; a call block reads its call; a set
 * block stores its name (its body is a frame). `if` branches are analysed on copies merged
 * afterwards; each elif is an if nested in the elif branch, as Jinja's parser builds it.
 */
static int visit_stmt(struct scoper *sc, struct syms *s, struct node *n, struct pending *pd) {
  switch (n->kind) {
  case N_TEXT: return IRIS_OK;
  case N_OUTPUT: return visit_expr(sc, s, n->a);
  case N_SET:
    if (visit_expr(sc, s, n->a))
      return sc->rc;
    return sym_store(sc, s, n->s);
  case N_SETBLOCK:
    if (sym_store(sc, s, n->s))
      return sc->rc;
    return pend(sc, pd, n);
  case N_MACRO:
    if (sym_store(sc, s, n->s))
      return sc->rc;
    return pend(sc, pd, n);
  case N_CALLBLOCK:
    if (visit_expr(sc, s, n->a))
      return sc->rc;
    return pend(sc, pd, n);
  case N_FOR:
    if (visit_expr(sc, s, n->a))
      return sc->rc;
    return pend(sc, pd, n);
  case N_IF: {
    struct syms br[3];
    size_t k, nb = 0;
    memset(br, 0, sizeof br);
    /* list: (condition, holder) pairs; the first is the if, the others elifs */
    if (visit_expr(sc, s, n->list.v[0]))
      return sc->rc;
    if (visit_branch(sc, s, &n->list.v[1]->list, pd, &br[nb++]) == IRIS_OK &&
        sym_copy(sc, s, &br[nb++]) == IRIS_OK) {
      struct syms *elifs = &br[1];
      for (k = 2; k + 1 < n->list.n && !sc->rc; k += 2) {
        struct syms body;
        memset(&body, 0, sizeof body);
        if (visit_expr(sc, elifs, n->list.v[k]) == IRIS_OK &&
            visit_branch(sc, elifs, &n->list.v[k + 1]->list, pd, &body) == IRIS_OK)
          branch_update(sc, elifs, &body, 1);
        syms_free(&body);
      }
      if (!sc->rc)
        visit_branch(sc, s, &n->list2, pd, &br[nb++]);
      if (!sc->rc)
        branch_update(sc, s, br, nb);
    }
    for (k = 0; k < 3; k++)
      syms_free(&br[k]);
    return sc->rc;
  }
  default: return IRIS_OK;
  }
}

static int visit_stmts(struct scoper *sc, struct syms *s, const struct node_list *l,
                       struct pending *pd) {
  size_t i;
  for (i = 0; i < l->n && !sc->rc; i++)
    visit_stmt(sc, s, l->v[i], pd);
  return sc->rc;
}

/* ---- find_undeclared: does a body read caller / varargs / kwargs before assigning them? -- */

/*
 * Jinja's UndeclaredNameVisitor over a macro's body: every node in its fields' order; a read
 * of a watched name marks it, an assignment or a parameter of that name (in the body or in a
 * macro nested in it) stops watching it. Unlike the symbol analysis it descends into nested
 * loops and macros. `want` and `seen` are MACRO_* bits.
 */
static void undeclared(const struct node *n, int *want, int *seen);

static int watched_bit(const char *name) {
  if (strcmp(name, "caller") == 0)
    return MACRO_CALLER;
  if (strcmp(name, "varargs") == 0)
    return MACRO_VARARGS;
  if (strcmp(name, "kwargs") == 0)
    return MACRO_KWARGS;
  return 0;
}

static void assigned(const char *name, int *want) {
  if (name)
    *want &= ~watched_bit(name);
}

static void undeclared_list(const struct node_list *l, int *want, int *seen) {
  size_t i;
  for (i = 0; i < l->n; i++)
    undeclared(l->v[i], want, seen);
}

static void undeclared(const struct node *n, int *want, int *seen) {
  size_t i;
  if (!n || !*want)
    return;
  switch (n->kind) {
  case E_NAME: *seen |= *want & watched_bit(n->s); return;
  case N_SET: /* Jinja's Assign: the target, then the value */
  case N_SETBLOCK:
    assigned(n->s, want);
    undeclared(n->a, want, seen);
    undeclared_list(&n->list, want, seen);
    return;
  case N_FOR: /* target, iterable, body, else, filter */
    assigned(n->s, want);
    assigned(n->s2, want);
    undeclared(n->a, want, seen);
    undeclared_list(&n->list, want, seen);
    undeclared_list(&n->list2, want, seen);
    undeclared(n->b, want, seen);
    return;
  case N_MACRO:
  case N_CALLBLOCK: /* (call), parameters, defaults, body */
    if (n->kind == N_CALLBLOCK)
      undeclared(n->a, want, seen);
    for (i = 0; i < n->nkw; i++)
      assigned(n->kw[i].name, want);
    for (i = 0; i < n->nkw; i++)
      undeclared(n->kw[i].value, want, seen);
    undeclared_list(&n->list, want, seen);
    return;
  default:
    undeclared(n->a, want, seen);
    undeclared(n->b, want, seen);
    undeclared(n->c, want, seen);
    undeclared_list(&n->list, want, seen);
    undeclared_list(&n->list2, want, seen);
    for (i = 0; i < n->nkw; i++)
      undeclared(n->kw[i].value, want, seen);
    return;
  }
}

/* ---- frames ------------------------------------------------------------------------------ */

enum frame_kind { F_ROOT, F_FOR_BODY, F_FOR_ELSE, F_MACRO, F_SETBLOCK };

/* The names of s that start missing, as a scope in the arena (NULL when there are none). */
static const struct tmpl_scope *missing_names(struct scoper *sc, const struct syms *s) {
  struct tmpl_scope *scope;
  size_t i, n = 0;
  for (i = 0; i < s->nrefs; i++)
    n += s->refs[i].load == L_UNDEF;
  if (!n)
    return NULL;
  scope = iris__tmpl_alloc(&sc->t->arena, sizeof *scope);
  if (!scope || !(scope->names = iris__tmpl_alloc(&sc->t->arena, n * sizeof *scope->names))) {
    oom(sc);
    return NULL;
  }
  for (i = 0; i < s->nrefs; i++)
    if (s->refs[i].load == L_UNDEF)
      scope->names[scope->n++] = s->refs[i].name;
  return scope;
}

/* A macro's or call block's special parameters, into n->op: which of caller, varargs and
 * kwargs its body reads (varargs and kwargs only when they are not parameters themselves),
 * and whether caller is a parameter (then it needs a default if the body reads it). */
static int macro_flags(struct scoper *sc, struct node *n) {
  int want = MACRO_CALLER | MACRO_VARARGS | MACRO_KWARGS, seen = 0, skip = 0;
  size_t i;
  const struct kwarg *caller = NULL;
  for (i = 0; i < n->nkw; i++) {
    if (strcmp(n->kw[i].name, "caller") == 0)
      caller = &n->kw[i];
    else
      skip |= watched_bit(n->kw[i].name);
  }
  undeclared_list(&n->list, &want, &seen);
  n->op = seen & ~skip;
  if (caller) {
    n->op |= MACRO_EXPLICIT_CALLER;
    if ((seen & MACRO_CALLER) && !caller->value) {
      return fail_node(sc, n,
                       "When defining macros or call blocks the special \"caller\" argument "
                       "must be omitted or be given a default.");
    }
  }
  return IRIS_OK;
}

static int analyse(struct scoper *sc, const struct syms *parent, struct node *n,
                   enum frame_kind kind, const struct tmpl_scope **out) {
  struct syms s;
  struct pending pd = {0};
  size_t i;
  memset(&s, 0, sizeof s);
  s.parent = parent;
  switch (kind) {
  case F_ROOT: visit_stmts(sc, &s, &sc->t->body, &pd); break;
  case F_FOR_BODY:
    if (!sym_param(sc, &s, n->s) && (!n->s2 || !sym_param(sc, &s, n->s2)))
      visit_stmts(sc, &s, &n->list, &pd);
    break;
  case F_FOR_ELSE: visit_stmts(sc, &s, &n->list2, &pd); break;
  case F_SETBLOCK: visit_stmts(sc, &s, &n->list, &pd); break;
  case F_MACRO:
    if (macro_flags(sc, n))
      break;
    for (i = 0; i < n->nkw && !sc->rc; i++)
      sym_param(sc, &s, n->kw[i].name);
    for (i = 0; i < n->nkw && !sc->rc; i++)
      visit_expr(sc, &s, n->kw[i].value);
    if (!sc->rc)
      visit_stmts(sc, &s, &n->list, &pd);
    /* the compiler declares the special parameters after a first analysis */
    if (!sc->rc && (n->op & MACRO_CALLER) && !(n->op & MACRO_EXPLICIT_CALLER))
      sym_param(sc, &s, "caller");
    if (!sc->rc && (n->op & MACRO_KWARGS))
      sym_param(sc, &s, "kwargs");
    if (!sc->rc && (n->op & MACRO_VARARGS))
      sym_param(sc, &s, "varargs");
    break;
  }
  if (!sc->rc)
    *out = missing_names(sc, &s);
  for (i = 0; i < pd.n && !sc->rc; i++) {
    struct node *m = pd.v[i];
    switch (m->kind) {
    case N_FOR:
      if (analyse(sc, &s, m, F_FOR_BODY, &m->scope[0]) == IRIS_OK && m->list2.n)
        analyse(sc, &s, m, F_FOR_ELSE, &m->scope[1]);
      break;
    case N_SETBLOCK: analyse(sc, &s, m, F_SETBLOCK, &m->scope[0]); break;
    default: analyse(sc, &s, m, F_MACRO, &m->scope[0]); break;
    }
  }
  iris_free(pd.v);
  syms_free(&s);
  return sc->rc;
}

int iris__tmpl_scopes(struct iris_tmpl *t, struct iris_err *err) {
  struct scoper sc;
  sc.t = t;
  sc.err = err;
  sc.rc = IRIS_OK;
  return analyse(&sc, NULL, NULL, F_ROOT, &t->scope);
}
