/*
 * db.c — prepared-statement access to MySQL/MariaDB (see db.h).
 *
 * Results are copied out of the statement as soon as the query runs, so a result set never
 * depends on the connection or on a cached statement: callers may run other statements
 * while iterating, and a reconnect can never leave a dangling cursor.
 */
#define _DEFAULT_SOURCE /* timegm */
#include "db.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include <time.h>

#include "alloc.h"

#define IRIS_LOG_MODULE "db"
#include "log.h"

#define SQL_EXCERPT 100

struct stmt_entry {
  char *sql;
  MYSQL_STMT *stmt;
  uint64_t last_used;
  struct stmt_entry *next;
};

struct iris_db {
  MYSQL *conn; /* NULL while disconnected; reopened lazily */
  char *host, *user, *password, *database, *unix_socket, *ca_file;
  unsigned int port, connect_timeout_s, read_timeout_s, write_timeout_s, cache_max;
  enum iris_db_tls tls;
  int in_tx;   /* inside START TRANSACTION */
  int tx_lost; /* the connection died inside a transaction; ESTATE until rollback */
  struct stmt_entry *cache;
  unsigned int ncache;
  uint64_t tick;
  uint64_t conn_id;
};

struct value {
  int null;
  int64_t i;
  double d;
  char *s; /* text form, NUL-terminated (owned) */
  size_t n;
};

struct column {
  char *name;
  enum enum_field_types type;
  int is_unsigned;
};

struct iris_db_rows {
  size_t ncols, nrows, cap_rows;
  struct column *cols;
  struct value *vals; /* nrows * ncols */
  size_t cur;         /* 1-based index of the current row; 0 before the first */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;
static void lib_init(void) { lib_rc = mysql_library_init(0, NULL, NULL); }

struct iris_db_param iris_db_param_str(const char *s) {
  struct iris_db_param p = {.type = IRIS_DB_T_NULL};
  if (s) {
    p.type = IRIS_DB_T_TEXT;
    p.s = s;
    p.n = IRIS_DB_NTS;
  }
  return p;
}

/* ---- error mapping ----------------------------------------------------------------- */

static int is_lost(unsigned int e) {
  return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
         e == CR_CONN_HOST_ERROR || e == ER_CONNECTION_KILLED || e == 4031 /* idle timeout */ ||
         e == ER_SERVER_SHUTDOWN || e == 2055 /* CR_SERVER_LOST_EXTENDED */ ||
         e == CR_COMMANDS_OUT_OF_SYNC;
}

static int rc_for(unsigned int e) {
  if (is_lost(e))
    return IRIS_ECONN;
  switch (e) {
  case ER_LOCK_DEADLOCK:
  case ER_LOCK_WAIT_TIMEOUT: return IRIS_EBUSY;
  case ER_DUP_ENTRY:
  case ER_DUP_ENTRY_WITH_KEY_NAME: return IRIS_EDUPLICATE;
  case CR_OUT_OF_MEMORY: return IRIS_ENOMEM;
  default: return IRIS_EDB;
  }
}

/* Close the connection and every cached statement (after a loss, or on close). */
static void drop_conn(struct iris_db *db) {
  struct stmt_entry *e = db->cache, *next;
  for (; e; e = next) {
    next = e->next;
    if (e->stmt)
      mysql_stmt_close(e->stmt);
    iris_free(e->sql);
    iris_free(e);
  }
  db->cache = NULL;
  db->ncache = 0;
  if (db->conn)
    mysql_close(db->conn);
  db->conn = NULL;
  db->conn_id = 0;
}

static const char *tls_name(enum iris_db_tls t) {
  static const char *const names[] = {"off", "preferred", "required", "verify-ca",
                                      "verify-identity"};
  return (unsigned)t < 5 ? names[t] : "?";
}

static int connect_now(struct iris_db *db, struct iris_err *err) {
  MYSQL *m = mysql_init(NULL);
  unsigned int proto = db->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
  my_bool off = 0, on = 1;
  if (!m)
    return iris_err_set(err, IRIS_ENOMEM, "db: mysql_init failed");
  mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &db->connect_timeout_s);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &db->read_timeout_s);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &db->write_timeout_s);
  mysql_options(m, MYSQL_OPT_RECONNECT, &off); /* we decide what may be re-run */
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
  if (db->tls != IRIS_DB_TLS_OFF) {
    mysql_ssl_set(m, NULL, NULL, db->ca_file, NULL, NULL);
    if (db->tls >= IRIS_DB_TLS_REQUIRED)
      mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (db->tls >= IRIS_DB_TLS_VERIFY_CA)
      mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
  }
  if (!mysql_real_connect(m, db->host, db->user, db->password, db->database, db->port,
                          db->unix_socket, CLIENT_FOUND_ROWS)) {
    /* mysql_error names user, host and database, never the password. */
    int rc = iris_err_set(err, IRIS_ECONN, "db: connect to %s@%s:%u/%s (tls %s): MySQL %u: %s",
                          db->user, db->unix_socket ? db->unix_socket : db->host, db->port,
                          db->database, tls_name(db->tls), mysql_errno(m), mysql_error(m));
    mysql_close(m);
    return rc;
  }
  db->conn = m;
  db->conn_id = mysql_thread_id(m);
  return IRIS_OK;
}

