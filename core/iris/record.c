/* record.c — delivery outcomes in Iris's tables (see record.h). */
#include "record.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"
#define IRIS_LOG_MODULE "record"
#include "log.h"
#include "utf8.h"

/* Iris's message.body is TEXT: 65535 bytes, one per character in its latin1 table. */
#define BODY_COLUMN_MAX 65535u

/*
 * Run a statement whose text parameters come from outside (rendered pages, vendor and plugin
 * reasons) into one of Iris's columns. Iris's tables are latin1 (message_changelog utf8mb3), and
 * in strict mode MySQL refuses the whole statement (1366) for one character they cannot hold.
 * So on a refusal that is not about the connection, a lock or a duplicate, the statement is
 * run once more with every text parameter narrowed to latin-1 ('?' for the rest, as MySQL
 * itself stores them outside strict mode) and cut to `cut` bytes on a character boundary.
 * An error of the first attempt is kept when the second one fails as well.
 */
static int exec_narrowing(struct iris_db *db, const char *what, int64_t message_id,
                          const char *sql, struct iris_db_param *p, size_t np, size_t cut,
                          struct iris_err *err) {
  char *narrow[8] = {0};
  struct iris_err first;
  size_t i;
  int rc;
  iris_err_clear(&first);
  rc = iris_db_exec(db, 0, sql, p, np, NULL, &first);
  if (rc != IRIS_EDB || np > sizeof narrow / sizeof narrow[0]) {
    if (rc && err)
      *err = first;
    return rc;
  }
  for (i = 0; i < np && rc != IRIS_ENOMEM; i++) {
    if (p[i].type != IRIS_DB_T_TEXT || !p[i].s)
      continue;
    narrow[i] = iris_utf8_narrow_dup(p[i].s, p[i].n == IRIS_DB_NTS ? strlen(p[i].s) : p[i].n, 0xFF);
    if (!narrow[i]) {
      rc = IRIS_ENOMEM;
      break;
    }
    iris_utf8_truncate(narrow[i], cut);
    p[i] = IRIS_DB_STR(narrow[i]);
  }
  if (rc != IRIS_ENOMEM)
    rc = iris_db_exec(db, 0, sql, p, np, NULL, err);
  if (rc == IRIS_OK)
    IRIS_LOG_WARN("message %lld: %s stored narrowed to latin-1, its columns refused it: %s",
                  (long long)message_id, what, first.msg);
  else if (err)
    *err = first;
  for (i = 0; i < np; i++)
    iris_free(narrow[i]);
  return rc ? IRIS_EDB : IRIS_OK;
}

/* The content statement of iris_record_sent, narrowing as needed. */
static int record_content(struct iris_db *db, int64_t message_id, const char *subject,
                          const char *body, struct iris_err *err) {
  struct iris_db_param c[] = {IRIS_DB_STR(subject ? subject : ""), IRIS_DB_STR(body ? body : ""),
                              IRIS_DB_I64(message_id)};
  struct iris_err cerr;
  int rc;
  iris_err_clear(&cerr);
  rc = exec_narrowing(db, "the sent subject and body", message_id,
                      "UPDATE message SET subject = LEFT(?, 255), body = ? WHERE id = ?", c, 3,
                      BODY_COLUMN_MAX, &cerr);
  if (rc == IRIS_EDB) {
    /* What Iris leaves: the row is sent, its content stays as it was. */
    IRIS_LOG_WARN("message %lld sent; its subject and body were not stored: %s",
                  (long long)message_id, cerr.msg);
    rc = IRIS_OK;
  } else if (rc) {
    /* Lost connection, deadlock, out of memory: the transaction is to be retried whole. */
    if (err)
      *err = cerr;
    return iris_err_prefix(err, "recording message %lld's content", (long long)message_id);
  }
  return IRIS_OK;
}

