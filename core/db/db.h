/*
 * db.h — MySQL/MariaDB access for the sender and the coordinator: prepared statements only.
 *
 * Layer: core, above err/alloc/buf/log; below every module that reads or writes Iris's
 * tables. Built on MariaDB Connector/C (libmariadb). One struct iris_db per thread.
 *
 * Calls pass SQL text with `?` placeholders and a typed parameter array; statements are
 * prepared once per connection and cached (LRU). There is no way to splice a value into
 * SQL text through this API.
 *
 *   struct iris_db_param p[] = {IRIS_DB_I64(incident_id), IRIS_DB_STR(owner)};
 *   rc = iris_db_exec(db, 0, "UPDATE incident SET owner_id=? WHERE id=?", p, 2, &info, err);
 *
 *   rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, "SELECT id, name FROM target WHERE type_id=?",
 *                      p, 1, &rows, err);
 *   while ((rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
 *     int64_t id; const char *name;
 *     if ((rc = iris_db_get_i64(rows, 0, &id, err)) || (rc = iris_db_get_str(rows, 1, &name, NULL, err)))
 *       break;
 *   }
 *   iris_db_rows_free(rows);      (rc is IRIS_OK after the last row)
 *
 * Errors (every message names the operation, the MySQL errno and text — never the password):
 *   IRIS_ECONN     the server is unreachable or the connection was lost;
 *   IRIS_EBUSY     deadlock (1213) or lock wait timeout (1205): retry the whole transaction;
 *   IRIS_EDUPLICATE duplicate key (1062);
 *   IRIS_ESTATE    the connection was lost inside a transaction: the transaction is gone;
 *                  every call fails so until iris_db_rollback() acknowledges it;
 *   IRIS_EINVAL    misuse: parameter count, getter of the wrong type, column out of range;
 *   IRIS_EDB       any other server error; IRIS_ENOMEM.
 * Reconnection: a lost connection is reopened on the next call. A statement flagged
 * IRIS_DB_IDEMPOTENT that finds the connection lost outside a transaction is re-run once
 * on a fresh connection; nothing else is ever re-run behind the caller's back.
 */
#ifndef IRIS_DB_H
#define IRIS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum iris_db_tls {
  IRIS_DB_TLS_OFF = 0,
  IRIS_DB_TLS_PREFERRED,      /* TLS if the server offers it */
  IRIS_DB_TLS_REQUIRED,       /* TLS or fail; certificate not verified */
  IRIS_DB_TLS_VERIFY_CA,      /* TLS, certificate signed by ca_file */
  IRIS_DB_TLS_VERIFY_IDENTITY /* as VERIFY_CA, and the host name matches */
};

/* Connection settings; strings borrowed during iris_db_open (copied). */
struct iris_db_opts {
  const char *host;        /* default "127.0.0.1" */
  unsigned int port;       /* default 3306 */
  const char *user;        /* required */
  const char *password;    /* resolved secret or NULL; registered for log redaction */
  const char *database;    /* required */
  const char *unix_socket; /* optional; overrides host/port */
  enum iris_db_tls tls;
  const char *ca_file;            /* for VERIFY_* */
  unsigned int connect_timeout_s; /* default 5 */
  unsigned int read_timeout_s;    /* default 30 */
  unsigned int write_timeout_s;   /* default 30 */
  unsigned int stmt_cache_size;   /* default 64 prepared statements */
};

struct iris_db;      /* opaque connection */
struct iris_db_rows; /* opaque, fully buffered result of one query */

/* Open a connection (utf8mb4, UTC session time zone, autocommit). Caller frees with
 * iris_db_close. IRIS_ECONN if the server cannot be reached or refuses the login. */
int iris_db_open(const struct iris_db_opts *opts, struct iris_db **out,
                 struct iris_err *err) IRIS_WARN_UNUSED;
void iris_db_close(struct iris_db *db);

enum iris_db_type { IRIS_DB_T_NULL, IRIS_DB_T_I64, IRIS_DB_T_DOUBLE, IRIS_DB_T_TEXT };

