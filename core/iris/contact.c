/* contact.c — mode and destination resolution (see contact.h). */
#include "contact.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

void iris_contact_cleanup(struct iris_contact *c) {
  if (!c)
    return;
  iris_free(c->destination);
  memset(c, 0, sizeof *c);
}

static int fill(struct iris_db_rows *rows, struct iris_contact *out, struct iris_err *err) {
  const char *mode, *dest = NULL;
  int rc = iris_db_get_str(rows, 0, &mode, NULL, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 1, &out->mode_id, err);
  if (rc == IRIS_OK && !iris_db_is_null(rows, 2))
    rc = iris_db_get_str(rows, 2, &dest, NULL, err);
  if (rc)
    return rc;
  snprintf(out->mode, sizeof out->mode, "%s", mode);
  if (dest) {
    out->destination = iris_strdup(dest);
    if (!out->destination)
      return iris_err_set(err, IRIS_ENOMEM, "contact: copying the destination");
  }
  return IRIS_OK;
}

/* The priority chain's query for one (application, priority, target); a leading "? AS k"
 * tags each copy when several are asked at once (UNION ALL). */
#define PRIORITY_QUERY(tag) \
  "SELECT " tag "m.name, m.id, tc.destination FROM target t" \
  " JOIN target_type tt ON tt.id = t.type_id AND tt.name = 'user'" \
  " JOIN application a ON a.name = ?" \
  " JOIN priority p ON p.id = ?" \
  " LEFT JOIN target_application_mode tam ON tam.target_id = t.id" \
  "  AND tam.application_id = a.id AND tam.priority_id = p.id" \
  " LEFT JOIN default_application_mode dam ON dam.application_id = a.id" \
  "  AND dam.priority_id = p.id" \
  " LEFT JOIN target_mode tm ON tm.target_id = t.id AND tm.priority_id = p.id" \
  " JOIN mode m ON m.id = COALESCE(tam.mode_id, dam.mode_id, tm.mode_id, p.mode_id)" \
  " JOIN application_mode am ON am.application_id = a.id AND am.mode_id = m.id" \
  " LEFT JOIN target_contact tc ON tc.target_id = t.id AND tc.mode_id = m.id" \
  " WHERE t.name = ?"

/* What the chain's query answered for one user: `count` rows, the first one's values. */
struct chain_answer {
  size_t count;
  char mode[64];
  int64_t mode_id;
  char *destination; /* owned, NULL for none */
};

/* Iris's judgement of a chain answer into *out (see iris_contact_by_priority). */
static int judge(const char *target, const char *application, int64_t priority_id,
                 const struct chain_answer *a, struct iris_contact *out, struct iris_err *err) {
  int rc = IRIS_OK;
  memset(out, 0, sizeof *out);
  if (a->count != 1) {
    return iris_err_set(err, IRIS_ENOTFOUND, "no mode for %s (application %s, priority %lld): %s",
                        target, application, (long long)priority_id,
                        a->count ? "ambiguous contacts"
                                 : "not a user, or the mode is not allowed for the application");
  }
  snprintf(out->mode, sizeof out->mode, "%s", a->mode);
  out->mode_id = a->mode_id;
  if (a->destination && !(out->destination = iris_strdup(a->destination)))
    return iris_err_set(err, IRIS_ENOMEM, "contact: copying the destination");
  if (!out->destination && strcmp(out->mode, "drop") != 0) {
    /* Keep the mode that had no contact: the fallback's changelog names it, as Iris's did. */
    rc = iris_err_set(err, IRIS_ENOTFOUND, "%s has no %s contact", target, out->mode);
  }
  return rc;
}

/* Add the current row (mode, mode id, destination from column `col`) to *a. */
static int answer_add(struct iris_db_rows *rows, size_t col, struct chain_answer *a,
                      struct iris_err *err) {
  const char *mode, *dest = NULL;
  int rc;
  if (a->count++)
    return IRIS_OK; /* (only the count matters past the first) */
  if ((rc = iris_db_get_str(rows, col, &mode, NULL, err)) ||
      (rc = iris_db_get_i64(rows, col + 1, &a->mode_id, err)) ||
      (!iris_db_is_null(rows, col + 2) && (rc = iris_db_get_str(rows, col + 2, &dest, NULL, err))))
    return rc;
  snprintf(a->mode, sizeof a->mode, "%s", mode);
  if (dest && !(a->destination = iris_strdup(dest)))
    return iris_err_set(err, IRIS_ENOMEM, "contact: copying the destination");
  return IRIS_OK;
}

int iris_contact_by_priority(struct iris_db *db, const char *target, const char *application,
                             int64_t priority_id, struct iris_contact *out, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(application), IRIS_DB_I64(priority_id),
                              IRIS_DB_STR(target)};
  struct chain_answer a = {0};
  int rc;
  memset(out, 0, sizeof *out);
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, PRIORITY_QUERY(""), p, 3, &rows, err);
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
    rc = answer_add(rows, 0, &a, err);
  iris_db_rows_free(rows);
  if (rc == IRIS_OK)
    rc = judge(target, application, priority_id, &a, out, err);
  iris_free(a.destination);
  return rc;
}