static int ensure_conn(struct iris_db *db, struct iris_err *err) {
  if (db->conn)
    return IRIS_OK;
  return connect_now(db, err);
}

void iris_db_close(struct iris_db *db) {
  if (!db)
    return;
  drop_conn(db);
  iris_free(db->host);
  iris_free(db->user);
  iris_free(db->password);
  iris_free(db->database);
  iris_free(db->unix_socket);
  iris_free(db->ca_file);
  iris_free(db);
}

static int dup_opt(char **dst, const char *src) {
  if (!src)
    return 0;
  *dst = iris_strdup(src);
  return *dst == NULL;
}

int iris_db_open(const struct iris_db_opts *opts, struct iris_db **out, struct iris_err *err) {
  struct iris_db *db = NULL;
  int rc;

  *out = NULL;
  pthread_once(&lib_once, lib_init);
  if (lib_rc)
    return iris_err_set(err, IRIS_EDB, "db: mysql_library_init failed");
  if (!opts || !opts->user || !*opts->user || !opts->database || !*opts->database)
    return iris_err_set(err, IRIS_EINVAL, "db: user and database are required");
  if ((unsigned)opts->tls > IRIS_DB_TLS_VERIFY_IDENTITY)
    return iris_err_set(err, IRIS_EINVAL, "db: unknown TLS mode %d", (int)opts->tls);
  if (opts->tls >= IRIS_DB_TLS_VERIFY_CA && (!opts->ca_file || !*opts->ca_file))
    return iris_err_set(err, IRIS_EINVAL, "db: TLS mode %s needs a CA file", tls_name(opts->tls));
  db = iris_calloc(1, sizeof *db);
  if (!db)
    return iris_err_set(err, IRIS_ENOMEM, "db: allocating the handle");
  if (dup_opt(&db->host, opts->host ? opts->host : "127.0.0.1") ||
      dup_opt(&db->user, opts->user) || dup_opt(&db->password, opts->password) ||
      dup_opt(&db->database, opts->database) || dup_opt(&db->unix_socket, opts->unix_socket) ||
      dup_opt(&db->ca_file, opts->ca_file)) {
    rc = iris_err_set(err, IRIS_ENOMEM, "db: copying options");
    goto out;
  }
  if (db->password && strlen(db->password) >= 4) {
    rc = iris_log_add_secret(db->password);
    if (rc) {
      iris_err_set(err, rc, "db: registering the password for redaction");
      goto out;
    }
  }
  db->port = opts->port ? opts->port : 3306;
  db->tls = opts->tls;
  db->connect_timeout_s = opts->connect_timeout_s ? opts->connect_timeout_s : 5;
  db->read_timeout_s = opts->read_timeout_s ? opts->read_timeout_s : 30;
  db->write_timeout_s = opts->write_timeout_s ? opts->write_timeout_s : 30;
  db->cache_max = opts->stmt_cache_size ? opts->stmt_cache_size : 64;
  rc = connect_now(db, err);
  if (rc)
    goto out;
  *out = db;
  db = NULL;
out:
  iris_db_close(db);
  return rc;
}

uint64_t iris_db_connection_id(const struct iris_db *db) { return db ? db->conn_id : 0; }
int iris_db_in_transaction(const struct iris_db *db) { return db && (db->in_tx || db->tx_lost); }

/* ---- statement cache ------------------------------------------------------------------- */

static void excerpt(const char *sql, char *dst, size_t size) {
  size_t n = strlen(sql);
  if (n >= size) {
    memcpy(dst, sql, size - 4);
    memcpy(dst + size - 4, "...", 4);
  } else {
    memcpy(dst, sql, n + 1);
  }
}

/* Error of a call on the connection: maps it and drops a lost connection. */
static int conn_error(struct iris_db *db, unsigned int e, const char *what, const char *sql,
                      const char *text, struct iris_err *err) {
  char ex[SQL_EXCERPT];
  int rc = rc_for(e);
  excerpt(sql, ex, sizeof ex);
  iris_err_set(err, rc, "db: %s [%s]: MySQL %u: %s", what, ex, e, text);
  if (rc == IRIS_ECONN)
    drop_conn(db);
  return rc;
}