/* One bound parameter. Build with the macros; text is borrowed for the call. */
struct iris_db_param {
  enum iris_db_type type;
  int64_t i;
  double d;
  const char *s;
  size_t n; /* bytes of s, or IRIS_DB_NTS: measured when the statement runs */
};
#define IRIS_DB_NTS ((size_t)-1)
#define IRIS_DB_NULL ((struct iris_db_param){.type = IRIS_DB_T_NULL})
#define IRIS_DB_I64(v) ((struct iris_db_param){.type = IRIS_DB_T_I64, .i = (int64_t)(v)})
#define IRIS_DB_DOUBLE(v) ((struct iris_db_param){.type = IRIS_DB_T_DOUBLE, .d = (double)(v)})
/* NUL-terminated text; a NULL pointer binds SQL NULL. The length is taken when the statement
 * runs, so a parameter array may be declared before its buffers are filled. */
#define IRIS_DB_STR(v) iris_db_param_str(v)
/* n bytes of text or binary data. */
#define IRIS_DB_BYTES(p, len) \
  ((struct iris_db_param){.type = IRIS_DB_T_TEXT, .s = (p), .n = (len)})
struct iris_db_param iris_db_param_str(const char *s);

/* Flags for exec/query. */
#define IRIS_DB_IDEMPOTENT 1u /* safe to re-run after a lost connection (reads, upserts) */

struct iris_db_exec_info {
  uint64_t affected_rows;
  uint64_t insert_id;
};

/* Run a statement that returns no rows. info may be NULL. */
int iris_db_exec(struct iris_db *db, unsigned int flags, const char *sql,
                 const struct iris_db_param *params, size_t nparams,
                 struct iris_db_exec_info *info, struct iris_err *err) IRIS_WARN_UNUSED;

/* Run a query and buffer its result; *rows owned by the caller (iris_db_rows_free). */
int iris_db_query(struct iris_db *db, unsigned int flags, const char *sql,
                  const struct iris_db_param *params, size_t nparams, struct iris_db_rows **rows,
                  struct iris_err *err) IRIS_WARN_UNUSED;

/* Like iris_db_query, then positioned on its only row: IRIS_ENOTFOUND for no row,
 * IRIS_EINVAL for more than one (*rows is then NULL). */
int iris_db_query_one(struct iris_db *db, unsigned int flags, const char *sql,
                      const struct iris_db_param *params, size_t nparams,
                      struct iris_db_rows **rows, struct iris_err *err) IRIS_WARN_UNUSED;

/* A query answering one integer (COUNT, SUM, an id): *out from the only row's first column.
 * IRIS_ENOTFOUND for no row or a NULL value, IRIS_EINVAL for more than one row. */
int iris_db_query_i64(struct iris_db *db, unsigned int flags, const char *sql,
                      const struct iris_db_param *params, size_t nparams, int64_t *out,
                      struct iris_err *err) IRIS_WARN_UNUSED;

/* Advance: IRIS_DB_ROW when a row is current, IRIS_OK after the last row, or an error. */
#define IRIS_DB_ROW 1000
int iris_db_next(struct iris_db_rows *rows, struct iris_err *err) IRIS_WARN_UNUSED;
size_t iris_db_rows_count(const struct iris_db_rows *rows);
size_t iris_db_rows_columns(const struct iris_db_rows *rows);
void iris_db_rows_free(struct iris_db_rows *rows);

/*
 * The text of a multi-row statement: head, then `row` n times separated by `sep`, then tail,
 * appended to sql (caller's buffer). For "INSERT ... VALUES (?, ?), (?, ?)" (sep ", "), "IN
 * (?, ?, ?)", or one query per key (row "SELECT ? AS k, …", sep " UNION ALL "). For an
 * UPDATE giving many rows values of their own, see iris_db_update_keyed. Returns the
 * buffer's code.
 */
struct iris_buf;
int iris_db_sql_rows(struct iris_buf *sql, const char *head, const char *row, const char *sep,
                     size_t n, const char *tail) IRIS_WARN_UNUSED;

