/*
 * test_db.c — core/db/db.c against the real MariaDB: every type in and out, big and non-ASCII
 * values, misuse refused, transactions, duplicate keys, a real deadlock, lock wait timeouts,
 * connections killed inside and outside transactions, an unreachable server, statement
 * cache eviction, allocation failures at every step, and multi-row keyed updates.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "db.h"
#include "db_fixture.h"
#include "log.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

static int setup(void **state) {
  *state = iris_test_db_new(0, "CREATE TABLE kv (id BIGINT PRIMARY KEY AUTO_INCREMENT,"
                               " k VARCHAR(64) UNIQUE, i BIGINT, u BIGINT UNSIGNED, d DOUBLE,"
                               " dec_ DECIMAL(10,3), t MEDIUMTEXT, b BLOB, ts DATETIME(3),"
                               " tiny TINYINT(1)) ENGINE=InnoDB;");
  return *state ? 0 : -1;
}

static struct iris_db *open_second(struct iris_test_db *t) {
  struct iris_db_opts o;
  struct iris_db *db = NULL;
  struct iris_err err = {0};
  iris_test_db_opts(&o, t->name);
  assert_int_equal(iris_db_open(&o, &db, &err), IRIS_OK);
  return db;
}

static void types_round_trip(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_exec_info info;
  struct iris_db_rows *rows = NULL;
  const char *s;
  size_t n;
  int64_t i;
  double d;
  static const char bin[] = {'a', 0, 'b', (char)0xff};
  struct iris_db_param p[] = {IRIS_DB_STR("round"),
                              IRIS_DB_I64(INT64_MIN),
                              IRIS_DB_STR("18446744073709551615"),
                              IRIS_DB_DOUBLE(2.5),
                              IRIS_DB_STR("12.345"),
                              IRIS_DB_STR("h\xc3\xa9llo \xf0\x9f\x9a\xa8"),
                              IRIS_DB_BYTES(bin, sizeof bin),
                              IRIS_DB_STR("2026-11-24 10:20:30.125"),
                              IRIS_DB_I64(1)};
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k,i,u,d,dec_,t,b,ts,tiny) VALUES (?,?,?,?,?,?,?,?,?)",
                  p, 9, &info, &err));
  assert_int_equal(info.affected_rows, 1);
  assert_true(info.insert_id > 0);
  OK(iris_db_query_one(t->db, IRIS_DB_IDEMPOTENT,
                       "SELECT k,i,u,d,dec_,t,b,ts,tiny,NULL FROM kv WHERE id=?",
                       (struct iris_db_param[]){IRIS_DB_I64(info.insert_id)}, 1, &rows, &err));
  OK(iris_db_get_str(rows, 0, &s, NULL, &err));
  assert_string_equal(s, "round");
  OK(iris_db_get_i64(rows, 1, &i, &err));
  assert_true(i == INT64_MIN);
  assert_int_equal(iris_db_get_i64(rows, 2, &i, &err), IRIS_ETOOBIG);
  OK(iris_db_get_double(rows, 3, &d, &err));
  assert_true(d == 2.5);
  OK(iris_db_get_double(rows, 4, &d, &err));
  assert_true(d > 12.344 && d < 12.346);
  OK(iris_db_get_str(rows, 4, &s, NULL, &err));
  assert_string_equal(s, "12.345");
  OK(iris_db_get_str(rows, 5, &s, NULL, &err));
  assert_string_equal(s, "h\xc3\xa9llo \xf0\x9f\x9a\xa8");
  OK(iris_db_get_str(rows, 6, &s, &n, &err));
  assert_int_equal(n, sizeof bin);
  assert_memory_equal(s, bin, sizeof bin);
  OK(iris_db_get_time(rows, 7, &i, &err));
  assert_int_equal(i, 1795515630); /* 2026-11-24T10:20:30Z */
  OK(iris_db_get_i64(rows, 8, &i, &err));
  assert_int_equal(i, 1);
  assert_true(iris_db_is_null(rows, 9));
  assert_int_equal(iris_db_get_str(rows, 9, &s, NULL, &err), IRIS_ENOTFOUND);
  assert_string_equal(iris_db_column_name(rows, 2), "u");
  iris_db_rows_free(rows);
}