static int get_stmt(struct iris_db *db, const char *sql, MYSQL_STMT **out, struct iris_err *err) {
  struct stmt_entry *e, **pp, **lru = NULL;
  MYSQL_STMT *stmt;
  for (e = db->cache; e; e = e->next) {
    if (strcmp(e->sql, sql) == 0) {
      e->last_used = ++db->tick;
      *out = e->stmt;
      return IRIS_OK;
    }
  }
  if (db->ncache >= db->cache_max) {
    for (pp = &db->cache; *pp; pp = &(*pp)->next)
      if (!lru || (*pp)->last_used < (*lru)->last_used)
        lru = pp;
    e = *lru;
    *lru = e->next;
    mysql_stmt_close(e->stmt);
    iris_free(e->sql);
    iris_free(e);
    db->ncache--;
  }
  stmt = mysql_stmt_init(db->conn);
  if (!stmt)
    return iris_err_set(err, IRIS_ENOMEM, "db: mysql_stmt_init failed");
  if (mysql_stmt_prepare(stmt, sql, strlen(sql))) {
    unsigned int en = mysql_stmt_errno(stmt);
    char text[256];
    snprintf(text, sizeof text, "%s", mysql_stmt_error(stmt));
    mysql_stmt_close(stmt);
    return conn_error(db, en, "prepare", sql, text, err);
  }
  e = iris_calloc(1, sizeof *e);
  if (e)
    e->sql = iris_strdup(sql);
  if (!e || !e->sql) {
    iris_free(e);
    mysql_stmt_close(stmt);
    return iris_err_set(err, IRIS_ENOMEM, "db: caching a statement");
  }
  e->stmt = stmt;
  e->last_used = ++db->tick;
  e->next = db->cache;
  db->cache = e;
  db->ncache++;
  *out = stmt;
  return IRIS_OK;
}

/* ---- results --------------------------------------------------------------------------- */

void iris_db_rows_free(struct iris_db_rows *rows) {
  size_t i;
  if (!rows)
    return;
  for (i = 0; i < rows->nrows * rows->ncols; i++)
    iris_free(rows->vals[i].s);
  for (i = 0; i < rows->ncols; i++)
    iris_free(rows->cols[i].name);
  iris_free(rows->vals);
  iris_free(rows->cols);
  iris_free(rows);
}

static int is_int_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
         t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_YEAR ||
         t == MYSQL_TYPE_BIT;
}
static int is_float_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_FLOAT || t == MYSQL_TYPE_DOUBLE;
}
static int is_time_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP || t == MYSQL_TYPE_DATE ||
         t == MYSQL_TYPE_DATETIME2 || t == MYSQL_TYPE_TIMESTAMP2 || t == MYSQL_TYPE_NEWDATE;
}

