/*
 * tmpl_render.c — the public API (tmpl.h) and the tree walker: scopes as Jinja has them
 * (a `set` inside a loop body stays in that iteration; `set` at the top level is visible
 * after it), the `loop` variable, Undefined as Jinja's default Undefined (prints empty,
 * iterates empty, is falsy, but an attribute of it is an error), dict attribute lookup
 * that refuses dict method names, and limits on iterations, nesting and output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "tmpl_int.h"

int iris__tmpl_fail(struct rctx *r, const char *fmt, ...) {
  va_list ap;
  int rc;
  if (r->err && r->err->rc)
    return r->err->rc; /* keep the first, most specific error */
  va_start(ap, fmt);
  rc = iris__tmpl_verr(r->err, r->t->name, r->line, 0, fmt, ap);
  va_end(ap);
  return rc;
}

static int eval(struct rctx *r, const struct node *n, struct tv *out, int depth);

/* ---- the budget ---------------------------------------------------------------------------- */

static struct iris_tmpl_limits g_limits = {IRIS_TMPL_DEFAULT_MEMORY, IRIS_TMPL_DEFAULT_STEPS,
                                           IRIS_TMPL_MAX_ITERATIONS, IRIS_TMPL_MAX_DEPTH};

void iris_tmpl_set_limits(const struct iris_tmpl_limits *l) {
  g_limits.max_memory = l && l->max_memory ? l->max_memory : IRIS_TMPL_DEFAULT_MEMORY;
  g_limits.max_steps = l && l->max_steps > 0 ? l->max_steps : IRIS_TMPL_DEFAULT_STEPS;
  g_limits.max_iterations = l && l->max_iterations > 0 ? l->max_iterations
                                                       : IRIS_TMPL_MAX_ITERATIONS;
  g_limits.max_depth = l && l->max_depth ? l->max_depth : IRIS_TMPL_MAX_DEPTH;
  if (g_limits.max_depth < 8)
    g_limits.max_depth = 8;
  if (g_limits.max_depth > IRIS_TMPL_MAX_DEPTH)
    g_limits.max_depth = IRIS_TMPL_MAX_DEPTH;
}

void iris_tmpl_get_limits(struct iris_tmpl_limits *out) { *out = g_limits; }

int iris__tmpl_max_depth(void) { return g_limits.max_depth; }

static size_t mem_used(const struct rctx *r) { return r->json_mem + r->scratch.bytes; }

static int over_memory(struct rctx *r) {
  return iris__tmpl_fail(r, "the render's memory budget (%zu bytes) is exhausted",
                         r->lim.max_memory);
}

int iris__tmpl_charge(struct rctx *r, size_t bytes) {
  r->json_mem += bytes;
  if (mem_used(r) > r->lim.max_memory)
    return over_memory(r);
  return IRIS_OK;
}

int iris__tmpl_steps(struct rctx *r, long steps) {
  r->steps += steps;
  if (r->steps > r->lim.max_steps)
    return iris__tmpl_fail(r, "the render's step budget (%ld steps) is exhausted",
                           r->lim.max_steps);
  return IRIS_OK;
}

/* What one JSON value costs (jansson's node and a little of its container's slot). */
#define JSON_COST 48

int iris__tmpl_append(struct rctx *r, json_t *list, json_t *item) {
  if (!item)
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  if (iris__tmpl_charge(r, JSON_COST + (json_is_string(item) ? json_string_length(item) : 0))) {
    json_decref(item);
    return r->err->rc;
  }
  if (json_array_append_new(list, item))
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  return IRIS_OK;
}

int iris__tmpl_setkey(struct rctx *r, json_t *dict, const char *key, json_t *item) {
  if (!item)
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  if (iris__tmpl_charge(r, 2 * JSON_COST + strlen(key) +
                               (json_is_string(item) ? json_string_length(item) : 0))) {
    json_decref(item);
    return r->err->rc;
  }
  if (json_object_set_new(dict, key, item))
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  return IRIS_OK;
}

/* ---- frames ------------------------------------------------------------------------------- */

/*
 * Open a frame on the stack whose names are read, after its own, from frame `parent` and the
 * frames around that one (the frame below it, or for a macro call the frame the macro was
 * defined in). The names `scope` lists start missing (tmpl_scope.c). Frames are bounded by
 * the budget's depth: loops, macro calls, call and set blocks nested more deeply fail.
 */
static int push_frame(struct rctx *r, int parent, const struct tmpl_scope *scope) {
  json_t *f;
  size_t i;
  int rc;
  if (r->nframes >= r->lim.max_depth)
    return iris__tmpl_fail(r, "loops, macro calls and blocks nested too deeply (more than %d)",
                           r->lim.max_depth);
  if ((rc = iris__tmpl_steps(r, 1)) || (rc = iris__tmpl_charge(r, 12 * JSON_COST)))
    return rc;
  if (!(f = json_object()))
    return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
  for (i = 0; scope && i < scope->n; i++)
    if (json_object_set(f, scope->names[i], iris__tmpl_missing_json())) {
      json_decref(f);
      return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
    }
  r->frames[r->nframes] = f;
  r->parent[r->nframes] = parent;
  memset(&r->loops[r->nframes], 0, sizeof r->loops[0]);
  r->nframes++;
  return IRIS_OK;
}

static void pop_frame(struct rctx *r) {
  r->nframes--;
  r->loops[r->nframes].active = 0;
  json_decref(r->frames[r->nframes]);
  r->frames[r->nframes] = NULL;
}

/*
 * A piece of the render that makes only a string — a macro call, a call block's caller, a
 * {% set %} block: its body runs in a frame of its own with its output captured, and when it
 * ends everything it made is released (its frame, strings, lists, views); only the output is
 * kept, so a million calls need no more memory than one.
 */
struct sub {
  struct tmpl_arena_mark mark;
  size_t owned, mem, views;
  struct iris_buf *saved, buf;
};

static int sub_begin(struct rctx *r, struct sub *s, int parent, const struct tmpl_scope *scope) {
  size_t used = r->json_mem + r->scratch.bytes;
  size_t room = r->lim.max_memory > used ? r->lim.max_memory - used : 1;
  int rc;
  s->mark = iris__tmpl_arena_mark(&r->scratch);
  s->owned = json_array_size(r->owned);
  s->mem = r->json_mem;
  s->views = r->nviews;
  s->saved = r->out;
  iris_buf_init(&s->buf, s->saved->max && s->saved->max < room ? s->saved->max : room);
  if ((rc = push_frame(r, parent, scope)))
    return rc;
  r->out = &s->buf;
  return IRIS_OK;
}

/* End what sub_begin started (after it succeeded); on rc == IRIS_OK *out is the output, a
 * scratch string. Returns rc or the first failure. */
static int sub_end(struct rctx *r, struct sub *s, int rc, struct tv *out) {
  char *text;
  r->out = s->saved;
  pop_frame(r);
  while (json_array_size(r->owned) > s->owned)
    json_array_remove(r->owned, json_array_size(r->owned) - 1);
  iris__tmpl_arena_reset(&r->scratch, s->mark);
  r->json_mem = s->mem;
  r->nviews = s->views;
  if (rc == IRIS_OK && iris_buf_rc(&s->buf))
    rc = iris_err_set(r->err, iris_buf_rc(&s->buf),
                      "template '%s' line %d: the render's memory budget (%zu bytes) is "
                      "exhausted",
                      r->t->name, r->line, r->lim.max_memory);
  if (rc == IRIS_OK) {
    if (!(text = iris__tmpl_scratch(r, iris_buf_len(&s->buf)))) {
      rc = r->err->rc ? (int)r->err->rc : IRIS_ENOMEM;
    } else {
      memcpy(text, iris_buf_ptr(&s->buf), iris_buf_len(&s->buf));
      *out = iris__tv_str(text, iris_buf_len(&s->buf));
    }
  }
  iris_buf_cleanup(&s->buf);
  return rc;
}

/* The frame whose loop `loop` names (the nearest loop frame on the chain of frames the current
 * one reads, unless one of them holds its own `loop`); -1. */
static int loop_frame(struct rctx *r) {
  int i;
  for (i = r->nframes - 1; i > 0; i = r->parent[i]) {
    if (json_object_get(r->frames[i], "loop"))
      return -1;
    if (r->loops[i].active)
      return i;
  }
  return -1;
}