/* One per-row value of iris_db_update_keyed: the text `before`, a CASE on the key giving row
 * i the value v[i] (n values, the caller's; a row no arm names would get NULL), then `after`. */
struct iris_db_keyed {
  const char *before, *after;
  const struct iris_db_param *v;
};

/*
 * One UPDATE of n rows, each with its own values: the text is head, then each of set[] (nset),
 * then mid (ending in "WHERE"), then "<key> IN (the n keys)", then each of where[] (nwhere),
 * then tail. Every per-row value is a CASE <key> WHEN ? THEN ? ... END: cheaper for the server
 * than joining a derived table of values (no temporary table), and the rows are still locked
 * in ascending key (the server reads the IN list in index order). keys[] (n, the caller's)
 * must be distinct; give them in ascending order, for more rows than one statement can bind
 * (65535 placeholders) are updated in several statements, in the order given. Used only with
 * text of ours: placeholders, never values. info (may be NULL) receives the affected rows.
 * IRIS_ENOMEM, IRIS_ETOOBIG and iris_db_exec's errors.
 */
int iris_db_update_keyed(struct iris_db *db, const char *head, const char *key,
                         const struct iris_db_param *keys, size_t n,
                         const struct iris_db_keyed *set, size_t nset, const char *mid,
                         const struct iris_db_keyed *where, size_t nwhere, const char *tail,
                         struct iris_db_exec_info *info, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Typed getters of the current row. Each checks the column index and the column's SQL type
 * (IRIS_EINVAL naming the column otherwise) and NULL-ness: a NULL value gives IRIS_ENOTFOUND
 * unless the getter says otherwise — test with iris_db_is_null first where NULL is allowed.
 *   i64:    integer columns (TINYINT..BIGINT, YEAR, BIT); unsigned above INT64_MAX → ETOOBIG
 *   double: FLOAT, DOUBLE, DECIMAL, and integers
 *   str:    text, binary, JSON, DECIMAL, date and time columns as MySQL prints them; the
 *           pointer is borrowed until the next iris_db_next/free; *len may be NULL
 *   time:   DATETIME/TIMESTAMP/DATE as Unix seconds (the session is UTC)
 */
int iris_db_is_null(const struct iris_db_rows *rows, size_t col);
int iris_db_get_i64(const struct iris_db_rows *rows, size_t col, int64_t *out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
int iris_db_get_double(const struct iris_db_rows *rows, size_t col, double *out,
                       struct iris_err *err) IRIS_WARN_UNUSED;
int iris_db_get_str(const struct iris_db_rows *rows, size_t col, const char **out, size_t *len,
                    struct iris_err *err) IRIS_WARN_UNUSED;
int iris_db_get_time(const struct iris_db_rows *rows, size_t col, int64_t *out,
                     struct iris_err *err) IRIS_WARN_UNUSED;
/* A text column as an owned copy (caller frees with iris_free); a NULL value gives *out NULL
 * and IRIS_OK. IRIS_ENOMEM, or the errors of iris_db_get_str. */
int iris_db_get_strdup(const struct iris_db_rows *rows, size_t col, char **out,
                       struct iris_err *err) IRIS_WARN_UNUSED;
/* Column name (borrowed), "" if out of range. */
const char *iris_db_column_name(const struct iris_db_rows *rows, size_t col);

/* Explicit transactions. begin inside a transaction is IRIS_ESTATE. rollback always leaves
 * the handle usable (it also acknowledges a transaction lost with the connection). */
int iris_db_begin(struct iris_db *db, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_db_commit(struct iris_db *db, struct iris_err *err) IRIS_WARN_UNUSED;
int iris_db_rollback(struct iris_db *db, struct iris_err *err);
int iris_db_in_transaction(const struct iris_db *db);

/* The server's connection id (for logs and for tests). */
uint64_t iris_db_connection_id(const struct iris_db *db);

/* Tests: have the server kill this connection (from a second connection), so the next
 * call meets a lost connection exactly as after a server restart or network cut. */
int iris_db_debug_kill_connection(struct iris_db *db, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_DB_H */
