/*
 * tmpl_int.h — internals of the template engine shared by tmpl_*.c (not a public API).
 *
 *   tmpl_lex.c      source → tokens (whitespace control, raw blocks, comments)
 *   tmpl_parse.c    tokens → syntax tree (refuses unsupported features)
 *   tmpl_scope.c    Jinja's symbol analysis of the tree: which names start missing in each
 *                   frame, which macros take caller/varargs/kwargs
 *   tmpl_value.c    the value model and Python's semantics: str(), repr(), truth, compare,
 *                   arithmetic
 *   tmpl_filters.c  filters, tests and methods
 *   tmpl_format.c   Python's string formatting: %, str.format, format specs
 *   tmpl_entities.c html.unescape's data for striptags (generated)
 *   tmpl_unicode.c  the Unicode facts Python uses (libunistring)
 *   tmpl_render.c   tree → output, frames, loops, macro calls; the public API
 */
#ifndef IRIS_TMPL_INT_H
#define IRIS_TMPL_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "tmpl.h"

/* ---- arena: every node and string of a compiled template, freed at once ---------------- */
struct tmpl_arena {
  struct tmpl_chunk *head;
  size_t bytes; /* bytes of all chunks held (the render's memory budget counts them) */
  int oom;
};
/* A point to roll an arena back to: everything allocated after it is released. */
struct tmpl_arena_mark {
  struct tmpl_chunk *head;
  size_t used;
};
void *iris__tmpl_alloc(struct tmpl_arena *a, size_t n);
struct tmpl_arena_mark iris__tmpl_arena_mark(const struct tmpl_arena *a);
void iris__tmpl_arena_reset(struct tmpl_arena *a, struct tmpl_arena_mark m);
char *iris__tmpl_strndup(struct tmpl_arena *a, const char *s, size_t n);
void iris__tmpl_arena_free(struct tmpl_arena *a);

/* ---- tokens --------------------------------------------------------------------------- */
enum tok_type {
  TK_EOF,
  TK_TEXT,        /* literal template data */
  TK_VAR_BEGIN,   /* {{ */
  TK_VAR_END,     /* }} */
  TK_BLOCK_BEGIN, /* {% */
  TK_BLOCK_END,   /* %} */
  TK_NAME,
  TK_STRING, /* value unescaped */
  TK_INT,
  TK_FLOAT,
  TK_OP /* text in s: "+", "//", "==", "(", ... */
};

struct tok {
  enum tok_type type;
  const char *s; /* arena copy (text, name, string value, operator) */
  size_t n;
  int64_t i;
  double f;
  int line, col;
};

struct tok_list {
  struct tok *v;
  size_t n, cap;
};

/* Tokenize; IRIS_ETEMPLATE with line/col on a lexical error. */
int iris__tmpl_lex(const char *name, const char *src, size_t len, struct tmpl_arena *a,
                   struct tok_list *out, struct iris_err *err);

/* ---- syntax tree ---------------------------------------------------------------------- */
enum node_kind {
  /* statements */
  N_TEXT,
  N_OUTPUT,
  N_IF, /* list: conditions/bodies pairs via a (cond) and body; c: else body */
  N_FOR,
  N_SET,
  N_SETBLOCK,
  N_MACRO,     /* s name, kw params (name, default or NULL), list body, op MACRO_* flags */
  N_CALLBLOCK, /* a the call (E_CALL), kw params of the caller, list body, op MACRO_* flags */
  /* expressions */
  E_CONST,
  E_NAME,
  E_GETATTR,
  E_GETITEM,
  E_LIST,
  E_DICT,
  E_BINOP,
  E_UNARY,
  E_COND,
  E_FILTER,
  E_TEST,
  E_METHOD, /* .items() .keys() .values() */
  E_RANGE,
  E_SLICE,    /* a[start:stop:step]: a, list = 3 bounds (NULL when left out) */
  E_CMPCHAIN, /* a < b < c: list = operands, s = one operator code per char, n = how many */
  E_TUPLE,    /* (a, b): list = items */
  E_CALL      /* a(args): a callee, list positional, kw keywords, b *args, c **kwargs */
};

/* What a macro or call block's body uses (Jinja's find_undeclared), in node->op. */
enum {
  MACRO_KWARGS = 1,         /* reads `kwargs`: extra keyword arguments are collected */
  MACRO_VARARGS = 2,        /* reads `varargs`: extra positional arguments are collected */
  MACRO_CALLER = 4,         /* reads `caller` */
  MACRO_EXPLICIT_CALLER = 8 /* `caller` is one of its parameters */
};