/* loop.<name> of the loop of frame k, as Jinja's LoopContext has it (depth is 1 in a loop
 * that is not recursive; previtem and nextitem are undefined at the ends). 0: not one of them. */
static int loop_attr(struct rctx *r, int k, const char *name, struct tv *out) {
  const struct loop_state *l = &r->loops[k];
  int64_t i = (int64_t)l->i, len = (int64_t)l->len;
  switch (name[0]) {
  case 'i':
    if (!strcmp(name, "index") || !strcmp(name, "index0")) {
      *out = iris__tv_int(i + (name[5] == '\0'));
      return 1;
    }
    break;
  case 'r':
    if (!strcmp(name, "revindex") || !strcmp(name, "revindex0")) {
      *out = iris__tv_int(len - i - (name[8] == '0'));
      return 1;
    }
    break;
  case 'f':
    if (!strcmp(name, "first")) {
      *out = iris__tv_bool(i == 0);
      return 1;
    }
    break;
  case 'l':
    if (!strcmp(name, "last") || !strcmp(name, "length")) {
      *out = name[1] == 'a' ? iris__tv_bool(i + 1 == len) : iris__tv_int(len);
      return 1;
    }
    break;
  case 'd':
    if (!strcmp(name, "depth") || !strcmp(name, "depth0")) {
      *out = iris__tv_int(name[5] == '\0');
      return 1;
    }
    break;
  case 'p':
  case 'n':
    if (!strcmp(name, "previtem") || !strcmp(name, "nextitem")) {
      int64_t at = name[0] == 'p' ? i - 1 : i + 1;
      *out = at >= 0 && at < len ? iris__tv_from_json_r(r, json_array_get(l->items, (size_t)at))
                                 : iris__tv_undef(name);
      return 1;
    }
    break;
  default: break;
  }
  return 0;
}

/* `loop` used whole: a dict made for this use (printed <LoopContext i/n>), owned by the render. */
static json_t *materialise_loop(struct rctx *r, int k) {
  const struct loop_state *l = &r->loops[k];
  size_t i = l->i, len = l->len;
  json_t *loop = json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:i, s:i}", "index",
                           (json_int_t)i + 1, "index0", (json_int_t)i, "revindex",
                           (json_int_t)(len - i), "revindex0", (json_int_t)(len - i - 1), "first",
                           i == 0, "last", i + 1 == len, "length", (json_int_t)len, "depth", 1,
                           "depth0", 0);
  if (loop && i > 0 && json_object_set(loop, "previtem", json_array_get(l->items, i - 1)))
    json_decref(loop), loop = NULL;
  if (loop && i + 1 < len && json_object_set(loop, "nextitem", json_array_get(l->items, i + 1)))
    json_decref(loop), loop = NULL;
  if (!iris__tv_keep(r, loop) ||
      iris__tmpl_view_add(r, loop, VIEW_LOOP, (int64_t)i + 1, (int64_t)len, 0))
    return NULL;
  return loop;
}

/* A name's value: the frames the current one reads, innermost first, then the context. NULL
 * when no one has it; the missing marker when a frame holds it missing (undefined, without
 * looking further). */
static json_t *lookup_name(struct rctx *r, const char *name) {
  int i;
  for (i = r->nframes - 1; i >= 0; i = r->parent[i]) {
    json_t *v = json_object_get(r->frames[i], name);
    if (v)
      return v;
    if (r->loops[i].active && name[0] == 'l' && strcmp(name, "loop") == 0)
      return materialise_loop(r, i);
  }
  return r->context ? json_object_get(r->context, name) : NULL;
}

static int is_dict_method(const char *name) {
  static const char *const m[] = {"items",      "keys",   "values", "get",  "pop",      "popitem",
                                  "setdefault", "update", "clear",  "copy", "fromkeys", NULL};
  size_t i;
  if (!strchr("ikvgpsucf", name[0]) || !name[0])
    return 0; /* no method starts so: most attribute reads end here */
  for (i = 0; m[i]; i++)
    if (strcmp(m[i], name) == 0)
      return 1;
  return 0;
}

static int in_names(const char *const *l, const char *s, size_t n) {
  for (; *l; l++)
    if (strlen(*l) == n && memcmp(*l, s, n) == 0)
      return 1;
  return 0;
}

/*
 * obj.name on a string, list, number, boolean or None: Python's attribute if it has one,
 * else (as Jinja's getattr falls back to obj['name']) undefined. Numbers' data attributes
 * (real, imag, numerator, denominator) are values; a method read without calling it would
 * print Python's "<built-in method ... at 0x...>", an address, so it is an error instead.
 */
static int other_attr(struct rctx *r, const struct tv *obj, const struct tv *key, const char *what,
                      struct tv *out) {
  static const char *const str_methods[] =
      {"capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
       "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
       "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
       "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
       "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
       "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
       "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
       "swapcase",     "title",       "translate", "upper",      "zfill",        NULL};
  static const char *const list_methods[] = {"append", "clear",   "copy",   "count",
                                             "extend", "index",   "insert", "pop",
                                             "remove", "reverse", "sort",   NULL};
  static const char *const int_methods[] =
      {"as_integer_ratio", "bit_count", "bit_length", "conjugate", "from_bytes", "to_bytes", NULL};
  static const char *const float_methods[] = {"as_integer_ratio", "conjugate", "fromhex", "hex",
                                              "is_integer",       NULL};
  const char *const *methods = obj->t == TV_STR                        ? str_methods
                               : obj->t == TV_LIST                     ? list_methods
                               : obj->t == TV_FLOAT                    ? float_methods
                               : obj->t == TV_INT || obj->t == TV_BOOL ? int_methods
                                                                       : NULL;
  if (methods && in_names(methods, key->s, key->n))
    return iris__tmpl_fail(r,
                           "'%.*s' is a method of %s: reading it without calling it is not "
                           "supported by this engine",
                           (int)key->n, key->s, iris__tv_type_name(obj));
  if (obj->t == TV_INT || obj->t == TV_BOOL) {
    if (in_names((const char *const[]){"real", "numerator", NULL}, key->s, key->n)) {
      *out = iris__tv_int(obj->i);
      return IRIS_OK;
    }
    if (in_names((const char *const[]){"imag", "denominator", NULL}, key->s, key->n)) {
      *out = iris__tv_int(key->s[0] == 'd');
      return IRIS_OK;
    }
  }
  if (obj->t == TV_FLOAT && in_names((const char *const[]){"real", "imag", NULL}, key->s, key->n)) {
    *out = iris__tv_float(key->s[0] == 'r' ? obj->f : 0.0);
    return IRIS_OK;
  }
  *out = iris__tv_undef(what);
  return IRIS_OK;
}

/* The attributes Python's dict has whose names start with '_' (Python 3.11's dir({})). */
static int is_dict_dunder(const char *s, size_t n) {
  static const char *const d[] = {"__class__",
                                  "__class_getitem__",
                                  "__contains__",
                                  "__delattr__",
                                  "__delitem__",
                                  "__dir__",
                                  "__doc__",
                                  "__eq__",
                                  "__format__",
                                  "__ge__",
                                  "__getattribute__",
                                  "__getitem__",
                                  "__getstate__",
                                  "__gt__",
                                  "__hash__",
                                  "__init__",
                                  "__init_subclass__",
                                  "__ior__",
                                  "__iter__",
                                  "__le__",
                                  "__len__",
                                  "__lt__",
                                  "__ne__",
                                  "__new__",
                                  "__or__",
                                  "__reduce__",
                                  "__reduce_ex__",
                                  "__repr__",
                                  "__reversed__",
                                  "__ror__",
                                  "__setattr__",
                                  "__setitem__",
                                  "__sizeof__",
                                  "__str__",
                                  "__subclasshook__",
                                  NULL};
  return n > 4 && s[0] == '_' && s[1] == '_' && in_names(d, s, n);
}

/* Jinja's globals: names that are never undefined there (printing them prints a class or a
 * function, with an address). */
static int is_global(const char *name) {
  static const char *const g[] = {"range",  "dict",      "lipsum", "cycler",
                                  "joiner", "namespace", NULL};
  return in_names(g, name, strlen(name));
}

/* The public attributes of Jinja's Macro object: name, arguments, catch_kwargs,
 * catch_varargs, caller, explicit_caller. Anything else is undefined. */