int iris_record_sent(struct iris_db *db, int64_t message_id, const char *mode,
                     const char *destination, int64_t template_id, const char *subject,
                     const char *body, const char *batch_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(destination), IRIS_DB_STR(mode),
                              template_id ? IRIS_DB_I64(template_id) : IRIS_DB_NULL,
                              IRIS_DB_STR(batch_id), IRIS_DB_I64(message_id)};
  /* That the page went out is recorded on its own: it must never depend on whether the
   * message's columns can hold what was sent (Iris's mark_message_as_sent also writes the
   * content in a second statement and carries on when that one fails). */
  int rc = iris_db_exec(db, 0,
                        "UPDATE message SET destination = ?,"
                        " mode_id = (SELECT id FROM mode WHERE name = ?), template_id = ?,"
                        " active = 0, sent = UTC_TIMESTAMP(), batch = IFNULL(?, batch)"
                        " WHERE id = ?",
                        p, 5, NULL, err);
  if (rc)
    return iris_err_prefix(err, "recording message %lld as sent", (long long)message_id);
  return record_content(db, message_id, subject, body, err);
}

int iris_record_deactivate(struct iris_db *db, int64_t message_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id)};
  return iris_db_exec(db, 0, "UPDATE message SET active = 0 WHERE id = ?", p, 1, NULL, err);
}

int iris_record_change(struct iris_db *db, int64_t message_id, const char *type,
                       const char *old_value, const char *new_value, const char *description,
                       struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id), IRIS_DB_STR(type),
                              IRIS_DB_STR(old_value ? old_value : ""),
                              IRIS_DB_STR(new_value ? new_value : ""), IRIS_DB_STR(description)};
  /* The reasons in old/new/description come from plugins, vendors and templates. */
  return exec_narrowing(db, "a changelog row", message_id,
                        "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                        " description) VALUES (UTC_TIMESTAMP(), ?, ?, LEFT(?, 255), LEFT(?, 255),"
                        " LEFT(?, 255))",
                        p, 5, 1020, err);
}

int iris_record_status(struct iris_db *db, int64_t message_id, const char *mode,
                       const char *plugin, const char *vendor_message_id, int ok,
                       struct iris_err *err) {
  if (plugin && strcmp(plugin, "twilio") == 0 &&
      (strcmp(mode, "sms") == 0 || strcmp(mode, "call") == 0)) {
    struct iris_db_param p[] = {IRIS_DB_STR(vendor_message_id), IRIS_DB_I64(message_id)};
    if (!ok || !vendor_message_id || !*vendor_message_id)
      return IRIS_OK;
    return iris_db_exec(db, 0,
                        "INSERT IGNORE INTO twilio_delivery_status (twilio_sid, message_id)"
                        " VALUES (?, ?)",
                        p, 2, NULL, err);
  }
  if (strcmp(mode, "sms") == 0 || strcmp(mode, "call") == 0 || strcmp(mode, "drop") == 0)
    return IRIS_OK;
  {
    struct iris_db_param p[] = {IRIS_DB_I64(message_id), IRIS_DB_I64(ok ? 1 : 0)};
    return iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                        "INSERT INTO generic_message_sent_status (message_id, status) VALUES (?, ?)"
                        " ON DUPLICATE KEY UPDATE status = VALUES(status)",
                        p, 2, NULL, err);
  }
}

int iris_record_enqueue_done(struct iris_db *db, int64_t message_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id)};
  return iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                      "UPDATE sender_enqueue SET state = 'done', done_at = UTC_TIMESTAMP(3),"
                      " next_attempt_at = NULL WHERE message_id = ?",
                      p, 1, NULL, err);
}

/* The status row a sent page gets (iris_record_status): 't' twilio, 'g' generic, 0 none. */
static char status_kind(const struct iris_record_sent_row *r) {
  int voice = strcmp(r->mode, "sms") == 0 || strcmp(r->mode, "call") == 0;
  if (!r->plugin)
    return 0;
  if (strcmp(r->plugin, "twilio") == 0 && voice)
    return r->vendor_message_id && *r->vendor_message_id ? 't' : 0;
  return voice || strcmp(r->mode, "drop") == 0 ? 0 : 'g';
}