/* Fetch every row of an executed statement into *out. */
static int fetch_all(struct iris_db *db, MYSQL_STMT *stmt, const char *sql,
                     struct iris_db_rows **out, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  MYSQL_RES *meta = NULL;
  MYSQL_BIND *binds = NULL;
  struct value *cur = NULL;
  char **bufs = NULL;
  unsigned long *lens = NULL, *caps = NULL;
  my_bool *nulls = NULL, *errs = NULL;
  size_t c, ncols = 0;
  int rc = IRIS_OK, st;

  *out = NULL;
  meta = mysql_stmt_result_metadata(stmt);
  if (!meta) {
    rc = iris_err_set(err, IRIS_EINVAL, "db: query returned no result set: %.80s", sql);
    goto out;
  }
  ncols = mysql_num_fields(meta);
  rows = iris_calloc(1, sizeof *rows);
  binds = iris_calloc(ncols, sizeof *binds);
  cur = iris_calloc(ncols, sizeof *cur);
  bufs = iris_calloc(ncols, sizeof *bufs);
  lens = iris_calloc(ncols, sizeof *lens);
  caps = iris_calloc(ncols, sizeof *caps);
  nulls = iris_calloc(ncols, sizeof *nulls);
  errs = iris_calloc(ncols, sizeof *errs);
  if (rows)
    rows->cols = iris_calloc(ncols ? ncols : 1, sizeof *rows->cols);
  if (!rows || !binds || !cur || !bufs || !lens || !caps || !nulls || !errs || !rows->cols) {
    rc = iris_err_set(err, IRIS_ENOMEM, "db: result buffers");
    goto out;
  }
  rows->ncols = ncols;
  for (c = 0; c < ncols; c++) {
    MYSQL_FIELD *f = mysql_fetch_field_direct(meta, (unsigned int)c);
    rows->cols[c].name = iris_strdup(f->name);
    rows->cols[c].type = f->type;
    rows->cols[c].is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
    if (!rows->cols[c].name) {
      rc = iris_err_set(err, IRIS_ENOMEM, "db: column names");
      goto out;
    }
    binds[c].is_null = &nulls[c];
    binds[c].error = &errs[c];
    binds[c].length = &lens[c];
    if (is_int_type(f->type) && f->type != MYSQL_TYPE_BIT) {
      binds[c].buffer_type = MYSQL_TYPE_LONGLONG;
      binds[c].buffer = &cur[c].i;
      binds[c].is_unsigned = rows->cols[c].is_unsigned;
    } else if (is_float_type(f->type)) {
      binds[c].buffer_type = MYSQL_TYPE_DOUBLE;
      binds[c].buffer = &cur[c].d;
    } else {
      caps[c] = 256;
      bufs[c] = iris_malloc(caps[c]);
      if (!bufs[c]) {
        rc = iris_err_set(err, IRIS_ENOMEM, "db: column buffers");
        goto out;
      }
      binds[c].buffer_type = MYSQL_TYPE_STRING;
      binds[c].buffer = bufs[c];
      binds[c].buffer_length = caps[c];
    }
  }
  if (mysql_stmt_bind_result(stmt, binds)) {
    rc = conn_error(db, mysql_stmt_errno(stmt), "bind result", sql, mysql_stmt_error(stmt), err);
    goto out;
  }
  while ((st = mysql_stmt_fetch(stmt)) == 0 || st == MYSQL_DATA_TRUNCATED) {
    struct value *row;
    if (rows->nrows == rows->cap_rows) {
      size_t ncap = rows->cap_rows ? rows->cap_rows * 2 : 16;
      struct value *nv = iris_realloc(rows->vals, ncap * (ncols ? ncols : 1) * sizeof *nv);
      if (!nv) {
        rc = iris_err_set(err, IRIS_ENOMEM, "db: result of %zu rows", rows->nrows);
        goto drain;
      }
      rows->vals = nv;
      rows->cap_rows = ncap;
    }
    row = &rows->vals[rows->nrows * ncols];
    memset(row, 0, ncols * sizeof *row);
    rows->nrows++;
    for (c = 0; c < ncols; c++) {
      row[c].null = nulls[c] != 0;
      if (row[c].null)
        continue;
      if (binds[c].buffer_type == MYSQL_TYPE_LONGLONG) {
        if (rows->cols[c].is_unsigned && cur[c].i < 0)
          row[c].null = -1; /* unsigned above INT64_MAX: reported by the getter */
        row[c].i = cur[c].i;
        row[c].d = rows->cols[c].is_unsigned ? (double)(uint64_t)cur[c].i : (double)cur[c].i;
      } else if (binds[c].buffer_type == MYSQL_TYPE_DOUBLE) {
        row[c].d = cur[c].d;
      }
      if (binds[c].buffer_type == MYSQL_TYPE_STRING) {
        if (lens[c] > caps[c]) {
          /* Longer than the buffer: fetch this column again into a big enough one. */
          char *nb = iris_realloc(bufs[c], lens[c] + 1);
          MYSQL_BIND one;
          if (!nb) {
            rc = iris_err_set(err, IRIS_ENOMEM, "db: column %s of %lu bytes", rows->cols[c].name,
                              lens[c]);
            goto drain;
          }
          bufs[c] = nb;
          caps[c] = lens[c] + 1;
          binds[c].buffer = nb;
          binds[c].buffer_length = caps[c];
          one = binds[c];
          if (mysql_stmt_fetch_column(stmt, &one, (unsigned int)c, 0)) {
            rc = conn_error(db, mysql_stmt_errno(stmt), "fetch column", sql,
                            mysql_stmt_error(stmt), err);
            goto drain;
          }
          /* Later rows must bind the grown buffer too. */
          if (mysql_stmt_bind_result(stmt, binds)) {
            rc = conn_error(db, mysql_stmt_errno(stmt), "bind result", sql, mysql_stmt_error(stmt),
                            err);
            goto drain;
          }
        }
        /* Binary columns may hold NUL bytes: copy by length, not as a C string. */
        row[c].s = iris_malloc(lens[c] + 1);
        if (row[c].s) {
          memcpy(row[c].s, bufs[c], lens[c]);
          row[c].s[lens[c]] = '\0';
        }
        row[c].n = lens[c];
        if (!row[c].s) {
          rc = iris_err_set(err, IRIS_ENOMEM, "db: copying column %s", rows->cols[c].name);
          goto drain;
        }
      }
    }
  }
  if (st != MYSQL_NO_DATA) {
    rc = conn_error(db, mysql_stmt_errno(stmt), "fetch", sql, mysql_stmt_error(stmt), err);
    goto out;
  }
  *out = rows;
  rows = NULL;
  goto out;
drain:
  /* Leave the statement reusable: discard what is left of the result. */
  if (db->conn)
    mysql_stmt_free_result(stmt);
out:
  if (rc && db->conn)
    mysql_stmt_free_result(stmt);
  if (meta)
    mysql_free_result(meta);
  for (c = 0; bufs && c < ncols; c++)
    iris_free(bufs[c]);
  iris_free(bufs);
  iris_free(binds);
  iris_free(cur);
  iris_free(lens);
  iris_free(caps);
  iris_free(nulls);
  iris_free(errs);
  iris_db_rows_free(rows);
  return rc;
}