static int macro_attr(struct rctx *r, const struct tv *obj, const struct tv *key, const char *what,
                      struct tv *out) {
  const struct tmpl_view *w = iris__tmpl_view_find(r, obj->j);
  const struct node *m = w ? w->node : NULL;
  size_t i;
  *out = iris__tv_undef(what);
  if (!m || key->t != TV_STR)
    return IRIS_OK;
  if (key->n == 4 && !memcmp(key->s, "name", 4)) {
    *out = m->kind == N_MACRO ? iris__tv_str(m->s, strlen(m->s)) : iris__tv_none();
  } else if (key->n == 9 && !memcmp(key->s, "arguments", 9)) {
    json_t *l = iris__tv_keep(r, json_array());
    int rc;
    if (!l)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (i = 0; i < m->nkw; i++)
      if ((rc = iris__tmpl_append(r, l, json_string(m->kw[i].name))))
        return rc;
    *out = iris__tv_from_json(l);
    return iris__tmpl_view_add(r, l, VIEW_TUPLE, 0, 0, 0);
  } else if (key->n == 12 && !memcmp(key->s, "catch_kwargs", 12)) {
    *out = iris__tv_bool(m->op & MACRO_KWARGS);
  } else if (key->n == 13 && !memcmp(key->s, "catch_varargs", 13)) {
    *out = iris__tv_bool(m->op & MACRO_VARARGS);
  } else if (key->n == 6 && !memcmp(key->s, "caller", 6)) {
    *out = iris__tv_bool(m->op & MACRO_CALLER);
  } else if (key->n == 15 && !memcmp(key->s, "explicit_caller", 15)) {
    *out = iris__tv_bool(m->op & MACRO_EXPLICIT_CALLER);
  }
  return IRIS_OK;
}

