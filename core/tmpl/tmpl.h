/*
 * tmpl.h — a Jinja2-compatible template engine for Iris's message templates.
 *
 * Layer: core, above err/alloc/buf (jansson for data). Used by render.c. Iris stores its
 * templates as Jinja2 and renders them in a SandboxedEnvironment with autoescape off and the
 * default Undefined; this engine renders the subset Iris templates use with the same output,
 * byte for byte, and refuses everything else when the template is compiled — never renders
 * it wrong. docs/templates.md lists the subset; tests/tmpl/ holds the conformance suite whose
 * expected outputs come from real Jinja2.
 *
 * Data is JSON only (a jansson value): templates can read nothing else — that is the sandbox.
 * A compiled template is immutable: render it from any number of threads at once.
 */
#ifndef IRIS_TMPL_H
#define IRIS_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct iris_tmpl; /* opaque compiled template */

/*
 * Compile `len` bytes of `source` (UTF-8). `name` appears in every error ("template
 * 'disk-alert/email/subject' line 3 col 14: ..."). Syntax errors and unsupported features
 * give IRIS_ETEMPLATE; IRIS_ENOMEM. *out owned by the caller (iris_tmpl_free).
 */
int iris_tmpl_compile(const char *name, const char *source, size_t len, struct iris_tmpl **out,
                      struct iris_err *err) IRIS_WARN_UNUSED;
void iris_tmpl_free(struct iris_tmpl *t);

/*
 * Render with `context` (a JSON object, borrowed; NULL means {}), appending to `out`.
 * Render-time failures (an attribute of an undefined value, a type error, division by
 * zero, too much output or too many loop iterations) give IRIS_ETEMPLATE with the line;
 * IRIS_ENOMEM / IRIS_ETOOBIG from `out`. On failure `out` may hold partial output.
 */
int iris_tmpl_render(const struct iris_tmpl *t, json_t *context, struct iris_buf *out,
                     struct iris_err *err) IRIS_WARN_UNUSED;

/* The name given at compile time (borrowed). */
const char *iris_tmpl_name(const struct iris_tmpl *t);

/*
 * Does the template reference iris.message_id (as `iris.message_id` or
 * `iris['message_id']`) anywhere? Iris prefixes the subject with the message id unless the
 * subject or body already shows it.
 */
int iris_tmpl_mentions(const struct iris_tmpl *t, const char *object, const char *attribute);

/*
 * The per-render budget. Every render is bounded so that no template — however written —
 * can crash, hang or exhaust the process: exceeding any part is a render error naming it
 * ("template 'x' line 3: the render's memory budget (64 MiB) is exhausted"). Configure it
 * once at startup with iris_tmpl_set_limits(); docs/templates.md lists the defaults.
 */
struct iris_tmpl_limits {
  size_t max_memory;   /* bytes of intermediate values (strings, lists, dicts, loop state) */
  long max_steps;      /* evaluation steps: expressions, loop iterations, items handled */
  long max_iterations; /* loop iterations in total */
  int max_depth;       /* nesting of blocks and expressions (parse and render), 8..64 */
};

#define IRIS_TMPL_DEFAULT_MEMORY ((size_t)64 << 20) /* 64 MiB */
#define IRIS_TMPL_DEFAULT_STEPS 50000000L
#define IRIS_TMPL_MAX_ITERATIONS 1000000 /* default loop iterations in total */
#define IRIS_TMPL_MAX_RANGE 100000       /* items range() may produce (Jinja's sandbox limit) */
#define IRIS_TMPL_MAX_DEPTH 64           /* default and ceiling of max_depth */

/*
 * Replace the budget of every later compile and render (zero fields keep the default;
 * max_depth is clamped to 8..64). Not thread-safe: call it once at startup, before any
 * template is compiled or rendered.
 */
void iris_tmpl_set_limits(const struct iris_tmpl_limits *limits);
/* The budget in force (defaults until iris_tmpl_set_limits). */
void iris_tmpl_get_limits(struct iris_tmpl_limits *out);

#endif /* IRIS_TMPL_H */