static void big_text(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_rows *rows = NULL;
  size_t big = 1024 * 1024, n, k;
  char *text = malloc(big + 1);
  const char *s;
  for (k = 0; k < big; k++)
    text[k] = (char)('a' + k % 26);
  text[big] = 0;
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k,t) VALUES ('big',?), ('small','x')",
                  (struct iris_db_param[]){IRIS_DB_STR(text)}, 1, NULL, &err));
  /* The small row first, then the big one: the buffer grows mid-result. */
  OK(iris_db_query(t->db, 0, "SELECT t FROM kv WHERE k IN ('small','big') ORDER BY k DESC", NULL,
                   0, &rows, &err));
  assert_int_equal(iris_db_rows_count(rows), 2);
  assert_int_equal(iris_db_next(rows, &err), IRIS_DB_ROW);
  OK(iris_db_get_str(rows, 0, &s, &n, &err));
  assert_string_equal(s, "x");
  assert_int_equal(iris_db_next(rows, &err), IRIS_DB_ROW);
  OK(iris_db_get_str(rows, 0, &s, &n, &err));
  assert_int_equal(n, big);
  assert_memory_equal(s, text, big);
  assert_int_equal(iris_db_next(rows, &err), IRIS_OK);
  iris_db_rows_free(rows);
  free(text);
}

static void misuse_is_refused(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_rows *rows = NULL;
  int64_t i;
  const char *s;
  assert_int_equal(iris_db_exec(t->db, 0, "UPDATE kv SET i=? WHERE k=?",
                                (struct iris_db_param[]){IRIS_DB_I64(1)}, 1, NULL, &err),
                   IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "takes 2 parameters, 1 given"));
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k,i) VALUES ('m1',5),('m2',6)", NULL, 0, NULL, &err));
  OK(iris_db_query(t->db, 0, "SELECT k,i FROM kv WHERE k LIKE 'm%' ORDER BY k", NULL, 0, &rows,
                   &err));
  assert_int_equal(iris_db_get_i64(rows, 1, &i, &err), IRIS_EINVAL); /* before next */
  assert_non_null(strstr(err.msg, "no current row"));
  assert_int_equal(iris_db_next(rows, &err), IRIS_DB_ROW);
  assert_int_equal(iris_db_get_i64(rows, 0, &i, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "column k"));
  assert_int_equal(iris_db_get_str(rows, 1, &s, NULL, &err), IRIS_EINVAL);
  assert_int_equal(iris_db_get_str(rows, 7, &s, NULL, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "out of range"));
  iris_db_rows_free(rows);
  assert_int_equal(iris_db_query_one(t->db, 0, "SELECT k FROM kv WHERE k LIKE 'm%'", NULL, 0,
                                     &rows, &err),
                   IRIS_EINVAL);
  assert_null(rows);
  assert_non_null(strstr(err.msg, "returned 2 rows"));
  assert_int_equal(iris_db_query_one(t->db, 0, "SELECT k FROM kv WHERE k='none'", NULL, 0, &rows,
                                     &err),
                   IRIS_ENOTFOUND);
  assert_int_equal(iris_db_exec(t->db, 0, "SELEC oops", NULL, 0, NULL, &err), IRIS_EDB);
  assert_non_null(strstr(err.msg, "MySQL 1064"));
  assert_non_null(strstr(err.msg, "SELEC oops"));
}