/* obj.name / obj[key] with Jinja's rules for JSON data. */
int iris__tmpl_member(struct rctx *r, const struct tv *obj, const struct tv *key, int by_attr,
                      const char *what, struct tv *out) {
  if (obj->t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined", obj->s ? obj->s : "value");
  if (obj->t == TV_DICT && by_attr && key->t == TV_STR && is_dict_dunder(key->s, key->n)) {
    /* an attribute of every dict: Jinja's sandbox finds it first and calls it unsafe, an
     * undefined value (even when the dict has such a key) */
    *out = iris__tv_undef(what);
    return IRIS_OK;
  }
  if (obj->t == TV_MACRO)
    return macro_attr(r, obj, key, what, out);
  if (obj->t == TV_DICT) {
    char *k;
    json_t *v;
    if (key->t != TV_STR) {
      *out = iris__tv_undef(what); /* JSON keys are strings: d[1] is undefined */
      return IRIS_OK;
    }
    k = iris__tmpl_scratch(r, key->n);
    if (!k)
      return IRIS_ENOMEM;
    memcpy(k, key->s, key->n);
    if (by_attr && is_dict_method(k))
      return iris__tmpl_fail(r, "'.%s' names a dict method in Jinja; write ['%s'] to read the key",
                             k, k);
    v = strlen(k) == key->n ? json_object_get(obj->j, k) : NULL;
    *out = v ? iris__tv_from_json_r(r, v) : iris__tv_undef(what);
    return IRIS_OK;
  }
  if (obj->t == TV_LIST && r->nviews) {
    const struct tmpl_view *w = iris__tmpl_view_find(r, obj->j);
    if (w && w->kind != VIEW_RANGE && w->kind != VIEW_TUPLE) {
      *out = iris__tv_undef(what); /* dict views cannot be subscripted */
      return IRIS_OK;
    }
    if (w && w->group && key->t == TV_STR &&
        ((key->n == 7 && !memcmp(key->s, "grouper", 7)) ||
         (key->n == 4 && !memcmp(key->s, "list", 4)))) {
      /* groupby's (grouper, list) named tuple */
      *out = iris__tv_from_json_r(r, json_array_get(obj->j, key->s[0] == 'l'));
      return IRIS_OK;
    }
  }
  if (obj->t == TV_LIST || obj->t == TV_STR) {
    if (key->t == TV_INT || key->t == TV_BOOL) {
      int64_t len = obj->t == TV_LIST ? (int64_t)json_array_size(obj->j)
                                      : (int64_t)iris__utf8_count(obj->s, obj->n);
      int64_t i = key->i < 0 ? key->i + len : key->i;
      if (i < 0 || i >= len) {
        *out = iris__tv_undef(what);
        return IRIS_OK;
      }
      if (obj->t == TV_LIST) {
        *out = iris__tv_from_json_r(r, json_array_get(obj->j, (size_t)i));
      } else {
        size_t a = iris__utf8_offset(obj->s, obj->n, (size_t)i);
        size_t z = iris__utf8_offset(obj->s, obj->n, (size_t)i + 1);
        *out = iris__tv_str(obj->s + a, z - a);
        out->safe = obj->safe; /* an item of Markup is Markup */
      }
      return IRIS_OK;
    }
  }
  if (by_attr && key->t == TV_STR)
    return other_attr(r, obj, key, what, out);
  *out = iris__tv_undef(what);
  return IRIS_OK;
}

int iris__tmpl_getitem(struct rctx *r, const struct tv *obj, const struct tv *key,
                       const char *what, struct tv *out) {
  /* obj[key], and when that fails for a string key, the attribute of that name */
  return iris__tmpl_member(r, obj, key, key->t == TV_STR && obj->t != TV_DICT, what, out);
}

static int eval_call_args(struct rctx *r, const struct node *n, const struct tv *caller,
                          struct fargs *ca, int depth);

static int eval_args(struct rctx *r, const struct node *n, struct fargs *a, int depth) {
  return eval_call_args(r, n, NULL, a, depth);
}

/* The cases of eval() that hold argument arrays live in their own frames (noinline), so the
 * recursion of eval() itself stays small on the stack. */
static __attribute__((noinline)) int eval_filter(struct rctx *r, const struct node *n,
                                                 struct tv *out, int depth) {
  struct fargs args;
  struct tv a;
  int rc;
  if ((rc = eval(r, n->a, &a, depth + 1)) || (rc = eval_args(r, n, &args, depth)))
    return rc;
  r->line = n->line;
  return iris__tmpl_filter(r, n->s, &a, &args, out);
}

static __attribute__((noinline)) int eval_test(struct rctx *r, const struct node *n,
                                               struct tv *out, int depth) {
  struct fargs args;
  struct tv a;
  int res = 0, rc;
  if ((rc = eval(r, n->a, &a, depth + 1)) || (rc = eval_args(r, n, &args, depth)))
    return rc;
  r->line = n->line;
  if ((rc = iris__tmpl_test(r, n->s, &a, &args, &res)))
    return rc;
  *out = iris__tv_bool(n->neg ? !res : res);
  return IRIS_OK;
}

/* ---- calls ------------------------------------------------------------------------------- */

/*
 * A call's arguments as Python passes them: the positional ones, then `*args` (any iterable:
 * a list's items, a dict's keys, a string's characters; nothing from undefined), the keyword
 * ones, the call block's `caller` when given, then `**kwargs` (a dict; a name given twice is
 * an error).
 */
static int eval_call_args(struct rctx *r, const struct node *n, const struct tv *caller,
                          struct fargs *ca, int depth) {
  json_t *star = NULL, *dict = NULL, *v;
  struct tv x, *pos, *kw;
  const char **names, *k;
  size_t npos = n->list.n, nkw = n->nkw + (caller != NULL), i, o;
  int rc;
  memset(ca, 0, sizeof *ca);
  if (n->b) {
    if ((rc = eval(r, n->b, &x, depth + 1)))
      return rc;
    r->line = n->line;
    if (x.t != TV_LIST && x.t != TV_DICT && x.t != TV_STR && x.t != TV_UNDEF)
      return iris__tmpl_fail(r, "Value after * must be an iterable, not %s",
                             iris__tv_type_name(&x));
    if ((rc = iris__tmpl_iter(r, &x, &star)))
      return rc;
    npos += json_array_size(star);
  }
  if (n->c) {
    if ((rc = eval(r, n->c, &x, depth + 1)))
      return rc;
    r->line = n->line;
    if (x.t == TV_UNDEF)
      return iris__tmpl_fail(r, "'%s' is undefined", x.s ? x.s : "value");
    if (x.t != TV_DICT)
      return iris__tmpl_fail(r, "argument after ** must be a mapping, not %s",
                             iris__tv_type_name(&x));
    dict = x.j;
    nkw += json_object_size(dict);
  }
  if ((rc = iris__tmpl_steps(r, (long)(npos + nkw))))
    return rc;
  pos = (struct tv *)iris__tmpl_scratch(r, (npos + 1) * sizeof *pos);
  kw = (struct tv *)iris__tmpl_scratch(r, (nkw + 1) * sizeof *kw);
  names = (const char **)iris__tmpl_scratch(r, (nkw + 1) * sizeof *names);
  if (!pos || !kw || !names)
    return r->err->rc ? (int)r->err->rc : IRIS_ENOMEM;
  for (i = 0; i < n->list.n; i++)
    if ((rc = eval(r, n->list.v[i], &pos[i], depth + 1)))
      return rc;
  for (o = n->list.n; star && o < npos; o++)
    pos[o] = iris__tv_from_json_r(r, json_array_get(star, o - n->list.n));
  for (i = 0; i < n->nkw; i++) {
    if ((rc = eval(r, n->kw[i].value, &kw[i], depth + 1)))
      return rc;
    names[i] = n->kw[i].name;
  }
  o = n->nkw;
  if (caller) {
    kw[o] = *caller;
    names[o++] = "caller";
  }
  r->line = n->line;
  if (dict) {
    json_object_foreach(dict, k, v) {
      for (i = 0; i < o; i++)
        if (strcmp(names[i], k) == 0)
          return iris__tmpl_fail(r, "got multiple values for keyword argument '%s'", k);
      kw[o] = iris__tv_from_json_r(r, v);
      names[o++] = k;
    }
  }
  ca->pos = pos;
  ca->npos = npos;
  ca->kw = kw;
  ca->kwname = names;
  ca->nkw = o;
  return IRIS_OK;
}

/* Set name in the current frame to v (a value), or to the missing marker when v is NULL. */
static int bind(struct rctx *r, const char *name, const struct tv *v) {
  json_t *j;
  int rc;
  if (!v)
    return iris__tmpl_setkey(r, r->frames[r->nframes - 1], name,
                             json_incref(iris__tmpl_missing_json()));
  if ((rc = iris__tv_to_json(r, v, &j)))
    return rc;
  return iris__tmpl_setkey(r, r->frames[r->nframes - 1], name, j);
}

static int run_body(struct rctx *r, const struct node_list *body, int depth);

/*
 * Call the macro (or call block body) w names, as Jinja's Macro.__call__ binds arguments:
 * positional ones to the parameters in order; keywords to the parameters left (one of them
 * may be `caller`); the call block's `caller` to a body that reads caller; what is left to
 * `kwargs` and `varargs` when the body reads them, else an error. Parameters not given take
 * their defaults, evaluated in the macro's frame in order (so a default may read an earlier
 * parameter), or are undefined. The body runs in a frame whose names come from the frame the
 * macro was defined in (not the caller's); its output is the result, a plain string.
 */
static __attribute__((noinline)) int invoke(struct rctx *r, const struct tmpl_view *w,
                                            const struct fargs *ca, struct tv *out, int depth) {
  const struct node *m = w->node;
  size_t count = m->nkw, i, k, off = ca->npos < m->nkw ? ca->npos : m->nkw;
  int flags = m->op, found_caller, rc;
  const struct tv **given, *caller = NULL;
  char *used, label[96];
  struct sub sub;
  if (m->kind == N_MACRO)
    snprintf(label, sizeof label, "'%.64s'", m->s);
  else
    snprintf(label, sizeof label, "None");
  if (w->frame < 0 || w->frame >= r->nframes || r->frames[w->frame] != w->frame_obj)
    return iris__tmpl_fail(r,
                           "internal error: macro %s called outside the frame it was "
                           "defined in",
                           label);
  given = (const struct tv **)iris__tmpl_scratch(r, (count + 1) * sizeof *given);
  used = iris__tmpl_scratch(r, ca->nkw + 1);
  if (!given || !used)
    return r->err->rc ? (int)r->err->rc : IRIS_ENOMEM;
  memset(used, 0, ca->nkw + 1);
  for (i = 0; i < off; i++)
    given[i] = &ca->pos[i];
  if (off != count) {
    found_caller = 0;
    for (i = off; i < count; i++) {
      given[i] = NULL;
      for (k = 0; k < ca->nkw && !given[i]; k++)
        if (!used[k] && strcmp(ca->kwname[k], m->kw[i].name) == 0) {
          given[i] = &ca->kw[k];
          used[k] = 1;
        }
      found_caller |= strcmp(m->kw[i].name, "caller") == 0;
    }
  } else {
    found_caller = (flags & MACRO_EXPLICIT_CALLER) != 0;
  }
  if ((flags & MACRO_CALLER) && !found_caller)
    for (k = 0; k < ca->nkw && !caller; k++)
      if (!used[k] && strcmp(ca->kwname[k], "caller") == 0) {
        caller = &ca->kw[k];
        used[k] = 1;
      }
  if (!(flags & MACRO_KWARGS)) {
    const char *extra = NULL;
    for (k = 0; k < ca->nkw; k++)
      if (!used[k]) {
        if (strcmp(ca->kwname[k], "caller") == 0)
          return iris__tmpl_fail(r,
                                 "macro %s was invoked with two values for the special caller "
                                 "argument. This is most likely a bug.",
                                 label);
        if (!extra)
          extra = ca->kwname[k];
      }
    if (extra)
      return iris__tmpl_fail(r, "macro %s takes no keyword argument '%s'", label, extra);
  }
  if (!(flags & MACRO_VARARGS) && ca->npos > count)
    return iris__tmpl_fail(r, "macro %s takes not more than %zu argument(s)", label, count);
  if ((rc = sub_begin(r, &sub, w->frame, m->scope[0]))) {
    iris_buf_cleanup(&sub.buf);
    return rc;
  }
  for (i = 0; i < count && rc == IRIS_OK; i++)
    rc = bind(r, m->kw[i].name, given[i]);
  if (rc == IRIS_OK && (flags & MACRO_CALLER) && !(flags & MACRO_EXPLICIT_CALLER)) {
    struct tv none = iris__tv_undef("caller");
    rc = bind(r, "caller", caller ? caller : &none);
  }
  if (rc == IRIS_OK && (flags & MACRO_KWARGS)) {
    json_t *d = iris__tv_keep(r, json_object());
    struct tv dv;
    if (!d)
      rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (k = 0; k < ca->nkw && rc == IRIS_OK; k++) {
      json_t *j;
      if (used[k])
        continue;
      if (!(rc = iris__tv_to_json(r, &ca->kw[k], &j)))
        rc = iris__tmpl_setkey(r, d, ca->kwname[k], j);
    }
    dv = iris__tv_from_json(d);
    rc = rc ? rc : bind(r, "kwargs", &dv);
  }
  if (rc == IRIS_OK && (flags & MACRO_VARARGS)) {
    json_t *l = iris__tv_keep(r, json_array());
    struct tv lv;
    if (!l)
      rc = iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (k = count; k < ca->npos && rc == IRIS_OK; k++) {
      json_t *j;
      if (!(rc = iris__tv_to_json(r, &ca->pos[k], &j)))
        rc = iris__tmpl_append(r, l, j);
    }
    rc = rc ? rc : iris__tmpl_view_add(r, l, VIEW_TUPLE, 0, 0, 0);
    lv = iris__tv_from_json(l);
    rc = rc ? rc : bind(r, "varargs", &lv);
  }
  for (i = 0; i < count && rc == IRIS_OK; i++) {
    struct tv d;
    if (given[i])
      continue;
    if (m->kw[i].value)
      rc = eval(r, m->kw[i].value, &d, depth + 1);
    else
      d = iris__tv_undef(m->kw[i].name);
    rc = rc ? rc : bind(r, m->kw[i].name, &d);
  }
  if (rc == IRIS_OK)
    rc = run_body(r, &m->list, depth + 1);
  return sub_end(r, &sub, rc, out);
}

/* fn(args): a macro is invoked; calling undefined or any other value fails as in Jinja. */
static int call_value(struct rctx *r, const struct tv *fn, const struct fargs *ca, struct tv *out,
                      int depth) {
  const struct tmpl_view *w;
  if (fn->t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined", fn->s ? fn->s : "value");
  if (fn->t != TV_MACRO || !(w = iris__tmpl_view_find(r, fn->j)) || w->kind != VIEW_MACRO)
    return iris__tmpl_fail(r, "'%s' object is not callable", iris__tv_type_name(fn));
  return invoke(r, w, ca, out, depth);
}

/* callee(args) (E_CALL), with the call block's caller as an extra keyword when given. */
static __attribute__((noinline)) int eval_call(struct rctx *r, const struct node *n,
                                               const struct tv *caller, struct tv *out,
                                               int depth) {
  struct tv fn;
  struct fargs ca;
  int rc;
  if ((rc = eval(r, n->a, &fn, depth + 1)) || (rc = eval_call_args(r, n, caller, &ca, depth)))
    return rc;
  r->line = n->line;
  return call_value(r, &fn, &ca, out, depth);
}

/* range(...) when the template or its context gives `range` a value of its own: that value
 * is called (Jinja looks the name up like any other). */
static int call_shadowed_range(struct rctx *r, const struct node *n, json_t *fn, struct tv *out,
                               int depth) {
  struct fargs args;
  struct tv f = iris__tmpl_is_missing_json(fn) ? iris__tv_undef("range")
                                               : iris__tv_from_json_r(r, fn);
  int rc;
  if ((rc = eval_args(r, n, &args, depth)))
    return rc;
  r->line = n->line;
  return call_value(r, &f, &args, out, depth);
}

static __attribute__((noinline)) int eval_range(struct rctx *r, const struct node *n,
                                                struct tv *out, int depth) {
  int rc;
  struct fargs args;
  int64_t start = 0, stop, step = 1, i, count;
  json_t *l, *shadow = lookup_name(r, "range");
  size_t k;
  if (shadow)
    return call_shadowed_range(r, n, shadow, out, depth);
  if ((rc = eval_args(r, n, &args, depth)))
    return rc;
  for (k = 0; k < args.npos; k++)
    if (args.pos[k].t != TV_INT && args.pos[k].t != TV_BOOL)
      return iris__tmpl_fail(r, "range() arguments must be integers");
  if (args.npos == 1) {
    stop = args.pos[0].i;
  } else {
    start = args.pos[0].i;
    stop = args.pos[1].i;
    if (args.npos == 3)
      step = args.pos[2].i;
  }
  if (step == 0)
    return iris__tmpl_fail(r, "range() arg 3 must not be zero");
  /* The item count in unsigned arithmetic: stop - start can exceed int64 (range(minint,
   * maxint)), and Jinja's sandbox refuses more than MAX_RANGE items before making any. */
  {
    uint64_t span, ustep;
    if (step > 0) {
      span = stop > start ? (uint64_t)stop - (uint64_t)start : 0;
      ustep = (uint64_t)step;
    } else {
      span = start > stop ? (uint64_t)start - (uint64_t)stop : 0;
      ustep = (uint64_t)0 - (uint64_t)step;
    }
    count = span == 0
                ? 0
                : (int64_t)((span - 1) / ustep + 1 > (uint64_t)INT64_MAX ? INT64_MAX
                                                                         : (span - 1) / ustep + 1);
  }
  if (count > IRIS_TMPL_MAX_RANGE)
    return iris__tmpl_fail(r, "range too big (at most %d items)", IRIS_TMPL_MAX_RANGE);
  l = iris__tv_keep(r, json_array());
  if (!l)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  for (i = 0; i < count; i++)
    if ((rc = iris__tmpl_append(r, l, json_integer(start + i * step))))
      return rc;
  *out = iris__tv_from_json(l);
  return iris__tmpl_view_add(r, l, VIEW_RANGE, start, stop, step);
}

/* a OP b for the comparison operators (== != < <= > >= in, not in). */
int iris__tmpl_compare_op(struct rctx *r, int op, const struct tv *a, const struct tv *b,
                          struct tv *out) {
  int rc, c = 0, in = 0;
  switch (op) {
  case OP_EQ:
  case OP_NE: *out = iris__tv_bool(iris__tv_py_equal(r, a, b) == (op == OP_EQ)); return IRIS_OK;
  case OP_IN:
  case OP_NOTIN:
    if ((rc = iris__tv_contains(r, b, a, &in)))
      return rc;
    *out = iris__tv_bool(in == (op == OP_IN));
    return IRIS_OK;
  default:
    if (a->t == TV_UNDEF || b->t == TV_UNDEF)
      return iris__tmpl_fail(r, "'%s' is undefined", a->t == TV_UNDEF ? a->s : b->s);
    if ((rc = iris__tv_compare(r, a, b, &c)))
      return rc;
    *out = iris__tv_bool(c != TV_UNORDERED && (op == OP_LT   ? c < 0
                                               : op == OP_LE ? c <= 0
                                               : op == OP_GT ? c > 0
                                                             : c >= 0));
    return IRIS_OK;
  }
}

/* Python's slice.indices(len): the normalised start, stop and step, and the item count. */
static int slice_indices(struct rctx *r, const struct tv *b[3], int64_t len, int64_t *start,
                         int64_t *stop, int64_t *step, int64_t *count) {
  int64_t lower, upper;
  int k;
  for (k = 0; k < 3; k++)
    if (b[k] && b[k]->t != TV_NONE && b[k]->t != TV_INT && b[k]->t != TV_BOOL)
      return iris__tmpl_fail(r, "slice indices that are not integers or None are not supported "
                                "by this engine");
  *step = b[2] && b[2]->t != TV_NONE ? b[2]->i : 1;
  if (*step == 0)
    return iris__tmpl_fail(r, "slice step cannot be zero");
  if (*step == INT64_MIN)
    *step = -INT64_MAX; /* Python clamps the step the same way */
  lower = *step > 0 ? 0 : -1;
  upper = *step > 0 ? len : len - 1;
  for (k = 0; k < 2; k++) {
    int64_t *v = k == 0 ? start : stop, x;
    if (!b[k] || b[k]->t == TV_NONE) {
      *v = (k == 0) == (*step < 0) ? upper : lower;
      continue;
    }
    x = b[k]->i;
    if (x < 0) {
      x = x < -len ? lower : x + len;
      if (x < lower)
        x = lower;
    } else if (x > upper) {
      x = upper;
    }
    *v = x;
  }
  if (*step > 0)
    *count = *stop > *start ? (*stop - *start - 1) / *step + 1 : 0;
  else
    *count = *start > *stop ? (*start - *stop - 1) / -*step + 1 : 0;
  return IRIS_OK;
}

/* a[start:stop:step] on a string (code points), a list or a range, as Python slices them. */
static __attribute__((noinline)) int eval_slice(struct rctx *r, const struct node *n,
                                                struct tv *out, int depth) {
  struct tv obj, bv[3];
  const struct tv *b[3];
  int64_t start = 0, stop = 0, step = 1, count = 0, len, i;
  int rc, k;
  const struct tmpl_view *view;
  if ((rc = eval(r, n->a, &obj, depth + 1)))
    return rc;
  for (k = 0; k < 3; k++) {
    b[k] = NULL;
    if (n->list.v[k]) {
      if ((rc = eval(r, n->list.v[k], &bv[k], depth + 1)))
        return rc;
      b[k] = &bv[k];
    }
  }
  r->line = n->line;
  if (obj.t == TV_UNDEF)
    return iris__tmpl_fail(r, "'%s' is undefined", obj.s ? obj.s : "value");
  view = obj.t == TV_LIST && r->nviews ? iris__tmpl_view_find(r, obj.j) : NULL;
  if ((obj.t != TV_STR && obj.t != TV_LIST) ||
      (view && view->kind != VIEW_RANGE && view->kind != VIEW_TUPLE))
    /* Jinja raises here, or prints nothing when its optimizer folded the slice of a
     * literal (none[1:]): documented as refused rather than guessed */
    return iris__tmpl_fail(r, "slicing a %s is not supported by this engine",
                           view ? "dict view" : iris__tv_type_name(&obj));
  len = obj.t == TV_LIST ? (int64_t)json_array_size(obj.j)
                         : (int64_t)iris__utf8_count(obj.s, obj.n);
  if ((rc = slice_indices(r, b, len, &start, &stop, &step, &count)) ||
      (rc = iris__tmpl_steps(r, (long)count)))
    return rc;
  if (obj.t == TV_STR) {
    struct iris_buf buf;
    size_t pos = 0;
    int64_t cp = 0;
    char *s;
    iris_buf_init(&buf, 0);
    if (step == 1) {
      size_t a = iris__utf8_offset(obj.s, obj.n, (size_t)start);
      size_t z = count ? iris__utf8_offset(obj.s, obj.n, (size_t)(start + count)) : a;
      rc = iris_buf_append(&buf, obj.s + a, z - a);
    } else {
      /* walk the code points once, keeping those on the slice */
      size_t *offs = iris_malloc(((size_t)len + 1) * sizeof *offs);
      if (!offs) {
        iris_buf_cleanup(&buf);
        return iris_err_set(r->err, IRIS_ENOMEM, "template '%s': out of memory", r->t->name);
      }
      for (pos = 0, cp = 0; pos < obj.n; cp++) {
        uint32_t c;
        offs[cp] = pos;
        pos += iris__utf8_get(obj.s, obj.n, pos, &c);
      }
      offs[len] = obj.n;
      for (i = 0; i < count && rc == IRIS_OK; i++) {
        int64_t at = start + i * step;
        rc = iris_buf_append(&buf, obj.s + offs[at], offs[at + 1] - offs[at]);
      }
      iris_free(offs);
    }
    s = rc ? NULL : iris__tmpl_scratch(r, iris_buf_len(&buf));
    if (s) {
      memcpy(s, iris_buf_ptr(&buf), iris_buf_len(&buf));
      *out = iris__tv_str(s, iris_buf_len(&buf));
      out->safe = obj.safe;
    }
    iris_buf_cleanup(&buf);
    if (!s)
      return r->err->rc ? (int)r->err->rc
                        : iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    return IRIS_OK;
  }
  {
    json_t *l = iris__tv_keep(r, json_array());
    if (!l)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (i = 0; i < count; i++)
      if ((rc = iris__tmpl_append(r, l,
                                  json_incref(json_array_get(obj.j, (size_t)(start + i * step))))))
        return rc;
    *out = iris__tv_from_json(l);
    if (view && view->kind == VIEW_TUPLE) /* a slice of a tuple is a tuple */
      return iris__tmpl_view_add(r, l, VIEW_TUPLE, 0, 0, 0);
    if (view) /* a slice of a range is a range */
      return iris__tmpl_view_add(r, l, VIEW_RANGE, view->start + start * view->step,
                                 view->start + stop * view->step, view->step * step);
    return IRIS_OK;
  }
}

/* loop.cycle(a, b, ...): the argument at loop.index0 modulo their number. `loop` may also be
 * a stored loop ({% set l = loop %}); anything else has no cycle method. */
static __attribute__((noinline)) int loop_cycle(struct rctx *r, const struct node *n,
                                                struct tv *out, int depth) {
  struct fargs args;
  struct tv a;
  int64_t index0 = -1;
  int rc, k = -1;
  if (n->a->kind == E_NAME && strcmp(n->a->s, "loop") == 0)
    k = loop_frame(r);
  if (k > 0) {
    index0 = (int64_t)r->loops[k].i;
  } else {
    const struct tmpl_view *w;
    if ((rc = eval(r, n->a, &a, depth + 1)))
      return rc;
    r->line = n->line;
    if (a.t == TV_UNDEF)
      return iris__tmpl_fail(r, "'%s' is undefined", a.s ? a.s : "value");
    if (a.t != TV_DICT || !(w = iris__tmpl_view_find(r, a.j)) || w->kind != VIEW_LOOP)
      return iris__tmpl_fail(r, "'%s' object has no attribute 'cycle'", iris__tv_type_name(&a));
    index0 = w->start - 1;
  }
  if ((rc = eval_args(r, n, &args, depth)))
    return rc;
  r->line = n->line;
  if (args.nkw)
    return iris__tmpl_fail(r, "cycle() got an unexpected keyword argument '%s'", args.kwname[0]);
  if (args.npos == 0)
    return iris__tmpl_fail(r, "no items for cycling given");
  *out = args.pos[index0 % (int64_t)args.npos];
  return IRIS_OK;
}

/* obj.name(args): dict views for items/keys/values of a dict, else tmpl_filters.c. */
static __attribute__((noinline)) int eval_method(struct rctx *r, const struct node *n,
                                                 struct tv *out, int depth) {
  struct fargs args;
  struct tv a;
  json_t *l, *v;
  const char *k;
  int rc;
  if (n->s[0] == 'c' && strcmp(n->s, "cycle") == 0)
    return loop_cycle(r, n, out, depth);
  if ((rc = eval(r, n->a, &a, depth + 1)) || (rc = eval_args(r, n, &args, depth)))
    return rc;
  r->line = n->line;
  if (a.t != TV_DICT || (strcmp(n->s, "items") && strcmp(n->s, "keys") && strcmp(n->s, "values")))
    return iris__tmpl_method(r, n->s, &a, &args, out);
  if (args.npos || args.nkw)
    return iris__tmpl_fail(r, "dict.%s() takes no arguments", n->s);
  l = iris__tv_keep(r, json_array());
  if (!l)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  json_object_foreach(a.j, k, v) {
    json_t *item = n->s[0] == 'k'   ? json_string(k)
                   : n->s[0] == 'v' ? json_incref(v)
                                    : json_pack("[sO]", k, v);
    if ((rc = iris__tmpl_append(r, l, item)) ||
        (n->s[0] == 'i' && (rc = iris__tmpl_view_add(r, item, VIEW_TUPLE, 0, 0, 0))))
      return rc;
  }
  *out = iris__tv_from_json(l);
  return iris__tmpl_view_add(r, l,
                             n->s[0] == 'k'   ? VIEW_KEYS
                             : n->s[0] == 'v' ? VIEW_VALUES
                                              : VIEW_ITEMS,
                             0, 0, 0);
}

/* a < b < c: each comparison in turn, each operand evaluated once, false at the first false. */
static __attribute__((noinline)) int eval_cmpchain(struct rctx *r, const struct node *n,
                                                   struct tv *out, int depth) {
  struct tv left, right;
  size_t i;
  int rc;
  if ((rc = eval(r, n->list.v[0], &left, depth + 1)))
    return rc;
  for (i = 0; i < n->n; i++) {
    if ((rc = eval(r, n->list.v[i + 1], &right, depth + 1)) ||
        (rc = iris__tmpl_compare_op(r, (int)n->s[i], &left, &right, out)))
      return rc;
    if (!iris__tmpl_truthy(r, out))
      return IRIS_OK;
    left = right;
  }
  return IRIS_OK;
}

static int eval(struct rctx *r, const struct node *n, struct tv *out, int depth) {
  struct tv a, b;
  int rc;
  if (depth > r->lim.max_depth * 6) /* blocks plus the deepest tree the parser accepts */
    return iris__tmpl_fail(r, "expression nested too deeply");
  if (++r->steps > r->lim.max_steps)
    return iris__tmpl_steps(r, 0);
  r->line = n->line;
  switch (n->kind) {
  case E_CONST:
    switch (n->ck) {
    case C_NONE: *out = iris__tv_none(); break;
    case C_BOOL: *out = iris__tv_bool((int)n->i); break;
    case C_INT: *out = iris__tv_int(n->i); break;
    case C_FLOAT: *out = iris__tv_float(n->f); break;
    case C_STR: *out = iris__tv_str(n->s, n->n); break;
    }
    return IRIS_OK;
  case E_NAME: {
    json_t *v = lookup_name(r, n->s);
    if (!v && is_global(n->s))
      return iris__tmpl_fail(r,
                             "the Jinja global '%s' is not supported by this engine outside a "
                             "call of range()",
                             n->s);
    *out = v && !iris__tmpl_is_missing_json(v) ? iris__tv_from_json_r(r, v) : iris__tv_undef(n->s);
    return IRIS_OK;
  }
  case E_GETATTR:
    if (n->a->kind == E_NAME && n->a->s[0] == 'l' && strcmp(n->a->s, "loop") == 0) {
      int k = loop_frame(r);
      if (k > 0 && loop_attr(r, k, n->s, out))
        return IRIS_OK;
    }
    if ((rc = eval(r, n->a, &a, depth + 1)))
      return rc;
    r->line = n->line;
    b = iris__tv_str(n->s, strlen(n->s));
    return iris__tmpl_member(r, &a, &b, 1, n->s, out);
  case E_GETITEM:
    if ((rc = eval(r, n->a, &a, depth + 1)) || (rc = eval(r, n->b, &b, depth + 1)))
      return rc;
    r->line = n->line;
    return iris__tmpl_getitem(r, &a, &b, "item", out);
  case E_LIST:
  case E_TUPLE: {
    json_t *l = iris__tv_keep(r, json_array());
    size_t i;
    if (!l)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (i = 0; i < n->list.n; i++) {
      json_t *j;
      if ((rc = eval(r, n->list.v[i], &a, depth + 1)) || (rc = iris__tv_to_json(r, &a, &j)) ||
          (rc = iris__tmpl_append(r, l, j)))
        return rc;
    }
    *out = iris__tv_from_json(l);
    return n->kind == E_TUPLE ? iris__tmpl_view_add(r, l, VIEW_TUPLE, 0, 0, 0) : IRIS_OK;
  }
  case E_DICT: {
    json_t *d = iris__tv_keep(r, json_object());
    size_t i;
    if (!d)
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    for (i = 0; i < n->list.n; i++) {
      json_t *j;
      char *k;
      if ((rc = eval(r, n->list.v[i], &a, depth + 1)))
        return rc;
      if (a.t != TV_STR)
        return iris__tmpl_fail(r, "dict keys other than strings are not supported by this engine");
      if ((rc = eval(r, n->list2.v[i], &b, depth + 1)) || (rc = iris__tv_to_json(r, &b, &j)))
        return rc;
      k = iris__tmpl_scratch(r, a.n);
      if (!k) {
        json_decref(j);
        return IRIS_ENOMEM;
      }
      memcpy(k, a.s, a.n);
      if ((rc = iris__tmpl_setkey(r, d, k, j)))
        return rc;
    }
    *out = iris__tv_from_json(d);
    return IRIS_OK;
  }
  case E_UNARY:
    if ((rc = eval(r, n->a, &a, depth + 1)))
      return rc;
    r->line = n->line;
    if (n->op == OP_NOT) {
      *out = iris__tv_bool(!iris__tmpl_truthy(r, &a));
      return IRIS_OK;
    }
    if (a.t == TV_INT || a.t == TV_BOOL) {
      if (n->op == OP_NEG && a.i == INT64_MIN)
        return iris__tmpl_fail(r, "integer overflow");
      *out = iris__tv_int(n->op == OP_NEG ? -a.i : a.i);
      return IRIS_OK;
    }
    if (a.t == TV_FLOAT) {
      *out = iris__tv_float(n->op == OP_NEG ? -a.f : a.f);
      return IRIS_OK;
    }
    return iris__tmpl_fail(r, "bad operand type for unary %c: '%s'", n->op == OP_NEG ? '-' : '+',
                           iris__tv_type_name(&a));
  case E_BINOP:
    if (n->op == OP_AND || n->op == OP_OR) {
      if ((rc = eval(r, n->a, &a, depth + 1)))
        return rc;
      if ((n->op == OP_AND) != iris__tmpl_truthy(r, &a)) {
        *out = a; /* Python returns the deciding operand */
        return IRIS_OK;
      }
      return eval(r, n->b, out, depth + 1);
    }
    if ((rc = eval(r, n->a, &a, depth + 1)) || (rc = eval(r, n->b, &b, depth + 1)))
      return rc;
    r->line = n->line;
    switch (n->op) {
    case OP_CONCAT: {
      struct tv x, y;
      char *s;
      if ((rc = iris__tv_to_string(r, &a, &x)) || (rc = iris__tv_to_string(r, &b, &y)))
        return rc;
      s = iris__tmpl_scratch(r, x.n + y.n);
      if (!s)
        return IRIS_ENOMEM;
      memcpy(s, x.s, x.n);
      memcpy(s + x.n, y.s, y.n);
      *out = iris__tv_str(s, x.n + y.n);
      return IRIS_OK;
    }
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_IN:
    case OP_NOTIN: return iris__tmpl_compare_op(r, n->op, &a, &b, out);
    default: return iris__tv_binop(r, n->op, &a, &b, out);
    }
  case E_COND:
    if ((rc = eval(r, n->a, &a, depth + 1)))
      return rc;
    if (iris__tmpl_truthy(r, &a))
      return eval(r, n->b, out, depth + 1);
    if (n->c)
      return eval(r, n->c, out, depth + 1);
    *out = iris__tv_undef("the else branch of an if expression");
    return IRIS_OK;
  case E_FILTER: return eval_filter(r, n, out, depth);
  case E_TEST: return eval_test(r, n, out, depth);
  case E_METHOD: return eval_method(r, n, out, depth);
  case E_RANGE: return eval_range(r, n, out, depth);
  case E_SLICE: return eval_slice(r, n, out, depth);
  case E_CMPCHAIN: return eval_cmpchain(r, n, out, depth);
  case E_CALL: return eval_call(r, n, NULL, out, depth);
  default: return iris__tmpl_fail(r, "internal error: unexpected node");
  }
}

static int set_var(struct rctx *r, const char *name, const struct tv *v) {
  json_t *j;
  int rc = iris__tv_to_json(r, v, &j);
  if (rc)
    return rc;
  return iris__tmpl_setkey(r, r->frames[r->nframes - 1], name, j);
}

/* Bind the loop's target(s) to item in frame (`for k, v in ...` unpacks a pair). */
static int bind_targets(struct rctx *r, const struct node *n, json_t *frame, json_t *item) {
  if (n->s2) {
    if (!json_is_array(item) || json_array_size(item) != 2)
      return iris__tmpl_fail(r, "cannot unpack %s into (%s, %s)",
                             json_is_array(item) ? "a list of another length" : "a non-list item",
                             n->s, n->s2);
    if (json_object_set(frame, n->s, json_array_get(item, 0)) ||
        json_object_set(frame, n->s2, json_array_get(item, 1)))
      return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
    return IRIS_OK;
  }
  if (json_object_set(frame, n->s, item))
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  return IRIS_OK;
}

/* `for x in xs if cond`: the items for which cond holds with x bound (a new owned list),
 * each tested in a frame of its own over the loop's surroundings. */
static int filter_items(struct rctx *r, const struct node *n, json_t *items, json_t **kept,
                        int depth) {
  size_t i;
  int rc, outer = r->nframes - 1;
  *kept = iris__tv_keep(r, json_array());
  if (!*kept)
    return iris_err_set(r->err, IRIS_ENOMEM, "template: out of memory");
  for (i = 0; i < json_array_size(items); i++) {
    json_t *item = json_array_get(items, i);
    struct tv c;
    if ((rc = push_frame(r, outer, NULL)))
      return rc;
    if ((rc = bind_targets(r, n, r->frames[r->nframes - 1], item)) == IRIS_OK)
      rc = eval(r, n->b, &c, depth + 1);
    pop_frame(r);
    if (rc)
      return rc;
    if (iris__tmpl_truthy(r, &c) && (rc = iris__tmpl_append(r, *kept, json_incref(item))))
      return rc;
  }
  return IRIS_OK;
}

static int run_for(struct rctx *r, const struct node *n, int depth) {
  struct tv seq;
  json_t *items = NULL;
  size_t len, i;
  int rc, outer;
  if ((rc = eval(r, n->a, &seq, depth + 1)))
    return rc;
  r->line = n->line;
  if ((rc = iris__tmpl_check_iter(r, &seq)))
    return rc;
  switch (seq.t) {
  case TV_UNDEF: len = 0; break;
  case TV_LIST:
    items = seq.j;
    len = json_array_size(items);
    break;
  case TV_DICT:
  case TV_STR:
    if ((rc = iris__tmpl_iter(r, &seq, &items)))
      return rc;
    len = json_array_size(items);
    break;
  default: return iris__tmpl_fail(r, "'%s' object is not iterable", iris__tv_type_name(&seq));
  }
  if (n->b && len > 0) {
    if ((rc = filter_items(r, n, items, &items, depth)))
      return rc;
    len = json_array_size(items);
  }
  outer = r->nframes - 1;
  if (len == 0) {
    /* the else body is a frame of its own: what it sets stays in it */
    if (!n->list2.n)
      return IRIS_OK;
    if ((rc = push_frame(r, outer, n->scope[1])))
      return rc;
    rc = run_body(r, &n->list2, depth + 1);
    pop_frame(r);
    return rc;
  }
  for (i = 0; i < len; i++) {
    /* Everything an iteration makes (its frame, `loop`, strings and lists) is released when
     * it ends: a `set` inside the body stays in the iteration (Jinja's scoping), and the
     * output holds text only, so nothing made here is referenced afterwards. */
    struct tmpl_arena_mark mark = iris__tmpl_arena_mark(&r->scratch);
    size_t owned = json_array_size(r->owned), mem = r->json_mem, views = r->nviews;
    if (++r->iterations > r->lim.max_iterations)
      return iris__tmpl_fail(r, "more than %ld loop iterations", r->lim.max_iterations);
    if ((rc = push_frame(r, outer, n->scope[0])))
      return rc;
    if ((rc = bind_targets(r, n, r->frames[r->nframes - 1], json_array_get(items, i)))) {
      pop_frame(r);
      return rc;
    }
    r->loops[r->nframes - 1].items = items;
    r->loops[r->nframes - 1].i = i;
    r->loops[r->nframes - 1].len = len;
    r->loops[r->nframes - 1].active = 1;
    rc = run_body(r, &n->list, depth + 1);
    pop_frame(r);
    while (json_array_size(r->owned) > owned)
      json_array_remove(r->owned, json_array_size(r->owned) - 1);
    iris__tmpl_arena_reset(&r->scratch, mark);
    r->json_mem = mem;
    r->nviews = views; /* their lists were released with the iteration */
    if (rc)
      return rc;
  }
  return IRIS_OK;
}

static int run_body(struct rctx *r, const struct node_list *body, int depth) {
  size_t i;
  int rc = IRIS_OK;
  for (i = 0; i < body->n && rc == IRIS_OK; i++) {
    const struct node *n = body->v[i];
    struct tv v;
    r->line = n->line;
    switch (n->kind) {
    case N_TEXT: rc = iris_buf_append(r->out, n->s, n->n); break;
    case N_OUTPUT:
      rc = eval(r, n->a, &v, depth + 1);
      if (rc == IRIS_OK)
        rc = iris__tv_append_str(r, &v, r->out);
      break;
    case N_IF: {
      size_t k;
      int done = 0;
      for (k = 0; k + 1 < n->list.n && rc == IRIS_OK && !done; k += 2) {
        rc = eval(r, n->list.v[k], &v, depth + 1);
        if (rc == IRIS_OK && iris__tmpl_truthy(r, &v)) {
          rc = run_body(r, &n->list.v[k + 1]->list, depth + 1);
          done = 1;
        }
      }
      if (rc == IRIS_OK && !done)
        rc = run_body(r, &n->list2, depth + 1);
      break;
    }
    case N_FOR: rc = run_for(r, n, depth); break;
    case N_SET:
      rc = eval(r, n->a, &v, depth + 1);
      if (rc == IRIS_OK)
        rc = set_var(r, n->s, &v);
      break;
    case N_SETBLOCK: {
      /* the body is a frame of its own (what it sets stays in it); its text is the value */
      struct sub sub;
      if ((rc = sub_begin(r, &sub, r->nframes - 1, n->scope[0]))) {
        iris_buf_cleanup(&sub.buf);
        break;
      }
      rc = sub_end(r, &sub, run_body(r, &n->list, depth + 1), &v);
      if (rc == IRIS_OK)
        rc = set_var(r, n->s, &v);
      break;
    }
    case N_MACRO: {
      json_t *m;
      if ((rc = iris__tmpl_macro_json(r, n, r->nframes - 1, &m)) == IRIS_OK)
        rc = iris__tmpl_setkey(r, r->frames[r->nframes - 1], n->s, json_incref(m));
      break;
    }
    case N_CALLBLOCK: {
      /* the body is the callee's `caller`, a macro defined here */
      json_t *m;
      struct tv caller;
      if ((rc = iris__tmpl_macro_json(r, n, r->nframes - 1, &m)))
        break;
      caller = iris__tv_from_json_r(r, m);
      if (n->a->kind != E_CALL)
        rc = iris__tmpl_fail(r, "%s() takes no keyword arguments",
                             n->a->kind == E_RANGE ? "range" : n->a->s);
      else if ((rc = eval_call(r, n->a, &caller, &v, depth + 1)) == IRIS_OK)
        rc = iris__tv_append_str(r, &v, r->out);
      break;
    }
    default: rc = iris__tmpl_fail(r, "internal error: unexpected statement");
    }
  }
  if (rc && !(r->err && r->err->rc))
    iris_err_set(r->err, rc, "template '%s' line %d: %s", r->t->name, r->line,
                 rc == IRIS_ETOOBIG ? "output exceeds its size limit" : iris_rc_str(rc));
  return rc;
}

/* ---- public API -------------------------------------------------------------------------- */

int iris_tmpl_compile(const char *name, const char *source, size_t len, struct iris_tmpl **out,
                      struct iris_err *err) {
  struct iris_tmpl *t;
  struct tok_list toks = {0};
  int rc;
  *out = NULL;
  t = iris_calloc(1, sizeof *t);
  if (!t)
    return iris_err_set(err, IRIS_ENOMEM, "template: allocating");
  t->name = iris_strdup(name ? name : "template");
  if (!t->name) {
    iris_free(t);
    return iris_err_set(err, IRIS_ENOMEM, "template: allocating");
  }
  rc = iris__tmpl_lex(t->name, source ? source : "", source ? len : 0, &t->arena, &toks, err);
  if (rc == IRIS_OK)
    rc = iris__tmpl_parse(t, &toks, err);
  if (rc == IRIS_OK)
    rc = iris__tmpl_scopes(t, err);
  iris_free(toks.v);
  if (rc == IRIS_OK && t->arena.oom)
    rc = iris_err_set(err, IRIS_ENOMEM, "template '%s': out of memory", t->name);
  if (rc) {
    iris_tmpl_free(t);
    return rc;
  }
  *out = t;
  return IRIS_OK;
}

void iris_tmpl_free(struct iris_tmpl *t) {
  if (!t)
    return;
  iris__tmpl_arena_free(&t->arena);
  iris_free(t->name);
  iris_free(t);
}

const char *iris_tmpl_name(const struct iris_tmpl *t) { return t->name; }

int iris_tmpl_render(const struct iris_tmpl *t, json_t *context, struct iris_buf *out,
                     struct iris_err *err) {
  struct rctx r;
  struct iris_err local = {0};
  int rc;
  memset(&r, 0, sizeof r);
  r.t = t;
  r.lim = g_limits;
  r.out = out;
  r.err = err ? err : &local;
  iris_err_clear(r.err);
  if (context && !json_is_object(context))
    return iris_err_set(r.err, IRIS_EINVAL, "template '%s': the context must be a JSON object",
                        t->name);
  r.context = context;
  r.owned = json_array();
  if (!r.owned) {
    rc = iris_err_set(r.err, IRIS_ENOMEM, "template '%s': out of memory", t->name);
  } else if ((rc = push_frame(&r, -1, t->scope)) == IRIS_OK) {
    rc = run_body(&r, &t->body, 0);
    if (rc == IRIS_OK && r.scratch.oom)
      rc = iris_err_set(r.err, IRIS_ENOMEM, "template '%s': out of memory", t->name);
  }
  while (r.nframes > 0)
    pop_frame(&r);
  json_decref(r.owned);
  iris_free(r.views);
  iris__tmpl_arena_free(&r.scratch);
  return rc;
}

static int mentions(const struct node *n, const char *obj, const char *attr);

static int mentions_list(const struct node_list *l, const char *obj, const char *attr) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i] && mentions(l->v[i], obj, attr))
      return 1;
  return 0;
}

static int mentions(const struct node *n, const char *obj, const char *attr) {
  size_t i;
  if (!n)
    return 0;
  if (n->kind == E_GETATTR && n->a && n->a->kind == E_NAME && strcmp(n->a->s, obj) == 0 &&
      strcmp(n->s, attr) == 0)
    return 1;
  if (n->kind == E_GETITEM && n->a && n->a->kind == E_NAME && strcmp(n->a->s, obj) == 0 && n->b &&
      n->b->kind == E_CONST && n->b->ck == C_STR && strcmp(n->b->s, attr) == 0)
    return 1;
  for (i = 0; i < n->nkw; i++)
    if (mentions(n->kw[i].value, obj, attr))
      return 1;
  return mentions(n->a, obj, attr) || mentions(n->b, obj, attr) || mentions(n->c, obj, attr) ||
         mentions_list(&n->list, obj, attr) || mentions_list(&n->list2, obj, attr);
}

int iris_tmpl_mentions(const struct iris_tmpl *t, const char *object, const char *attribute) {
  return mentions_list(&t->body, object, attribute);
}