/* One multi-row status insert of the rows of kind k. */
static int status_many(struct iris_db *db, const struct iris_record_sent_row *rows, size_t n,
                       char k, struct iris_db_param *p, struct iris_err *err) {
  struct iris_buf sql;
  size_t i, m = 0;
  int rc;
  for (i = 0; i < n; i++)
    if (status_kind(&rows[i]) == k) {
      if (k == 't') {
        p[2 * m] = IRIS_DB_STR(rows[i].vendor_message_id);
        p[2 * m + 1] = IRIS_DB_I64(rows[i].message_id);
      } else {
        p[2 * m] = IRIS_DB_I64(rows[i].message_id);
        p[2 * m + 1] = IRIS_DB_I64(1);
      }
      m++;
    }
  if (!m)
    return IRIS_OK;
  iris_buf_init(&sql, 1 << 16);
  rc = k == 't'
           ? iris_db_sql_rows(&sql,
                              "INSERT IGNORE INTO twilio_delivery_status (twilio_sid, message_id)"
                              " VALUES ",
                              "(?, ?)", ", ", m, "")
           : iris_db_sql_rows(&sql,
                              "INSERT INTO generic_message_sent_status (message_id, status)"
                              " VALUES ",
                              "(?, ?)", ", ", m,
                              " ON DUPLICATE KEY UPDATE status = VALUES(status)");
  rc = rc ? iris_err_set(err, rc, "record: status rows")
          : iris_db_exec(db, 0, iris_buf_ptr(&sql), p, 2 * m, NULL, err);
  iris_buf_cleanup(&sql);
  return rc;
}

/*
 * The UPDATE that marks n messages sent (destination, mode, template, batch), with their
 * subject and body when with_content (iris_db_update_keyed). IRIS_ESTATE when a row did not
 * change; errors prefixed.
 */
static int sent_update(struct iris_db *db, const struct iris_record_sent_row *rows, size_t n,
                       int with_content, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_param *v = iris_calloc(7 * n + 1, sizeof *v);
  size_t i;
  int rc;
  if (!v)
    return iris_err_set(err, IRIS_ENOMEM, "record: %zu sent messages", n);
  for (i = 0; i < n; i++) { /* keys, then one column per value */
    const struct iris_record_sent_row *r = &rows[i];
    v[i] = IRIS_DB_I64(r->message_id);
    v[n + i] = IRIS_DB_STR(r->destination);
    v[2 * n + i] = IRIS_DB_STR(r->mode);
    v[3 * n + i] = r->template_id ? IRIS_DB_I64(r->template_id) : IRIS_DB_NULL;
    v[4 * n + i] = IRIS_DB_STR(r->batch_id);
    v[5 * n + i] = IRIS_DB_STR(r->subject ? r->subject : "");
    v[6 * n + i] = IRIS_DB_STR(r->body ? r->body : "");
  }
  {
    const struct iris_db_keyed set[] = {{" m.destination =", ",", v + n},
                                        {" m.mode_id = (SELECT mo.id FROM mode mo WHERE mo.name =",
                                         "),", v + 2 * n},
                                        {" m.template_id =", ",", v + 3 * n},
                                        {" m.batch = IFNULL(", ", m.batch),", v + 4 * n},
                                        {" m.subject = LEFT(", ", 255),", v + 5 * n},
                                        {" m.body =", ",", v + 6 * n}};
    rc = iris_db_update_keyed(db, "UPDATE message m SET", "m.id", v, n, set, with_content ? 6 : 4,
                              " m.active = 0, m.sent = UTC_TIMESTAMP() WHERE", NULL, 0, "", &info,
                              err);
  }
  iris_free(v);
  if (rc)
    return iris_err_prefix(err, "recording %zu messages as sent", n);
  if (info.affected_rows != n)
    return iris_err_set(err, IRIS_ESTATE, "recording %zu messages as sent: %llu rows changed", n,
                        (unsigned long long)info.affected_rows);
  return IRIS_OK;
}