static void transactions_and_duplicates(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_rows *rows = NULL;
  OK(iris_db_begin(t->db, &err));
  assert_int_equal(iris_db_begin(t->db, &err), IRIS_ESTATE);
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('tx-rolled')", NULL, 0, NULL, &err));
  OK(iris_db_rollback(t->db, &err));
  assert_int_equal(iris_db_query_one(t->db, 0, "SELECT k FROM kv WHERE k='tx-rolled'", NULL, 0,
                                     &rows, &err),
                   IRIS_ENOTFOUND);
  OK(iris_db_begin(t->db, &err));
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('tx-kept')", NULL, 0, NULL, &err));
  OK(iris_db_commit(t->db, &err));
  OK(iris_db_query_one(t->db, 0, "SELECT k FROM kv WHERE k='tx-kept'", NULL, 0, &rows, &err));
  iris_db_rows_free(rows);
  assert_int_equal(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('tx-kept')", NULL, 0, NULL,
                                &err),
                   IRIS_EDUPLICATE);
  assert_non_null(strstr(err.msg, "1062"));
  assert_int_equal(iris_db_commit(t->db, &err), IRIS_ESTATE);
}

struct locker {
  struct iris_db *db;
  int rc;
};

static void *lock_row2(void *arg) {
  struct locker *l = arg;
  struct iris_err err = {0};
  l->rc = iris_db_exec(l->db, 0, "UPDATE kv SET i=i+1 WHERE k='dl2'", NULL, 0, NULL, &err);
  return NULL;
}

static void deadlock_is_ebusy(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db *b = open_second(t);
  struct locker l = {t->db, -1};
  pthread_t th;
  int rc;
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k,i) VALUES ('dl1',0),('dl2',0)", NULL, 0, NULL,
                  &err));
  OK(iris_db_begin(t->db, &err));
  OK(iris_db_begin(b, &err));
  OK(iris_db_exec(t->db, 0, "UPDATE kv SET i=i+1 WHERE k='dl1'", NULL, 0, NULL, &err));
  OK(iris_db_exec(b, 0, "UPDATE kv SET i=i+1 WHERE k='dl2'", NULL, 0, NULL, &err));
  pthread_create(&th, NULL, lock_row2, &l); /* A waits for B's row */
  usleep(300 * 1000);
  rc = iris_db_exec(b, 0, "UPDATE kv SET i=i+1 WHERE k='dl1'", NULL, 0, NULL, &err);
  if (rc == IRIS_OK) {
    pthread_join(th, NULL);
    assert_int_equal(l.rc, IRIS_EBUSY); /* the server chose A as the victim */
  } else {
    assert_int_equal(rc, IRIS_EBUSY);
    assert_non_null(strstr(err.msg, "1213"));
    OK(iris_db_rollback(b, &err));
    pthread_join(th, NULL);
  }
  (void)iris_db_rollback(t->db, &err);
  (void)iris_db_rollback(b, &err);
  iris_db_close(b);
}

static void lock_wait_timeout_is_ebusy(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db *b = open_second(t);
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k,i) VALUES ('lw',0)", NULL, 0, NULL, &err));
  OK(iris_db_exec(b, 0, "SET SESSION innodb_lock_wait_timeout=1", NULL, 0, NULL, &err));
  OK(iris_db_begin(t->db, &err));
  OK(iris_db_exec(t->db, 0, "UPDATE kv SET i=1 WHERE k='lw'", NULL, 0, NULL, &err));
  assert_int_equal(iris_db_exec(b, 0, "UPDATE kv SET i=2 WHERE k='lw'", NULL, 0, NULL, &err),
                   IRIS_EBUSY);
  assert_non_null(strstr(err.msg, "1205"));
  OK(iris_db_rollback(t->db, &err));
  iris_db_close(b);
}

