/* recipients.c — role lookups from Iris's tables or through Oncall (see recipients.h). */
#include "recipients.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "oncall.h"

/* Names checked against the target table per query: a fixed count keeps it one prepared
 * statement; unused slots bind NULL, which matches nothing. */
#define ACTIVE_CHUNK 16
#define ACTIVE_USERS_SQL \
  "SELECT t.name FROM target t JOIN target_type tt ON tt.id = t.type_id" \
  " WHERE tt.name = 'user' AND t.active = 1" \
  " AND t.name IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

void iris_recipients_cleanup(struct iris_recipients *r) {
  size_t i;
  if (!r)
    return;
  for (i = 0; i < r->n; i++)
    iris_free(r->names[i]);
  iris_free(r->names);
  memset(r, 0, sizeof *r);
}

/* Append a copy of name to out (whose array has room). */
static int add_name(struct iris_recipients *out, const char *name, struct iris_err *err) {
  out->names[out->n] = iris_strdup(name);
  if (!out->names[out->n])
    return iris_err_set(err, IRIS_ENOMEM, "recipients");
  out->n++;
  return IRIS_OK;
}

static int cmp_name(const void *key, const void *elem) {
  return strcmp(key, *(const char *const *)elem);
}

/*
 * Oncall's names for (role, target), kept only where they are active Iris users — Iris
 * intersects every role lookup's answer with its active user targets. Oncall's list is
 * sorted and unique already; the comparison is exact (the collation of the table would let
 * "Ada" stand for "ada", which Iris's set intersection does not).
 */
static int from_oncall(struct iris_db *db, struct iris_oncall *oncall, const char *role,
                       const char *target, struct iris_recipients *out, struct iris_err *err) {
  const char *const *names = NULL;
  struct iris_db_rows *rows = NULL;
  unsigned char *keep = NULL;
  size_t n = 0, i, k;
  int rc;

  rc = iris_oncall_get(oncall, role, target, &names, &n, err);
  if (rc)
    goto out;
  out->names = iris_calloc(n + 1, sizeof *out->names);
  keep = iris_calloc(n + 1, 1);
  if (!out->names || !keep) {
    rc = iris_err_set(err, IRIS_ENOMEM, "recipients");
    goto out;
  }
  for (i = 0; i < n && rc == IRIS_OK; i += ACTIVE_CHUNK) {
    struct iris_db_param p[ACTIVE_CHUNK];
    size_t m = n - i < ACTIVE_CHUNK ? n - i : ACTIVE_CHUNK;
    for (k = 0; k < ACTIVE_CHUNK; k++)
      p[k] = k < m ? IRIS_DB_STR(names[i + k]) : IRIS_DB_NULL;
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, ACTIVE_USERS_SQL, p, ACTIVE_CHUNK, &rows, err);
    while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
      const char *name, *const *hit;
      rc = iris_db_get_str(rows, 0, &name, NULL, err);
      hit = rc ? NULL : bsearch(name, names + i, m, sizeof *names, cmp_name);
      if (hit)
        keep[hit - names] = 1;
    }
    iris_db_rows_free(rows);
    rows = NULL;
  }
  for (i = 0; i < n && rc == IRIS_OK; i++)
    if (keep[i])
      rc = add_name(out, names[i], err);
out:
  iris_db_rows_free(rows);
  iris_free(keep);
  if (rc)
    iris_recipients_cleanup(out);
  return rc;
}