/* The names a frame holds as "missing" when it starts (Jinja's VAR_LOAD_UNDEFINED: stored in
 * the frame before any load, unknown to the frames around it): until they are set, reading
 * them anywhere below the frame is undefined, even when the context has the name. */
struct tmpl_scope {
  const char **names;
  size_t n;
};

enum const_kind { C_NONE, C_BOOL, C_INT, C_FLOAT, C_STR };

struct node;
struct node_list {
  struct node **v;
  size_t n;
};

struct kwarg {
  const char *name;
  struct node *value;
};

struct node {
  enum node_kind kind;
  int line, col;
  /* generic operands; meaning depends on kind (documented in tmpl_parse.c) */
  struct node *a, *b, *c;
  struct node_list list;  /* bodies, items, args, if-branches */
  struct node_list list2; /* else body, dict values */
  struct kwarg *kw;
  size_t nkw;
  const char *s; /* name, string constant, operator, filter/test name */
  size_t n;
  const char *s2; /* second loop target */
  enum const_kind ck;
  int64_t i;
  double f;
  int op;  /* operator code (tmpl_parse.c) */
  int neg; /* `is not` */
  /* frames the node opens (tmpl_scope.c): N_FOR body [0] and else [1]; N_MACRO,
   * N_CALLBLOCK and N_SETBLOCK body [0]. NULL: nothing starts missing. */
  const struct tmpl_scope *scope[2];
};

/* Operators of E_BINOP / E_UNARY. */
enum {
  OP_ADD = 1,
  OP_SUB,
  OP_MUL,
  OP_DIV,
  OP_FLOORDIV,
  OP_MOD,
  OP_POW,
  OP_CONCAT,
  OP_EQ,
  OP_NE,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_IN,
  OP_NOTIN,
  OP_AND,
  OP_OR,
  OP_NEG,
  OP_POS,
  OP_NOT
};

struct iris_tmpl {
  char *name;
  struct tmpl_arena arena;
  struct node_list body;
  const struct tmpl_scope *scope; /* of the top-level frame */
};

int iris__tmpl_parse(struct iris_tmpl *t, const struct tok_list *toks, struct iris_err *err);
/* Jinja's symbol analysis over the parsed tree (tmpl_scope.c): fills every scope and the
 * macros' MACRO_* flags; IRIS_ETEMPLATE where Jinja refuses the template at compile time
 * (a `caller` parameter without a default that the body uses), IRIS_ENOMEM. */
int iris__tmpl_scopes(struct iris_tmpl *t, struct iris_err *err);

/* The budget in force (tmpl_render.c; iris_tmpl_set_limits). */
int iris__tmpl_max_depth(void);

/* Is `name` a filter / test this engine implements? */
int iris__tmpl_filter_known(const char *name);
int iris__tmpl_test_known(const char *name);

/* ---- values ---------------------------------------------------------------------------- */
enum tv_type { TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_LIST, TV_DICT, TV_MACRO };

struct tv {
  enum tv_type t;
  int safe;      /* markupsafe.Markup (from |safe or |e) */
  int64_t i;     /* BOOL, INT */
  double f;      /* FLOAT */
  const char *s; /* STR (not NUL-terminated in general); UNDEF: the missing name */
  size_t n;
  json_t *j; /* LIST (array), DICT or MACRO (object); borrowed */
  int view;  /* LIST made by .keys()/.values()/.items(): 1/2/3 (printed as Python's
                      dict_keys([...]) etc.) */
};

/*
 * Lists that Python would print otherwise: dict views (`d.keys()` prints dict_keys([...]))
 * and ranges (`range(3)` prints range(0, 3)). The render keeps a table from the list made
 * for them to what they are, so they print right even after a `set` stored them.
 */
enum {
  VIEW_KEYS = 1,
  VIEW_VALUES,
  VIEW_ITEMS,
  VIEW_RANGE,
  VIEW_MARKUP, /* a safe string */
  VIEW_TUPLE,  /* a tuple: prints (a, b) */
  VIEW_ITER,   /* a generator (map, select, reverse…): printing it prints an address */
  VIEW_LOOP,   /* a materialised `loop`: prints <LoopContext index/length> */
  VIEW_MACRO   /* a macro or a call block's caller (the object iris__tmpl_macro_json made) */
};