static void killed_connection(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_rows *rows = NULL;
  uint64_t before = iris_db_connection_id(t->db);
  /* Outside a transaction, an idempotent read is re-run on a fresh connection. */
  OK(iris_db_debug_kill_connection(t->db, &err));
  OK(iris_db_query(t->db, IRIS_DB_IDEMPOTENT, "SELECT 1", NULL, 0, &rows, &err));
  iris_db_rows_free(rows);
  assert_true(iris_db_connection_id(t->db) != before);
  /* A non-idempotent write is not re-run: ECONN, and the next call reconnects. */
  OK(iris_db_debug_kill_connection(t->db, &err));
  assert_int_equal(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('after-kill')", NULL, 0,
                                NULL, &err),
                   IRIS_ECONN);
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('after-kill')", NULL, 0, NULL, &err));
  /* Inside a transaction: ECONN once, then ESTATE until rollback; the work is gone. */
  OK(iris_db_begin(t->db, &err));
  OK(iris_db_exec(t->db, 0, "INSERT INTO kv (k) VALUES ('in-lost-tx')", NULL, 0, NULL, &err));
  OK(iris_db_debug_kill_connection(t->db, &err));
  assert_int_equal(iris_db_exec(t->db, IRIS_DB_IDEMPOTENT, "SELECT 1", NULL, 0, NULL, &err),
                   IRIS_ECONN);
  assert_non_null(strstr(err.msg, "transaction lost"));
  assert_int_equal(iris_db_exec(t->db, 0, "SELECT 1", NULL, 0, NULL, &err), IRIS_ESTATE);
  assert_int_equal(iris_db_commit(t->db, &err), IRIS_ESTATE);
  OK(iris_db_rollback(t->db, &err));
  assert_int_equal(iris_db_query_one(t->db, 0, "SELECT k FROM kv WHERE k='in-lost-tx'", NULL, 0,
                                     &rows, &err),
                   IRIS_ENOTFOUND);
}

static void unreachable_server(void **state) {
  struct iris_db_opts o;
  struct iris_db *db = NULL;
  struct iris_err err = {0};
  (void)state;
  iris_test_db_opts(&o, "nowhere");
  o.port = 1;
  o.password = "pw-that-must-not-appear";
  o.connect_timeout_s = 2;
  assert_int_equal(iris_db_open(&o, &db, &err), IRIS_ECONN);
  assert_null(db);
  assert_non_null(strstr(err.msg, "connect to"));
  assert_non_null(strstr(err.msg, ":1/nowhere"));
  assert_null(strstr(err.msg, "pw-that-must-not-appear"));
  o.port = 0;
  o.database = NULL;
  assert_int_equal(iris_db_open(&o, &db, &err), IRIS_EINVAL);
}

/* iris_db_update_keyed: each row gets its own values, a NULL among them, a row whose guard
 * does not match stays as it was, and more rows than one statement binds go in several. */
