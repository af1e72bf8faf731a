/* lease.c — the coordinator's lease (see lease.h and db/migrations/0002_sender_lease.sql). */
#include "lease.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <unistd.h>

int iris_lease_acquire(struct iris_db *db, const char *name, const char *owner, int seconds,
                       int *held, int64_t *token, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  /* Everything that compares with the old owner comes before `owner = ?` (left to right). */
  struct iris_db_param p[] = {IRIS_DB_STR(owner),   IRIS_DB_STR(owner), IRIS_DB_STR(owner),
                              IRIS_DB_STR(owner),   IRIS_DB_STR(owner), IRIS_DB_STR(owner),
                              IRIS_DB_I64(seconds), IRIS_DB_STR(name),  IRIS_DB_STR(owner)};
  int rc;
  *held = 0;
  rc = iris_db_exec(db, 0,
                    "UPDATE sender_lease SET"
                    " token = IF(owner <=> ?, token, token + 1),"
                    " acquired_at = IF(owner <=> ?, acquired_at, UTC_TIMESTAMP(3)),"
                    " acquired_count = acquired_count + IF(owner <=> ?, 0, 1),"
                    " renewed_count = renewed_count + IF(owner <=> ?, 1, 0),"
                    " takeover_count = takeover_count + IF(owner IS NOT NULL AND NOT owner <=> ?, 1, 0),"
                    " owner = ?, expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                    " updated_at = UTC_TIMESTAMP(3)"
                    " WHERE name = ? AND (owner IS NULL OR owner = ? OR expires_at < UTC_TIMESTAMP(3))",
                    p, 9, &info, err);
  if (rc)
    return iris_err_prefix(err, "lease %s", name);
  *held = info.affected_rows == 1;
  if (token && *held) {
    struct iris_db_param q[] = {IRIS_DB_STR(name)};
    rc = iris_db_query_i64(db, IRIS_DB_IDEMPOTENT, "SELECT token FROM sender_lease WHERE name = ?",
                           q, 1, token, err);
  }
  return rc;
}

int iris_lease_release(struct iris_db *db, const char *name, const char *owner,
                       struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(name), IRIS_DB_STR(owner)};
  return iris_db_exec(db, 0,
                      "UPDATE sender_lease SET owner = NULL, expires_at = UTC_TIMESTAMP(3),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE name = ? AND owner = ?",
                      p, 2, NULL, err);
}

int iris_lease_check(struct iris_db *db, const struct iris_lease_fence *f, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int rc;
  if (!f)
    return IRIS_OK;
  {
    struct iris_db_param p[] = {IRIS_DB_STR(f->name), IRIS_DB_STR(f->owner), IRIS_DB_I64(f->token)};
    rc = iris_db_query(db, 0,
                       "SELECT 1 FROM sender_lease WHERE name = ? AND owner = ? AND token = ?"
                       " LOCK IN SHARE MODE",
                       p, 3, &rows, err);
  }
  if (rc == IRIS_OK && iris_db_rows_count(rows) != 1)
    rc = iris_err_set(err, IRIS_EFENCED, "lease %s: no longer held by %s (token %lld)", f->name,
                      f->owner, (long long)f->token);
  iris_db_rows_free(rows);
  return rc;
}

int iris_lease_owner_id(const char *prefix, char *out, size_t size, struct iris_err *err) {
  unsigned char r[8];
  if (RAND_bytes(r, sizeof r) != 1)
    return iris_err_set(err, IRIS_EIO, "lease: no random bytes for a holder id");
  snprintf(out, size, "%s:%ld:%02x%02x%02x%02x%02x%02x%02x%02x", prefix, (long)getpid(), r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
  return IRIS_OK;
}