/* The state of the loop that owns a frame; `loop` is made into a dict only when a template
 * uses it whole ({{ loop }}), its attributes are read from here. */
struct loop_state {
  json_t *items; /* borrowed: the loop's items */
  size_t i, len;
  int active;
};
struct tmpl_view {
  json_t *j; /* borrowed: the list, owned by rctx.owned */
  int kind;
  int64_t start, stop, step;
  const char *broken;      /* VIEW_ITER: the error its first use raises (Jinja's generators fail
                         lazily), or NULL; scratch string */
  int group;               /* VIEW_TUPLE made by groupby: .grouper and .list read its items */
  const struct node *node; /* VIEW_MACRO: the N_MACRO or N_CALLBLOCK (the template's) */
  int frame;               /* VIEW_MACRO: the frame it was defined in, which it reads */
  json_t *frame_obj;       /* VIEW_MACRO: that frame's object (borrowed; checks it is alive) */
};

/* Per-render state. */
struct rctx {
  const struct iris_tmpl *t;
  json_t *frames[IRIS_TMPL_MAX_DEPTH + 2]; /* a stack of frames, innermost last; [0] = the
                                              top level; each owned (one reference) */
  int parent[IRIS_TMPL_MAX_DEPTH + 2];     /* the frame around frames[k] whose names it sees
                                              (-1 for [0]): the one below it, or for a macro
                                              call the frame the macro was defined in */
  struct loop_state loops[IRIS_TMPL_MAX_DEPTH + 2]; /* loops[k]: the loop of frames[k] */
  int nframes;
  json_t *context;
  json_t *owned;             /* every JSON value made during the render (released at the end) */
  struct tmpl_arena scratch; /* strings made during the render */
  struct iris_buf *out;
  struct iris_err *err;
  long iterations;
  int line, col;
  struct iris_tmpl_limits lim; /* the budget of this render */
  size_t json_mem;         /* estimated bytes of JSON values made during the render (budgeted) */
  long steps;              /* evaluation steps so far (budgeted) */
  struct tmpl_view *views; /* owned array (iris_free at the end of the render) */
  size_t nviews, capviews;
};

/* Register j as a view / range (see struct tmpl_view); find what j is (NULL: a plain list). */
int iris__tmpl_view_add(struct rctx *r, json_t *j, int kind, int64_t start, int64_t stop,
                        int64_t step);
const struct tmpl_view *iris__tmpl_view_find(const struct rctx *r, const json_t *j);
/* Fail (IRIS_ETEMPLATE) when v is a generator whose making failed: the error surfaces where
 * Jinja would raise it, on first use. */
int iris__tmpl_check_iter(struct rctx *r, const struct tv *v);
/* The process-wide JSON value that stands for Undefined inside lists, dicts and scopes. */
int iris__tmpl_is_undef_json(const json_t *j);
/* The process-wide marker of a name a frame holds missing (borrowed, never freed). */
json_t *iris__tmpl_missing_json(void);
int iris__tmpl_is_missing_json(const json_t *j);
/* Is j the marker of an infinite or NaN float (its value in *f)? */
int iris__tmpl_nonfinite_json(const json_t *j, double *f);
/* A macro (N_MACRO) or call block's caller (N_CALLBLOCK) defined in frame `frame` as a
 * value: *out is borrowed (owned by the render, released with the frame's iteration or
 * call); it is registered as a VIEW_MACRO. IRIS_ENOMEM, or the budget's error. */
int iris__tmpl_macro_json(struct rctx *r, const struct node *n, int frame, json_t **out);
int iris__tmpl_is_macro_json(const json_t *j);

/* Charge `bytes` of new values / `steps` of work to the render's budget; IRIS_ETEMPLATE
 * (via r) when it is exhausted. */
int iris__tmpl_charge(struct rctx *r, size_t bytes);
int iris__tmpl_steps(struct rctx *r, long steps);
/* json_array_append_new / json_object_set_new that charge the budget. The item's reference
 * is always consumed. */
int iris__tmpl_append(struct rctx *r, json_t *list, json_t *item);
int iris__tmpl_setkey(struct rctx *r, json_t *dict, const char *key, json_t *item);

