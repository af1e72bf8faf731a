/* contact.c — mode and destination resolution (see contact.h). */
#include "contact.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"

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

int iris_contact_by_priority(struct iris_db *db, const char *target, const char *application,
                             int64_t priority_id, struct iris_contact *out, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(application), IRIS_DB_I64(priority_id),
                              IRIS_DB_STR(target)};
  int rc;
  memset(out, 0, sizeof *out);
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT m.name, m.id, tc.destination FROM target t"
                     " JOIN target_type tt ON tt.id = t.type_id AND tt.name = 'user'"
                     " JOIN application a ON a.name = ?"
                     " JOIN priority p ON p.id = ?"
                     " LEFT JOIN target_application_mode tam ON tam.target_id = t.id"
                     "  AND tam.application_id = a.id AND tam.priority_id = p.id"
                     " LEFT JOIN default_application_mode dam ON dam.application_id = a.id"
                     "  AND dam.priority_id = p.id"
                     " LEFT JOIN target_mode tm ON tm.target_id = t.id AND tm.priority_id = p.id"
                     " JOIN mode m ON m.id = COALESCE(tam.mode_id, dam.mode_id, tm.mode_id, p.mode_id)"
                     " JOIN application_mode am ON am.application_id = a.id AND am.mode_id = m.id"
                     " LEFT JOIN target_contact tc ON tc.target_id = t.id AND tc.mode_id = m.id"
                     " WHERE t.name = ?",
                     p, 3, &rows, err);
  if (rc)
    return rc;
  if (iris_db_rows_count(rows) != 1) {
    rc = iris_err_set(err, IRIS_ENOTFOUND, "no mode for %s (application %s, priority %lld): %s",
                      target, application, (long long)priority_id,
                      iris_db_rows_count(rows)
                          ? "ambiguous contacts"
                          : "not a user, or the mode is not allowed for the application");
  } else if (iris_db_next(rows, err) == IRIS_DB_ROW) {
    rc = fill(rows, out, err);
    if (rc == IRIS_OK && !out->destination && strcmp(out->mode, "drop") != 0)
      rc = iris_err_set(err, IRIS_ENOTFOUND, "%s has no %s contact", target, out->mode);
  }
  iris_db_rows_free(rows);
  if (rc) {
    /* Keep the mode that had no contact: the fallback's changelog names it, as Iris's did. */
    char mode[sizeof out->mode];
    snprintf(mode, sizeof mode, "%s", rc == IRIS_ENOTFOUND ? out->mode : "");
    iris_contact_cleanup(out);
    snprintf(out->mode, sizeof out->mode, "%s", mode);
  }
  return rc;
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