int iris_record_sent_many(struct iris_db *db, const struct iris_record_sent_row *rows, size_t n,
                          struct iris_err *err) {
  struct iris_db_param *p = NULL; /* the content's and the status rows' parameters */
  struct iris_err cerr;
  size_t i;
  int rc;

  if (!n)
    return IRIS_OK;
  if (!(p = iris_calloc(n * 3, sizeof *p))) {
    rc = iris_err_set(err, IRIS_ENOMEM, "record: %zu sent messages", n);
    goto out;
  }
  /* 0. sent and content in one statement, the common case. If the server refuses it (a
   *    character a latin1 column cannot hold, a body over the column), only that statement is
   *    undone and both are written apart below, so that recording the page as sent never
   *    depends on its content (see iris_record_sent). */
  iris_err_clear(&cerr);
  rc = sent_update(db, rows, n, 1, &cerr);
  if (rc == IRIS_OK)
    goto status;
  if (rc != IRIS_EDB) { /* lost connection, deadlock, memory, rows: the caller retries it whole */
    if (err)
      *err = cerr;
    goto out;
  }
  /* 1. sent, on its own (see iris_record_sent) */
  if ((rc = sent_update(db, rows, n, 0, err)) != IRIS_OK)
    goto out;
  /* 2. content; refused (a latin1 column), then row by row, narrowing */
  for (i = 0; i < n; i++) {
    p[i] = IRIS_DB_I64(rows[i].message_id);
    p[n + i] = IRIS_DB_STR(rows[i].subject ? rows[i].subject : "");
    p[2 * n + i] = IRIS_DB_STR(rows[i].body ? rows[i].body : "");
  }
  {
    const struct iris_db_keyed set[] = {{" m.subject = LEFT(", ", 255),", p + n},
                                        {" m.body =", "", p + 2 * n}};
    iris_err_clear(&cerr);
    rc = iris_db_update_keyed(db, "UPDATE message m SET", "m.id", p, n, set, 2, " WHERE", NULL, 0,
                              "", NULL, &cerr);
  }
  if (rc == IRIS_EDB) /* (only that statement is undone: the transaction goes on) */
    for (rc = IRIS_OK, i = 0; i < n && rc == IRIS_OK; i++)
      rc = record_content(db, rows[i].message_id, rows[i].subject, rows[i].body, err);
  else if (rc) {
    if (err)
      *err = cerr;
    iris_err_prefix(err, "recording %zu messages' content", n);
    goto out;
  }
  /* 3. status rows */
status:
  if (rc == IRIS_OK)
    rc = status_many(db, rows, n, 't', p, err);
  if (rc == IRIS_OK)
    rc = status_many(db, rows, n, 'g', p, err);
out:
  iris_free(p);
  return rc;
}

int iris_record_enqueue_done_many(struct iris_db *db, const int64_t *ids, size_t n,
                                  struct iris_err *err) {
  struct iris_buf sql;
  struct iris_db_param *p;
  size_t i;
  int rc;
  if (!n)
    return IRIS_OK;
  if (!(p = iris_calloc(n, sizeof *p)))
    return iris_err_set(err, IRIS_ENOMEM, "record: %zu enqueue markers", n);
  for (i = 0; i < n; i++)
    p[i] = IRIS_DB_I64(ids[i]);
  iris_buf_init(&sql, 1 << 16);
  rc = iris_db_sql_rows(&sql,
                        "UPDATE sender_enqueue SET state = 'done', done_at = UTC_TIMESTAMP(3),"
                        " next_attempt_at = NULL WHERE message_id IN (",
                        "?", ", ", n, ")");
  rc = rc ? iris_err_set(err, rc, "record: %zu enqueue markers", n)
          : iris_db_exec(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sql), p, n, NULL, err);
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}
