/* recipients.c — role lookups from Iris's tables (see recipients.h). */
#include "recipients.h"

#include <string.h>

#include "alloc.h"

void iris_recipients_cleanup(struct iris_recipients *r) {
  size_t i;
  if (!r)
    return;
  for (i = 0; i < r->n; i++)
    iris_free(r->names[i]);
  iris_free(r->names);
  memset(r, 0, sizeof *r);
}

int iris_recipients_expand(struct iris_db *db, struct iris_oncall *oncall, const char *role,
                           const char *target, struct iris_recipients *out,
                           struct iris_err *err) {
  static const struct {
    const char *role, *sql;
  } roles[] = {
      {"user", "SELECT t.name FROM target t JOIN target_type tt ON tt.id = t.type_id"
               " WHERE t.name = ? AND tt.name = 'user' AND t.active = 1"},
      {"team", "SELECT u.name FROM target tm JOIN user_team ut ON ut.team_id = tm.id"
               " JOIN target u ON u.id = ut.user_id WHERE tm.name = ? AND u.active = 1"
               " ORDER BY u.name"},
      {"manager", "SELECT u.name FROM target tm JOIN team t ON t.target_id = tm.id"
                  " JOIN target u ON u.id = t.manager_id WHERE tm.name = ? AND u.active = 1"},
      {"mailing-list", "SELECT u.name FROM target l JOIN mailing_list_membership m"
                       " ON m.list_id = l.id JOIN target u ON u.id = m.user_id"
                       " WHERE l.name = ? AND u.active = 1 ORDER BY u.name"},
  };
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(target)};
  size_t i, k;
  int rc;

  memset(out, 0, sizeof *out);
  (void)oncall; /* TODO(oncall): Oncall API lookups */
  if (role && strncmp(role, "oncall", 6) == 0)
    return iris_err_set(err, IRIS_EUNSUPPORTED,
                        "role %s needs the Oncall API, which this sender does not query yet", role);
  for (k = 0; k < sizeof roles / sizeof roles[0]; k++)
    if (role && strcmp(role, roles[k].role) == 0)
      break;
  if (k == sizeof roles / sizeof roles[0])
    return iris_err_set(err, IRIS_EINVAL, "unknown role '%s'", role ? role : "");
  {
    struct iris_db_rows *exists = NULL;
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, "SELECT id FROM target WHERE name = ?", p, 1,
                       &exists, err);
    if (rc == IRIS_OK && iris_db_rows_count(exists) == 0)
      rc = iris_err_set(err, IRIS_ENOTFOUND, "unknown target '%s'", target);
    iris_db_rows_free(exists);
    if (rc)
      return rc;
  }
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, roles[k].sql, p, 1, &rows, err);
  if (rc)
    return rc;
  out->names = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *out->names);
  if (!out->names) {
    iris_db_rows_free(rows);
    return iris_err_set(err, IRIS_ENOMEM, "recipients");
  }
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    const char *name;
    int dup = 0;
    rc = iris_db_get_str(rows, 0, &name, NULL, err);
    for (i = 0; rc == IRIS_OK && i < out->n && !dup; i++)
      dup = strcmp(out->names[i], name) == 0;
    if (rc == IRIS_OK && !dup) {
      out->names[out->n] = iris_strdup(name);
      if (!out->names[out->n])
        rc = iris_err_set(err, IRIS_ENOMEM, "recipients");
      else
        out->n++;
    }
  }
  iris_db_rows_free(rows);
  if (rc)
    iris_recipients_cleanup(out);
  return rc;
}
