/*
 * db_fixture.h — throwaway databases on the test MariaDB for integration tests.
 *
 * Server from IRIS_TEST_MYSQL_HOST / _PORT / _USER / _PASSWORD (defaults 127.0.0.1, 3306,
 * root, empty), as exported by scripts/with-stack.sh. Each fixture database has a unique
 * name (iris_t_<pid>_<n>_<random>) so parallel tests never meet; destroy drops it.
 */
#ifndef IRIS_DB_FIXTURE_H
#define IRIS_DB_FIXTURE_H

#include "db.h"

struct iris_test_db {
  char name[64];
  struct iris_db *db; /* open connection to the fixture database */
};

/* Fill opts from the environment for database `name` (strings point into static storage). */
void iris_test_db_opts(struct iris_db_opts *opts, const char *name);
/* Create an empty fixture database and open it. Returns IRIS_OK or the failure. */
int iris_test_db_create(struct iris_test_db *t, struct iris_err *err);
/* Load Iris's schema (db/iris/schema.sql) and the sender's migrations into it; with_demo
 * also loads db/iris/demo_data.sql. Uses scripts/db.sh (the mariadb client). */
int iris_test_db_load_iris(struct iris_test_db *t, int with_demo, struct iris_err *err);
/* Run SQL text (several statements allowed) through the mariadb client. */
int iris_test_db_sql(struct iris_test_db *t, const char *sql, struct iris_err *err);
/* Close the connection and drop the database. */
void iris_test_db_destroy(struct iris_test_db *t);

/* The usual cmocka group setup in one call: create the fixture database in *t, load Iris's
 * schema, the migrations and the demo data when with_iris, then run sql (NULL: none). On a
 * failure prints it to stderr (cmocka's setup has no error channel), destroys what was made
 * and returns the failure; IRIS_OK otherwise. */
int iris_test_db_prepare(struct iris_test_db *t, int with_iris, const char *sql);
/* iris_test_db_prepare on a new fixture: the caller owns it (iris_test_db_teardown frees
 * it); NULL when anything failed (printed). */
struct iris_test_db *iris_test_db_new(int with_iris, const char *sql);
/* A cmocka teardown for *state made by iris_test_db_new: destroys and frees it. */
int iris_test_db_teardown(void **state);

#endif /* IRIS_DB_FIXTURE_H */