/* ---- running statements -------------------------------------------------------------- */

static int bind_params(struct iris_db *db, MYSQL_STMT *stmt, const char *sql,
                       const struct iris_db_param *params, size_t n, MYSQL_BIND *binds,
                       struct iris_err *err) {
  size_t i, want = mysql_stmt_param_count(stmt);
  char ex[SQL_EXCERPT];
  if (want != n) {
    excerpt(sql, ex, sizeof ex);
    return iris_err_set(err, IRIS_EINVAL, "db: [%s] takes %zu parameters, %zu given", ex, want, n);
  }
  for (i = 0; i < n; i++) {
    memset(&binds[i], 0, sizeof binds[i]);
    switch (params[i].type) {
    case IRIS_DB_T_NULL: binds[i].buffer_type = MYSQL_TYPE_NULL; break;
    case IRIS_DB_T_I64:
      binds[i].buffer_type = MYSQL_TYPE_LONGLONG;
      binds[i].buffer = (void *)&params[i].i;
      break;
    case IRIS_DB_T_DOUBLE:
      binds[i].buffer_type = MYSQL_TYPE_DOUBLE;
      binds[i].buffer = (void *)&params[i].d;
      break;
    case IRIS_DB_T_TEXT:
      binds[i].buffer_type = MYSQL_TYPE_STRING;
      binds[i].buffer = (void *)(params[i].s ? params[i].s : "");
      if (params[i].n != IRIS_DB_NTS)
        binds[i].buffer_length = (unsigned long)params[i].n;
      else
        binds[i].buffer_length = params[i].s ? (unsigned long)strlen(params[i].s) : 0;
      break;
    default: return iris_err_set(err, IRIS_EINVAL, "db: parameter %zu has an unknown type", i + 1);
    }
  }
  if (n && mysql_stmt_bind_param(stmt, binds))
    return conn_error(db, mysql_stmt_errno(stmt), "bind", sql, mysql_stmt_error(stmt), err);
  return IRIS_OK;
}

static int run(struct iris_db *db, unsigned int flags, const char *sql,
               const struct iris_db_param *params, size_t nparams, struct iris_db_rows **rows,
               struct iris_db_exec_info *info, struct iris_err *err) {
  MYSQL_BIND *binds = NULL;
  int attempt, rc = IRIS_OK;

  if (rows)
    *rows = NULL;
  if (!db || !sql)
    return iris_err_set(err, IRIS_EINVAL, "db: no handle or no SQL");
  if (db->tx_lost)
    return iris_err_set(err, IRIS_ESTATE,
                        "db: the connection was lost inside a transaction; roll back first");
  if (nparams) {
    binds = iris_calloc(nparams, sizeof *binds);
    if (!binds)
      return iris_err_set(err, IRIS_ENOMEM, "db: parameter bindings");
  }
  for (attempt = 0; attempt < 2; attempt++) {
    MYSQL_STMT *stmt = NULL;
    int had_conn = db->conn != NULL;
    rc = ensure_conn(db, err);
    if (rc == IRIS_OK)
      rc = get_stmt(db, sql, &stmt, err);
    if (rc == IRIS_OK)
      rc = bind_params(db, stmt, sql, params, nparams, binds, err);
    if (rc == IRIS_OK && mysql_stmt_execute(stmt))
      rc = conn_error(db, mysql_stmt_errno(stmt), "execute", sql, mysql_stmt_error(stmt), err);
    if (rc == IRIS_OK && rows)
      rc = fetch_all(db, stmt, sql, rows, err);
    if (rc == IRIS_OK && info) {
      info->affected_rows = (uint64_t)mysql_stmt_affected_rows(stmt);
      info->insert_id = (uint64_t)mysql_stmt_insert_id(stmt);
    }
    if (rc != IRIS_ECONN)
      break;
    if (db->in_tx) {
      /* The server rolled the transaction back when the connection went. */
      db->in_tx = 0;
      db->tx_lost = 1;
      iris_err_prefix(err, "transaction lost");
      break;
    }
    /* Re-run only what the caller declared safe, and only if the connection we used
     * was an old one (a fresh connection failing is not a stale-connection problem). */
    if (!(flags & IRIS_DB_IDEMPOTENT) || !had_conn)
      break;
    IRIS_LOG_WARN("connection lost, re-running an idempotent statement: %s", err ? err->msg : "");
  }
  iris_free(binds);
  return rc;
}

int iris_db_exec(struct iris_db *db, unsigned int flags, const char *sql,
                 const struct iris_db_param *params, size_t nparams,
                 struct iris_db_exec_info *info, struct iris_err *err) {
  return run(db, flags, sql, params, nparams, NULL, info, err);
}