static void keyed_update_many_rows(void **state) {
  enum { N = 20000 }; /* 7 placeholders a row: three statements */
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_db_exec_info info = {0};
  struct iris_db_param *keys = calloc(4 * N, sizeof *keys);
  char(*names)[16] = calloc(N, sizeof *names), (*texts)[16] = calloc(N, sizeof *texts);
  int64_t count = 0;
  size_t i;
  assert_non_null(keys);
  assert_non_null(names);
  assert_non_null(texts);
  OK(iris_db_exec(t->db, 0,
                  "INSERT INTO kv (k, i) SELECT CONCAT('ku-', seq), seq FROM seq_1_to_20000", NULL,
                  0, NULL, &err));
  for (i = 0; i < N; i++) {
    struct iris_db_param *guard = keys + N, *inew = keys + 2 * N, *tnew = keys + 3 * N;
    snprintf(names[i], sizeof names[i], "ku-%zu", i + 1);
    snprintf(texts[i], sizeof texts[i], "v%zu", i + 1);
    keys[i] = IRIS_DB_STR(names[i]);
    guard[i] = IRIS_DB_I64(i == 7 ? -1 : (int64_t)i + 1); /* row 8's guard fails */
    inew[i] = IRIS_DB_I64(2 * ((int64_t)i + 1));
    tnew[i] = i % 1000 == 0 ? IRIS_DB_NULL : IRIS_DB_STR(texts[i]);
  }
  {
    const struct iris_db_keyed set[] = {{" i =", ",", keys + 2 * N}, {" t =", "", keys + 3 * N}};
    const struct iris_db_keyed where[] = {{" AND i =", "", keys + N}};
    OK(iris_db_update_keyed(t->db, "UPDATE kv SET", "k", keys, N, set, 2, " WHERE", where, 1,
                            " AND k LIKE 'ku-%'", &info, &err));
  }
  assert_int_equal(info.affected_rows, N - 1);
  OK(iris_db_query_i64(t->db, 0,
                       "SELECT COUNT(*) FROM kv WHERE k LIKE 'ku-%' AND i = 2 * SUBSTRING(k, 4)"
                       " AND (t = CONCAT('v', SUBSTRING(k, 4)) OR (t IS NULL AND"
                       " SUBSTRING(k, 4) % 1000 = 1))",
                       NULL, 0, &count, &err));
  assert_int_equal(count, N - 1);
  OK(iris_db_query_i64(t->db, 0, "SELECT i FROM kv WHERE k = 'ku-8' AND t IS NULL", NULL, 0,
                       &count, &err));
  assert_int_equal(count, 8);
  OK(iris_db_exec(t->db, 0, "DELETE FROM kv WHERE k LIKE 'ku-%'", NULL, 0, NULL, &err));
  free(keys);
  free(names);
  free(texts);
}

static void statement_cache_eviction(void **state) {
  struct iris_test_db *t = *state;
  struct iris_db_opts o;
  struct iris_db *db = NULL;
  struct iris_err err = {0};
  struct iris_db_rows *rows = NULL;
  char sql[64];
  int k;
  iris_test_db_opts(&o, t->name);
  o.stmt_cache_size = 4;
  OK(iris_db_open(&o, &db, &err));
  for (k = 0; k < 40; k++) {
    snprintf(sql, sizeof sql, "SELECT %d + ?", k % 9);
    OK(iris_db_query_one(db, 0, sql, (struct iris_db_param[]){IRIS_DB_I64(k)}, 1, &rows, &err));
    OK(iris_db_get_double(rows, 0, &(double){0}, &err));
    iris_db_rows_free(rows);
  }
  iris_db_close(db);
}

static void oom_sweep(void **state) {
  struct iris_test_db *t = *state;
  long n;
  for (n = 0; n < 200; n++) {
    struct iris_err err = {0};
    struct iris_db_rows *rows = NULL;
    int rc;
    iris_alloc_fail_after(n);
    rc = iris_db_query(t->db, 0, "SELECT k, i, t FROM kv WHERE k LIKE ? ORDER BY k",
                       (struct iris_db_param[]){IRIS_DB_STR("m%")}, 1, &rows, &err);
    iris_alloc_fail_after(-1);
    iris_db_rows_free(rows);
    if (rc == IRIS_OK)
      return;
    assert_int_equal(rc, IRIS_ENOMEM);
  }
  fail_msg("query never succeeded within 200 allocations");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(types_round_trip),         cmocka_unit_test(big_text),
      cmocka_unit_test(misuse_is_refused),        cmocka_unit_test(transactions_and_duplicates),
      cmocka_unit_test(deadlock_is_ebusy),        cmocka_unit_test(lock_wait_timeout_is_ebusy),
      cmocka_unit_test(killed_connection),        cmocka_unit_test(unreachable_server),
      cmocka_unit_test(statement_cache_eviction), cmocka_unit_test(oom_sweep),
      cmocka_unit_test(keyed_update_many_rows),
  };
  iris_log_set_level(IRIS_LOG_LEVEL_ERROR);
  return cmocka_run_group_tests(tests, setup, iris_test_db_teardown);
}
