/* templates.c — the compiled-template cache (see templates.h). */
#include "templates.h"

#include <string.h>

#include "alloc.h"
#include "clock.h"

#define IRIS_LOG_MODULE "templates"
#include "log.h"

struct content {
  char *application, *mode;
  struct iris_tmpl *subject, *body; /* NULL with `error` set when it does not compile */
  char *error;
  int shows_id;
};

struct entry {
  char *name;
  int64_t template_id;
  int64_t checked_ms;
  struct content *v;
  size_t n;
  struct entry *next;
};

struct iris_templates {
  int64_t refresh_ms;
  struct entry *entries;
};

int iris_templates_new(int64_t refresh_ms, struct iris_templates **out, struct iris_err *err) {
  *out = iris_calloc(1, sizeof **out);
  if (!*out)
    return iris_err_set(err, IRIS_ENOMEM, "templates: allocating the cache");
  (*out)->refresh_ms = refresh_ms > 0 ? refresh_ms : 60000;
  return IRIS_OK;
}

static void entry_clear(struct entry *e) {
  size_t i;
  for (i = 0; i < e->n; i++) {
    iris_free(e->v[i].application);
    iris_free(e->v[i].mode);
    iris_tmpl_free(e->v[i].subject);
    iris_tmpl_free(e->v[i].body);
    iris_free(e->v[i].error);
  }
  iris_free(e->v);
  e->v = NULL;
  e->n = 0;
}

void iris_templates_free(struct iris_templates *c) {
  struct entry *e, *next;
  if (!c)
    return;
  for (e = c->entries; e; e = next) {
    next = e->next;
    entry_clear(e);
    iris_free(e->name);
    iris_free(e);
  }
  iris_free(c);
}

static int active_id(struct iris_db *db, const char *name, int64_t *id, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(name)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT template_id FROM template_active WHERE name = ?", p, 1, &rows,
                         err);
  *id = 0;
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW)
    rc = iris_db_get_i64(rows, 0, id, err);
  iris_db_rows_free(rows);
  return rc;
}

static int compile_part(struct content *ct, const char *tname, const char *part, const char *src,
                        size_t len, struct iris_tmpl **out) {
  struct iris_err err = {0};
  char *label = iris_asprintf("%s/%s/%s/%s", tname, ct->application, ct->mode, part);
  int rc;
  if (!label)
    return IRIS_ENOMEM;
  rc = iris_tmpl_compile(label, src, len, out, &err);
  iris_free(label);
  if (rc == IRIS_ETEMPLATE && !ct->error) {
    ct->error = iris_strdup(err.msg);
    return ct->error ? IRIS_OK : IRIS_ENOMEM;
  }
  return rc;
}

static int load(struct entry *e, struct iris_db *db, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(e->template_id)};
  size_t n, i = 0;
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT a.name, m.name, tc.subject, tc.body FROM template_content tc "
                         "JOIN application a ON a.id = tc.application_id "
                         "JOIN mode m ON m.id = tc.mode_id WHERE tc.template_id = ?",
                         p, 1, &rows, err);
  if (rc)
    return rc;
  n = iris_db_rows_count(rows);
  e->v = n ? iris_calloc(n, sizeof *e->v) : NULL;
  if (n && !e->v) {
    iris_db_rows_free(rows);
    return iris_err_set(err, IRIS_ENOMEM, "templates: loading %s", e->name);
  }
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    struct content *ct = &e->v[i++];
    const char *app, *mode, *subject, *body;
    size_t sl, bl;
    e->n = i;
    if ((rc = iris_db_get_str(rows, 0, &app, NULL, err)) ||
        (rc = iris_db_get_str(rows, 1, &mode, NULL, err)) ||
        (rc = iris_db_get_str(rows, 2, &subject, &sl, err)) ||
        (rc = iris_db_get_str(rows, 3, &body, &bl, err)))
      break;
    ct->application = iris_strdup(app);
    ct->mode = iris_strdup(mode);
    if (!ct->application || !ct->mode) {
      rc = iris_err_set(err, IRIS_ENOMEM, "templates: loading %s", e->name);
      break;
    }
    rc = compile_part(ct, e->name, "subject", subject, sl, &ct->subject);
    if (rc == IRIS_OK)
      rc = compile_part(ct, e->name, "body", body, bl, &ct->body);
    if (rc) {
      rc = iris_err_set(err, rc, "templates: compiling %s", e->name);
      break;
    }
    if (ct->error)
      IRIS_LOG_WARN("%s", ct->error);
    else
      ct->shows_id = iris_tmpl_mentions(ct->subject, "iris", "message_id") ||
                     iris_tmpl_mentions(ct->body, "iris", "message_id");
  }
  iris_db_rows_free(rows);
  return rc;
}

int iris_templates_get(struct iris_templates *c, struct iris_db *db, const char *name,
                       const char *application, const char *mode, struct iris_template_pair *out,
                       struct iris_err *err) {
  struct entry *e;
  int64_t now = iris_clock_mono_ms(), id;
  size_t i;
  int has_app = 0, rc;

  memset(out, 0, sizeof *out);
  for (e = c->entries; e; e = e->next)
    if (strcmp(e->name, name) == 0)
      break;
  if (!e || now - e->checked_ms >= c->refresh_ms) {
    rc = active_id(db, name, &id, err);
    if (rc)
      return rc;
    if (!id)
      return iris_err_set(err, IRIS_ENOTFOUND, "template %s does not exist", name);
    if (!e) {
      e = iris_calloc(1, sizeof *e);
      if (e)
        e->name = iris_strdup(name);
      if (!e || !e->name) {
        iris_free(e);
        return iris_err_set(err, IRIS_ENOMEM, "templates: caching %s", name);
      }
      e->next = c->entries;
      c->entries = e;
    }
    if (e->template_id != id) {
      entry_clear(e);
      e->template_id = id;
      rc = load(e, db, err);
      if (rc) {
        entry_clear(e);
        e->template_id = 0;
        return rc;
      }
      IRIS_LOG_INFO("template %s: version %lld, %zu contents", name, (long long)id, e->n);
    }
    e->checked_ms = now;
  }
  for (i = 0; i < e->n; i++) {
    if (strcmp(e->v[i].application, application) != 0)
      continue;
    has_app = 1;
    if (strcmp(e->v[i].mode, mode) != 0)
      continue;
    if (e->v[i].error)
      return iris_err_set(err, IRIS_ETEMPLATE, "%s", e->v[i].error);
    out->subject = e->v[i].subject;
    out->body = e->v[i].body;
    out->template_id = e->template_id;
    out->shows_message_id = e->v[i].shows_id;
    return IRIS_OK;
  }
  if (!has_app)
    return iris_err_set(err, IRIS_ENOTFOUND, "template %s does not have application %s", name,
                        application);
  return iris_err_set(err, IRIS_ENOTFOUND, "template %s does not have mode %s", name, mode);
}