int iris_db_query(struct iris_db *db, unsigned int flags, const char *sql,
                  const struct iris_db_param *params, size_t nparams, struct iris_db_rows **rows,
                  struct iris_err *err) {
  return run(db, flags, sql, params, nparams, rows, NULL, err);
}

int iris_db_query_one(struct iris_db *db, unsigned int flags, const char *sql,
                      const struct iris_db_param *params, size_t nparams,
                      struct iris_db_rows **rows, struct iris_err *err) {
  char ex[SQL_EXCERPT];
  int rc = run(db, flags, sql, params, nparams, rows, NULL, err);
  if (rc)
    return rc;
  if ((*rows)->nrows != 1) {
    size_t n = (*rows)->nrows;
    iris_db_rows_free(*rows);
    *rows = NULL;
    excerpt(sql, ex, sizeof ex);
    return iris_err_set(err, n ? IRIS_EINVAL : IRIS_ENOTFOUND,
                        "db: [%s] returned %zu rows, exactly one expected", ex, n);
  }
  (*rows)->cur = 1;
  return IRIS_OK;
}

int iris_db_query_i64(struct iris_db *db, unsigned int flags, const char *sql,
                      const struct iris_db_param *params, size_t nparams, int64_t *out,
                      struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int rc = iris_db_query_one(db, flags, sql, params, nparams, &rows, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 0, out, err);
  iris_db_rows_free(rows);
  return rc;
}

int iris_db_next(struct iris_db_rows *rows, struct iris_err *err) {
  if (!rows)
    return iris_err_set(err, IRIS_EINVAL, "db: no result");
  if (rows->cur < rows->nrows) {
    rows->cur++;
    return IRIS_DB_ROW;
  }
  rows->cur = rows->nrows + 1;
  return IRIS_OK;
}

size_t iris_db_rows_count(const struct iris_db_rows *rows) { return rows ? rows->nrows : 0; }
size_t iris_db_rows_columns(const struct iris_db_rows *rows) { return rows ? rows->ncols : 0; }

const char *iris_db_column_name(const struct iris_db_rows *rows, size_t col) {
  return rows && col < rows->ncols ? rows->cols[col].name : "";
}

/* The current row's value of col, or an error. */
static int cell(const struct iris_db_rows *rows, size_t col, const struct value **v,
                struct iris_err *err) {
  if (!rows || rows->cur == 0 || rows->cur > rows->nrows)
    return iris_err_set(err, IRIS_EINVAL, "db: no current row (call iris_db_next first)");
  if (col >= rows->ncols)
    return iris_err_set(err, IRIS_EINVAL, "db: column %zu out of range (%zu columns)", col,
                        rows->ncols);
  *v = &rows->vals[(rows->cur - 1) * rows->ncols + col];
  if ((*v)->null == 1)
    return iris_err_set(err, IRIS_ENOTFOUND, "db: column %s is NULL", rows->cols[col].name);
  return IRIS_OK;
}

int iris_db_is_null(const struct iris_db_rows *rows, size_t col) {
  if (!rows || rows->cur == 0 || rows->cur > rows->nrows || col >= rows->ncols)
    return 1;
  return rows->vals[(rows->cur - 1) * rows->ncols + col].null == 1;
}

static int wrong_type(const struct iris_db_rows *rows, size_t col, const char *want,
                      struct iris_err *err) {
  return iris_err_set(err, IRIS_EINVAL, "db: column %s (type %d) is not %s", rows->cols[col].name,
                      (int)rows->cols[col].type, want);
}

int iris_db_get_i64(const struct iris_db_rows *rows, size_t col, int64_t *out,
                    struct iris_err *err) {
  const struct value *v = NULL;
  int rc = cell(rows, col, &v, err);
  if (rc)
    return rc;
  if (!is_int_type(rows->cols[col].type))
    return wrong_type(rows, col, "an integer", err);
  if (rows->cols[col].type == MYSQL_TYPE_BIT) {
    uint64_t b = 0;
    size_t i;
    if (v->n > 8)
      return iris_err_set(err, IRIS_ETOOBIG, "db: column %s is wider than 64 bits",
                          rows->cols[col].name);
    for (i = 0; i < v->n; i++)
      b = (b << 8) | (unsigned char)v->s[i];
    if (b > INT64_MAX)
      return iris_err_set(err, IRIS_ETOOBIG, "db: column %s exceeds int64", rows->cols[col].name);
    *out = (int64_t)b;
    return IRIS_OK;
  }
  if (v->null == -1)
    return iris_err_set(err, IRIS_ETOOBIG, "db: column %s holds an unsigned value above int64",
                        rows->cols[col].name);
  *out = v->i;
  return IRIS_OK;
}