struct ahead_contact {
  struct iris_contact_want w; /* strings owned */
  struct chain_answer a;
};

struct iris_contacts {
  struct ahead_contact *v; /* n, owned */
  size_t n;
};

void iris_contacts_free(struct iris_contacts *c) {
  size_t i;
  if (!c)
    return;
  for (i = 0; i < c->n; i++) {
    iris_free((char *)c->v[i].w.target);
    iris_free((char *)c->v[i].w.application);
    iris_free(c->v[i].a.destination);
  }
  iris_free(c->v);
  iris_free(c);
}

int iris_contacts_read(struct iris_db *db, const struct iris_contact_want *w, size_t n,
                       struct iris_contacts **out, struct iris_err *err) {
  struct iris_contacts *c = iris_calloc(1, sizeof *c);
  struct iris_db_param *p = iris_calloc(4 * (n ? n : 1), sizeof *p);
  struct iris_db_rows *rows = NULL;
  struct iris_buf sql;
  size_t i;
  int rc = IRIS_OK;

  *out = NULL;
  iris_buf_init(&sql, 1 << 18);
  if (!c || !p || !(c->v = iris_calloc(n ? n : 1, sizeof *c->v)) ||
      iris_db_sql_rows(&sql, "", PRIORITY_QUERY("? AS k, "), " UNION ALL ", n, "")) {
    rc = iris_err_set(err, IRIS_ENOMEM, "contacts of %zu users", n);
    goto out;
  }
  for (i = 0; i < n; i++) {
    struct ahead_contact *e = &c->v[c->n++];
    e->w.priority_id = w[i].priority_id;
    if (!(e->w.target = iris_strdup(w[i].target)) ||
        !(e->w.application = iris_strdup(w[i].application))) {
      rc = iris_err_set(err, IRIS_ENOMEM, "contacts of %zu users", n);
      goto out;
    }
    p[4 * i] = IRIS_DB_I64((int64_t)i);
    p[4 * i + 1] = IRIS_DB_STR(w[i].application);
    p[4 * i + 2] = IRIS_DB_I64(w[i].priority_id);
    p[4 * i + 3] = IRIS_DB_STR(w[i].target);
  }
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sql), p, 4 * n, &rows, err);
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    int64_t k = -1;
    if ((rc = iris_db_get_i64(rows, 0, &k, err)))
      break;
    if (k < 0 || (size_t)k >= n) {
      rc = iris_err_set(err, IRIS_EDB, "contacts: a row for no one (%lld)", (long long)k);
      break;
    }
    rc = answer_add(rows, 1, &c->v[k].a, err);
  }
out:
  iris_db_rows_free(rows);
  iris_buf_cleanup(&sql);
  iris_free(p);
  if (rc) {
    iris_contacts_free(c);
    return rc;
  }
  *out = c;
  return IRIS_OK;
}

int iris_contact_by_priority_ahead(const struct iris_contacts *ahead, struct iris_db *db,
                                   const char *target, const char *application,
                                   int64_t priority_id, struct iris_contact *out,
                                   struct iris_err *err) {
  size_t i;
  for (i = 0; ahead && i < ahead->n; i++) {
    const struct ahead_contact *e = &ahead->v[i];
    if (e->w.priority_id == priority_id && strcmp(e->w.target, target) == 0 &&
        strcmp(e->w.application, application) == 0)
      return judge(target, application, priority_id, &e->a, out, err);
  }
  return iris_contact_by_priority(db, target, application, priority_id, out, err);
}

int iris_contact_for_mode(struct iris_db *db, const char *target, const char *mode,
                          struct iris_contact *out, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(target), IRIS_DB_STR(mode)};
  int rc;
  memset(out, 0, sizeof *out);
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT m.name, m.id, tc.destination FROM target_contact tc"
                     " JOIN target t ON t.id = tc.target_id"
                     " JOIN target_type tt ON tt.id = t.type_id AND tt.name = 'user'"
                     " JOIN mode m ON m.id = tc.mode_id"
                     " WHERE t.name = ? AND m.name = ?",
                     p, 2, &rows, err);
  if (rc)
    return rc;
  if (iris_db_rows_count(rows) != 1)
    rc = iris_err_set(err, IRIS_ENOTFOUND, "%s has %s %s contact", target,
                      iris_db_rows_count(rows) ? "more than one" : "no", mode);
  else if (iris_db_next(rows, err) == IRIS_DB_ROW)
    rc = fill(rows, out, err);
  iris_db_rows_free(rows);
  if (rc)
    iris_contact_cleanup(out);
  return rc;
}
