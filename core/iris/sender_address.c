/* sender_address.c — per-application From addresses (see sender_address.h). */
#include "sender_address.h"

#include <string.h>

#include "alloc.h"
#include "clock.h"

struct entry {
  char *application, *mode, *address; /* owned */
};

struct iris_sender_addresses {
  struct entry *rows; /* owned */
  size_t n;
  int64_t ttl_ms, loaded_ms; /* monotonic; loaded_ms 0: never */
};

static void clear(struct iris_sender_addresses *a) {
  size_t i;
  for (i = 0; i < a->n; i++) {
    iris_free(a->rows[i].application);
    iris_free(a->rows[i].mode);
    iris_free(a->rows[i].address);
  }
  iris_free(a->rows);
  a->rows = NULL;
  a->n = 0;
}

int iris_sender_addresses_new(int64_t ttl_ms, struct iris_sender_addresses **out,
                              struct iris_err *err) {
  *out = iris_calloc(1, sizeof **out);
  if (!*out)
    return iris_err_set(err, IRIS_ENOMEM, "sender addresses");
  (*out)->ttl_ms = ttl_ms > 0 ? ttl_ms : 60000;
  return IRIS_OK;
}

void iris_sender_addresses_free(struct iris_sender_addresses *a) {
  if (!a)
    return;
  clear(a);
  iris_free(a);
}

static int reload(struct iris_sender_addresses *a, struct iris_db *db, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct entry *fresh = NULL;
  size_t n = 0, cap;
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT a.name, mo.name, s.sender_address"
                         " FROM application_custom_sender_address s"
                         " JOIN application a ON a.id = s.application_id"
                         " JOIN mode mo ON mo.id = s.mode_id",
                         NULL, 0, &rows, err);
  if (rc)
    return rc;
  cap = iris_db_rows_count(rows);
  fresh = cap ? iris_calloc(cap, sizeof *fresh) : NULL;
  if (cap && !fresh)
    rc = iris_err_set(err, IRIS_ENOMEM, "sender addresses");
  while (rc == IRIS_OK && n < cap && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    rc = iris_db_get_strdup(rows, 0, &fresh[n].application, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 1, &fresh[n].mode, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_strdup(rows, 2, &fresh[n].address, err);
    n++;
  }
  iris_db_rows_free(rows);
  if (rc) {
    size_t i;
    for (i = 0; i < n; i++) {
      iris_free(fresh[i].application);
      iris_free(fresh[i].mode);
      iris_free(fresh[i].address);
    }
    iris_free(fresh);
    return rc;
  }
  clear(a);
  a->rows = fresh;
  a->n = n;
  a->loaded_ms = iris_clock_mono_ms();
  return IRIS_OK;
}

int iris_sender_address(struct iris_sender_addresses *a, struct iris_db *db,
                        const char *application, const char *mode, const char **out,
                        struct iris_err *err) {
  size_t i;
  int rc = IRIS_OK;
  *out = NULL;
  if (!a->loaded_ms || iris_clock_mono_ms() - a->loaded_ms > a->ttl_ms)
    rc = reload(a, db, err);
  for (i = 0; application && mode && i < a->n; i++)
    if (strcmp(a->rows[i].application, application) == 0 && strcmp(a->rows[i].mode, mode) == 0)
      *out = a->rows[i].address;
  return rc;
}