int iris_db_get_double(const struct iris_db_rows *rows, size_t col, double *out,
                       struct iris_err *err) {
  const struct value *v = NULL;
  enum enum_field_types t;
  int rc = cell(rows, col, &v, err);
  if (rc)
    return rc;
  t = rows->cols[col].type;
  if (is_float_type(t) || (is_int_type(t) && t != MYSQL_TYPE_BIT)) {
    *out = v->d;
    return IRIS_OK;
  }
  if (t == MYSQL_TYPE_NEWDECIMAL || t == MYSQL_TYPE_DECIMAL) {
    *out = strtod(v->s, NULL);
    return IRIS_OK;
  }
  return wrong_type(rows, col, "a number", err);
}

int iris_db_get_str(const struct iris_db_rows *rows, size_t col, const char **out, size_t *len,
                    struct iris_err *err) {
  const struct value *v = NULL;
  int rc = cell(rows, col, &v, err);
  if (rc)
    return rc;
  if (is_int_type(rows->cols[col].type) || is_float_type(rows->cols[col].type))
    return wrong_type(rows, col, "text (use the numeric getter)", err);
  *out = v->s;
  if (len)
    *len = v->n;
  return IRIS_OK;
}

int iris_db_get_strdup(const struct iris_db_rows *rows, size_t col, char **out,
                       struct iris_err *err) {
  const char *s = NULL;
  int rc;
  *out = NULL;
  if (iris_db_is_null(rows, col))
    return IRIS_OK;
  rc = iris_db_get_str(rows, col, &s, NULL, err);
  if (rc == IRIS_OK && !(*out = iris_strdup(s)))
    rc = iris_err_set(err, IRIS_ENOMEM, "db: copying column %s", rows->cols[col].name);
  return rc;
}

int iris_db_get_time(const struct iris_db_rows *rows, size_t col, int64_t *out,
                     struct iris_err *err) {
  const struct value *v = NULL;
  struct tm tm;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, n;
  int rc = cell(rows, col, &v, err);
  if (rc)
    return rc;
  if (!is_time_type(rows->cols[col].type))
    return wrong_type(rows, col, "a date or time", err);
  n = sscanf(v->s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n != 3 && n != 6)
    return iris_err_set(err, IRIS_EPARSE, "db: column %s: cannot read time '%s'",
                        rows->cols[col].name, v->s);
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  *out = (int64_t)timegm(&tm);
  return IRIS_OK;
}

/* ---- transactions ---------------------------------------------------------------------- */

static int plain(struct iris_db *db, const char *sql, struct iris_err *err) {
  /* Fixed statements without values: no parameters to bind, so no prepared statement. */
  if (mysql_real_query(db->conn, sql, strlen(sql)))
    return conn_error(db, mysql_errno(db->conn), "transaction", sql, mysql_error(db->conn), err);
  return IRIS_OK;
}

int iris_db_begin(struct iris_db *db, struct iris_err *err) {
  int rc, attempt;
  if (db->tx_lost || db->in_tx)
    return iris_err_set(err, IRIS_ESTATE, "db: a transaction is already open%s",
                        db->tx_lost ? " (and lost; roll back first)" : "");
  for (attempt = 0; attempt < 2; attempt++) {
    int had_conn = db->conn != NULL;
    rc = ensure_conn(db, err);
    if (rc == IRIS_OK)
      rc = plain(db, "START TRANSACTION", err);
    /* Nothing had happened yet: safe to retry on a fresh connection. */
    if (rc != IRIS_ECONN || !had_conn)
      break;
  }
  if (rc == IRIS_OK)
    db->in_tx = 1;
  return rc;
}

int iris_db_commit(struct iris_db *db, struct iris_err *err) {
  int rc;
  if (db->tx_lost)
    return iris_err_set(err, IRIS_ESTATE,
                        "db: the transaction was lost with the connection; roll back");
  if (!db->in_tx)
    return iris_err_set(err, IRIS_ESTATE, "db: commit without a transaction");
  db->in_tx = 0;
  if (!db->conn)
    return iris_err_set(err, IRIS_ECONN, "db: connection lost before commit");
  rc = plain(db, "COMMIT", err);
  if (rc == IRIS_ECONN)
    iris_err_prefix(err, "commit outcome unknown");
  return rc;
}

int iris_db_rollback(struct iris_db *db, struct iris_err *err) {
  int rc = IRIS_OK;
  if (db->tx_lost) {
    db->tx_lost = 0;
    return IRIS_OK;
  }
  if (!db->in_tx)
    return IRIS_OK;
  db->in_tx = 0;
  if (db->conn) {
    rc = plain(db, "ROLLBACK", err);
    /* A lost connection rolls back on the server side: the outcome is the same. */
    if (rc == IRIS_ECONN)
      rc = IRIS_OK;
  }
  return rc;
}