static int from_tables(struct iris_db *db, const char *role, const char *target,
                       int64_t max_unrolled, struct iris_recipients *out, struct iris_err *err) {
  /* Each role names a target of one type; users and lists may share a name (Iris's own demo
   * data has both a user and a list called "demo"), so every lookup filters by type. */
  static const struct {
    const char *role, *type, *sql;
  } roles[] = {
      {"user", "user",
       "SELECT t.name FROM target t JOIN target_type tt ON tt.id = t.type_id"
       " WHERE t.name = ? AND tt.name = 'user' AND t.active = 1"},
      {"team", "team",
       "SELECT u.name FROM target tm JOIN target_type tt ON tt.id = tm.type_id"
       " JOIN user_team ut ON ut.team_id = tm.id JOIN target u ON u.id = ut.user_id"
       " WHERE tm.name = ? AND tt.name = 'team' AND u.active = 1 ORDER BY u.name"},
      {"manager", "team",
       "SELECT u.name FROM target tm JOIN target_type tt ON tt.id = tm.type_id"
       " JOIN team t ON t.target_id = tm.id JOIN target u ON u.id = t.manager_id"
       " WHERE tm.name = ? AND tt.name = 'team' AND u.active = 1"},
      {"mailing-list", "mailing-list",
       "SELECT u.name FROM target l JOIN target_type tt ON tt.id = l.type_id"
       " JOIN mailing_list_membership m ON m.list_id = l.id JOIN target u ON u.id = m.user_id"
       " WHERE l.name = ? AND tt.name = 'mailing-list' AND u.active = 1 ORDER BY u.name"},
  };
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[2];
  size_t i, k;
  int rc;

  for (k = 0; k < sizeof roles / sizeof roles[0]; k++)
    if (role && strcmp(role, roles[k].role) == 0)
      break;
  if (k == sizeof roles / sizeof roles[0]) {
    rc = iris_err_set(err, IRIS_EINVAL, "unknown role '%s'", role ? role : "");
    goto out;
  }
  p[0] = IRIS_DB_STR(target);
  p[1] = IRIS_DB_STR(roles[k].type);
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT t.id FROM target t JOIN target_type tt ON tt.id = t.type_id"
                     " WHERE t.name = ? AND tt.name = ?",
                     p, 2, &rows, err);
  if (rc == IRIS_OK && iris_db_rows_count(rows) == 0)
    rc = iris_err_set(err, IRIS_ENOTFOUND, "unknown %s '%s'", roles[k].type, target);
  iris_db_rows_free(rows);
  rows = NULL;
  if (rc == IRIS_OK)
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, roles[k].sql, p, 1, &rows, err);
  if (rc)
    goto out;
  /* Iris's mailing-list lookup gives nobody for a list at or over the cap (the plan's
   * creator is paged instead); it counts the members it read. */
  if (max_unrolled > 0 && strcmp(roles[k].role, "mailing-list") == 0 &&
      (int64_t)iris_db_rows_count(rows) >= max_unrolled) {
    rc = iris_err_set(err, IRIS_ENOTFOUND,
                      "mailing list %s has %zu members, at or over ldap_lists.max_unrolled_users"
                      " (%lld): not unrolled",
                      target, iris_db_rows_count(rows), (long long)max_unrolled);
    goto out;
  }
  out->names = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *out->names);
  if (!out->names) {
    rc = iris_err_set(err, IRIS_ENOMEM, "recipients");
    goto out;
  }
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *name;
    int dup = 0;
    rc = iris_db_get_str(rows, 0, &name, NULL, err);
    for (i = 0; rc == IRIS_OK && i < out->n && !dup; i++)
      dup = strcmp(out->names[i], name) == 0;
    if (rc == IRIS_OK && !dup)
      rc = add_name(out, name, err);
  }
out:
  iris_db_rows_free(rows);
  if (rc)
    iris_recipients_cleanup(out);
  return rc;
}

int iris_recipients_expand(struct iris_db *db, const struct iris_recipients_opts *opts,
                           const char *role, const char *target, struct iris_recipients *out,
                           struct iris_err *err) {
  struct iris_oncall *oncall = opts ? opts->oncall : NULL;
  memset(out, 0, sizeof *out);
  if (oncall && iris_oncall_serves_role(role))
    return from_oncall(db, oncall, role, target, out, err);
  if (!oncall && role && strncmp(role, "oncall", 6) == 0)
    return iris_err_set(err, IRIS_EUNSUPPORTED,
                        "role %s needs the Oncall API, which is not configured (config oncall.api)",
                        role);
  return from_tables(db, role, target, opts ? opts->max_unrolled_users : 0, out, err);
}
