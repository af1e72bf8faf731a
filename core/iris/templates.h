/*
 * templates.h — Iris's message templates from MySQL, compiled once and cached.
 *
 * Layer: core, above db and tmpl; used by render.c. A template is a name whose active version
 * (template_active) has one content row per (application, mode) with a Jinja2 `subject` and
 * `body` (the legacy per-mode columns are ignored, as Iris does). Versions are immutable, so a
 * cached name stays valid until template_active points it elsewhere: each name is re-checked
 * (one indexed lookup) at most every `refresh_ms` and reloaded when its active version
 * changed. Unlike Iris, a name that did not exist yet is not remembered as empty.
 * Not thread-safe: one cache per thread (or a lock around it).
 */
#ifndef IRIS_TEMPLATES_H
#define IRIS_TEMPLATES_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "tmpl.h"

struct iris_templates; /* opaque */

int iris_templates_new(int64_t refresh_ms, struct iris_templates **out,
                       struct iris_err *err) IRIS_WARN_UNUSED;
void iris_templates_free(struct iris_templates *c);

struct iris_template_pair {
  const struct iris_tmpl *subject; /* borrowed from the cache: valid until the next get */
  const struct iris_tmpl *body;
  int64_t template_id;  /* the active version */
  int shows_message_id; /* subject or body already shows iris.message_id */
};

/*
 * The compiled subject and body of template `name` for (application, mode).
 * IRIS_ENOTFOUND with Iris's texts: "template X does not exist", "template X does not have
 * application A", "template X does not have mode M"; IRIS_ETEMPLATE when that content does
 * not compile (with the line and column); database errors as db.h.
 */
int iris_templates_get(struct iris_templates *c, struct iris_db *db, const char *name,
                       const char *application, const char *mode, struct iris_template_pair *out,
                       struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_TEMPLATES_H */