int iris_db_debug_kill_connection(struct iris_db *db, struct iris_err *err) {
  struct iris_db *killer = NULL;
  struct iris_db_opts o = {0};
  char sql[64];
  int rc;
  if (!db->conn)
    return iris_err_set(err, IRIS_ESTATE, "db: not connected");
  o.host = db->host;
  o.port = db->port;
  o.user = db->user;
  o.password = db->password;
  o.database = db->database;
  o.unix_socket = db->unix_socket;
  o.tls = db->tls;
  o.ca_file = db->ca_file;
  rc = iris_db_open(&o, &killer, err);
  if (rc)
    return rc;
  /* The id is an integer the server gave us, not user data. */
  snprintf(sql, sizeof sql, "KILL CONNECTION %llu", (unsigned long long)db->conn_id);
  rc = plain(killer, sql, err);
  iris_db_close(killer);
  return rc;
}

int iris_db_sql_rows(struct iris_buf *sql, const char *head, const char *row, const char *sep,
                     size_t n, const char *tail) {
  int rc = iris_buf_appends(sql, head);
  size_t i;
  for (i = 0; i < n && rc == IRIS_OK; i++)
    rc = iris_buf_appendf(sql, "%s%s", i ? sep : "", row);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(sql, tail);
  return rc;
}

/* The CASEs of keyed[] (nk) on key over n rows, appended to sql, and their parameters to p
 * from *m on: (key, value) pairs in arm order. */
static int keyed_cases(struct iris_buf *sql, const char *key, const struct iris_db_param *keys,
                       size_t n, const struct iris_db_keyed *keyed, size_t nk,
                       struct iris_db_param *p, size_t *m) {
  size_t i, k;
  int rc = IRIS_OK;
  for (k = 0; k < nk && rc == IRIS_OK; k++) {
    rc = iris_buf_appendf(sql, "%s CASE %s", keyed[k].before, key);
    for (i = 0; i < n && rc == IRIS_OK; i++) {
      rc = iris_buf_appends(sql, " WHEN ? THEN ?");
      p[(*m)++] = keys[i];
      p[(*m)++] = keyed[k].v[i];
    }
    if (rc == IRIS_OK)
      rc = iris_buf_appendf(sql, " END%s", keyed[k].after);
  }
  return rc;
}

/* The most placeholders one prepared statement binds (the protocol counts them in 16 bits). */
#define MAX_PLACEHOLDERS 65535

int iris_db_update_keyed(struct iris_db *db, const char *head, const char *key,
                         const struct iris_db_param *keys, size_t n,
                         const struct iris_db_keyed *set, size_t nset, const char *mid,
                         const struct iris_db_keyed *where, size_t nwhere, const char *tail,
                         struct iris_db_exec_info *info, struct iris_err *err) {
  size_t per_row = 2 * (nset + nwhere) + 1, chunk = MAX_PLACEHOLDERS / per_row, at;
  struct iris_db_param *p = iris_calloc(per_row * (n < chunk ? n : chunk) + 1, sizeof *p);
  struct iris_db_keyed *sk = iris_calloc(nset + nwhere + 1, sizeof *sk);
  struct iris_buf sql;
  int rc = p && sk ? IRIS_OK : IRIS_ENOMEM;

  if (info)
    memset(info, 0, sizeof *info);
  iris_buf_init(&sql, (size_t)1 << 22);
  for (at = 0; at < n && rc == IRIS_OK; at += chunk) {
    struct iris_db_exec_info part = {0};
    size_t rows = n - at < chunk ? n - at : chunk, m = 0, i;
    for (i = 0; i < nset + nwhere; i++) { /* this chunk's values */
      sk[i] = i < nset ? set[i] : where[i - nset];
      sk[i].v += at;
    }
    iris_buf_reset(&sql);
    rc = iris_buf_appends(&sql, head);
    if (rc == IRIS_OK)
      rc = keyed_cases(&sql, key, keys + at, rows, sk, nset, p, &m);
    if (rc == IRIS_OK)
      rc = iris_buf_appendf(&sql, "%s %s IN (", mid, key);
    for (i = 0; i < rows && rc == IRIS_OK; i++) {
      rc = iris_buf_appends(&sql, i ? ", ?" : "?");
      p[m++] = keys[at + i];
    }
    if (rc == IRIS_OK)
      rc = iris_buf_appendc(&sql, ')');
    if (rc == IRIS_OK)
      rc = keyed_cases(&sql, key, keys + at, rows, sk + nset, nwhere, p, &m);
    if (rc == IRIS_OK)
      rc = iris_buf_appends(&sql, tail);
    if (rc) {
      rc = iris_err_set(err, rc, "db: assembling an update of %zu rows", rows);
      break;
    }
    rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, m, &part, err);
    if (info)
      info->affected_rows += part.affected_rows;
  }
  if (rc == IRIS_ENOMEM && !(p && sk))
    rc = iris_err_set(err, rc, "db: an update of %zu rows", n);
  iris_buf_cleanup(&sql);
  iris_free(p);
  iris_free(sk);
  return rc;
}