/* Raise a render error at the current node. Returns IRIS_ETEMPLATE. */
int iris__tmpl_fail(struct rctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value helpers (tmpl_value.c). */
struct tv iris__tv_from_json(json_t *j);
/* The same, knowing the render: a string stored from a Markup value is Markup again. */
struct tv iris__tv_from_json_r(const struct rctx *r, json_t *j);
int iris__tv_to_json(struct rctx *r, const struct tv *v, json_t **out); /* new ref, owned */
json_t *iris__tv_keep(struct rctx *r, json_t *j); /* register j in r->owned, return it */
struct tv iris__tv_str(const char *s, size_t n);
struct tv iris__tv_int(int64_t i);
struct tv iris__tv_float(double f);
struct tv iris__tv_bool(int b);
struct tv iris__tv_none(void);
struct tv iris__tv_undef(const char *name);
int iris__tv_truthy(const struct tv *v);
/* Python's truth of v during a render: as iris__tv_truthy, and a generator (VIEW_ITER) is true
 * also where the value lost its view flag (taken back out of a tuple or list). */
int iris__tmpl_truthy(const struct rctx *r, const struct tv *v);
/*
 * One string quoted, for repr() (QUOTE_REPR: Python's choice of quote, \\ \n \r \t and the
 * quote escaped, and \xhh/\uhhhh/\Uhhhhhhhh for what str.isprintable() refuses) or for
 * tojson (QUOTE_JSON: json.dumps with ensure_ascii, \" \b \f too, \uhhhh for controls and
 * non-ASCII, surrogate pairs beyond the BMP, and Jinja's escapes of < > & '). One table of the
 * two-letter escapes serves both.
 */
enum { QUOTE_REPR, QUOTE_JSON };
int iris__tmpl_append_quoted(struct iris_buf *b, const char *s, size_t n, int style);
/* Python's \xhh / \uhhhh / \Uhhhhhhhh escape of one code point. */
int iris__tmpl_append_py_escape(struct iris_buf *b, uint32_t cp);
/* Python str() / repr() appended to b. */
int iris__tv_append_str(struct rctx *r, const struct tv *v, struct iris_buf *b);
int iris__tv_append_repr(struct rctx *r, const struct tv *v, struct iris_buf *b);
/* str(v) as a value (arena string). */
int iris__tv_to_string(struct rctx *r, const struct tv *v, struct tv *out);
/* Python repr of a float ("1.0", "1e+20", "0.1"). */
void iris__tmpl_format_float(double f, char *out, size_t size);
int iris__tv_equal(const struct tv *a, const struct tv *b);
/* ==, also telling lists from tuples, ranges and dict views, and generators by identity. */
int iris__tv_py_equal(const struct rctx *r, const struct tv *a, const struct tv *b);
/* -1, 0, 1, or TV_UNORDERED when a NaN makes the pair unordered (every ordering false);
 * IRIS_ETEMPLATE (via r) when the types cannot be ordered. */
#define TV_UNORDERED 2
int iris__tv_compare(struct rctx *r, const struct tv *a, const struct tv *b, int *cmp);
int iris__tv_binop(struct rctx *r, int op, const struct tv *a, const struct tv *b, struct tv *out);
int iris__tv_contains(struct rctx *r, const struct tv *container, const struct tv *item, int *out);
/* Could Python hash the value (a set member, a dict key)? */
int iris__tv_hashable(const struct rctx *r, const struct tv *v);
/* Python len() in code points / items; -1 if the value has no length. */
long iris__tv_len(const struct tv *v);
const char *iris__tv_type_name(const struct tv *v);
/* markupsafe.escape(): a new safe string. */
int iris__tmpl_escape(struct rctx *r, const struct tv *in, struct tv *out);
/* Arena string helpers during a render. */
char *iris__tmpl_scratch(struct rctx *r, size_t n);

/* The evaluated arguments of a call, filter, test or method: positional ones, then keywords by
 * name (arrays in the render's scratch arena, or borrowed). */
struct fargs {
  const struct tv *pos;
  size_t npos;
  const char *const *kwname;
  const struct tv *kw;
  size_t nkw;
};
int iris__tmpl_filter(struct rctx *r, const char *name, const struct tv *in,
                      const struct fargs *args, struct tv *out);
int iris__tmpl_test(struct rctx *r, const char *name, const struct tv *in,
                    const struct fargs *args, int *out);
/* obj.name (by_attr) or obj[key] with Jinja's sandboxed getattr/getitem for JSON data;
 * `what` names a resulting undefined value. IRIS_ETEMPLATE where Jinja raises. */
int iris__tmpl_member(struct rctx *r, const struct tv *obj, const struct tv *key, int by_attr,
                      const char *what, struct tv *out);
/* Jinja's getitem: obj[key], falling back to the attribute for a string key (a dict only by
 * key). */
int iris__tmpl_getitem(struct rctx *r, const struct tv *obj, const struct tv *key,
                       const char *what, struct tv *out);
/* a OP b for the comparison operators (== != < <= > >= in, not in), with Python's rules. */
int iris__tmpl_compare_op(struct rctx *r, int op, const struct tv *a, const struct tv *b,
                          struct tv *out);
/* Python's printf-style `fmt % args` (fmt a string; Markup escapes what it inserts). */
int iris__tmpl_percent(struct rctx *r, const struct tv *fmt, const struct tv *args, struct tv *out);
/* Python's fmt.format(*a->pos, **a->kw) through Jinja's sandboxed formatter (tmpl_format.c). */
int iris__tmpl_str_format(struct rctx *r, const struct tv *fmt, const struct fargs *a,
                          struct tv *out);
/* Python's iteration of a value as a JSON list: a list itself (borrowed), a dict's keys or a
 * string's characters (a new list owned by the render), nothing for undefined; IRIS_ETEMPLATE
 * for anything else or a generator that failed. */
int iris__tmpl_iter(struct rctx *r, const struct tv *in, json_t **items);
/* obj.name(args) for the methods of str, list and dict this engine implements. */
int iris__tmpl_method_known(const char *name);
int iris__tmpl_method(struct rctx *r, const char *name, const struct tv *obj,
                      const struct fargs *args, struct tv *out);

/*
 * Set `err` to "template '<name>' line L[ col C]: <message>" with the message formatted from
 * fmt/ap, cut (where it must be cut to fit) at a character boundary — an error about a
 * non-ASCII template never holds half a character. col 0 leaves the column out.
 */
int iris__tmpl_verr(struct iris_err *err, const char *name, int line, int col, const char *fmt,
                    va_list ap);

/* UTF-8 helpers. */
size_t iris__utf8_count(const char *s, size_t n);
/* Decode the code point at byte i (of valid UTF-8); returns its length in bytes. */
size_t iris__utf8_get(const char *s, size_t n, size_t i, uint32_t *cp);
/* Encode cp into u (4 bytes of room); returns the length. */
int iris__utf8_put(uint32_t cp, char *u);

/* html.unescape()'s data (tmpl_entities.c, generated by tests/tmpl/gen_entities.py). */
struct tmpl_entity {
  const char *name;  /* "amp;", "amp", ... sorted by strcmp */
  const char *value; /* UTF-8 */
};
struct tmpl_charref {
  uint32_t num;      /* a numeric reference HTML maps to another character */
  const char *value; /* UTF-8 */
};
extern const struct tmpl_entity iris__tmpl_entities[];
extern const size_t iris__tmpl_nentities;
extern const struct tmpl_charref iris__tmpl_invalid_charrefs[];
extern const size_t iris__tmpl_ninvalid_charrefs;
extern const uint32_t iris__tmpl_invalid_codepoints[]; /* sorted; they unescape to nothing */
extern const size_t iris__tmpl_ninvalid_codepoints;

/* Unicode facts Python uses (tmpl_unicode.c, libunistring). */
int iris__uc_append_case(struct iris_buf *b, uint32_t cp, int how); /* 'u', 'l', 't' */
int iris__uc_is_cased(uint32_t cp);
int iris__uc_is_case_ignorable(uint32_t cp);
int iris__uc_is_lower(uint32_t cp);
int iris__uc_is_upper(uint32_t cp);
int iris__uc_is_title(uint32_t cp);
int iris__uc_decimal(uint32_t cp);  /* -1: not a decimal digit */
int iris__uc_is_digit(uint32_t cp); /* str.isdigit() */
int iris__uc_printable(uint32_t cp);
int iris__uc_is_word(uint32_t cp); /* matches \w of Python's re: alphanumeric or _ */
int iris__uc_final_sigma(const char *s, size_t lo, size_t hi, size_t i);
size_t iris__utf8_offset(const char *s, size_t n, size_t cp); /* byte offset of code point cp */

#endif /* IRIS_TMPL_INT_H */
