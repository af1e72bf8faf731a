/*
 * test_lease.c — the coordinator's lease and its fence against MariaDB (Iris's schema, demo
 * data): one holder at a time, renewals keep the token, a takeover after expiry bumps it, and
 * a coordinator fenced off by a takeover can no longer write — its escalation and aggregation
 * passes stop with IRIS_EFENCED before creating anything — while the new holder's work goes
 * through. Also: a takeover waits for the old holder's open transaction (the shared lock).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "aggregate.h"
#include "db_fixture.h"
#include "escalate.h"
#include "lease.h"

struct fixture {
  struct iris_test_db t;
};

static int setup(void **state) {
  static struct fixture f;
  struct iris_err err = {0};
  memset(&f, 0, sizeof f);
  if (iris_test_db_create(&f.t, &err) || iris_test_db_load_iris(&f.t, 1, &err)) {
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
  }
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  iris_test_db_destroy(&f->t);
  return 0;
}

static int64_t count(struct iris_db *db, const char *sql) {
  struct iris_db_rows *rows = NULL;
  struct iris_err err = {0};
  int64_t n = -1;
  assert_int_equal(iris_db_query_one(db, 0, sql, NULL, 0, &rows, &err), IRIS_OK);
  assert_int_equal(iris_db_get_i64(rows, 0, &n, &err), IRIS_OK);
  iris_db_rows_free(rows);
  return n;
}

static void expire(struct fixture *f) {
  struct iris_err err = {0};
  assert_int_equal(iris_test_db_sql(&f->t,
                                    "UPDATE sender_lease SET expires_at = UTC_TIMESTAMP(3) -"
                                    " INTERVAL 1 SECOND WHERE name = 'coordinator'",
                                    &err),
                   IRIS_OK);
}

static void test_one_holder_and_tokens(void **state) {
  struct fixture *f = *state;
  struct iris_err err = {0};
  int held = 0;
  int64_t a = 0, b = 0, again = 0;
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "A", 60, &held, &a, &err), IRIS_OK);
  assert_true(held);
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "B", 60, &held, &b, &err), IRIS_OK);
  assert_false(held); /* A holds it */
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "A", 60, &held, &again, &err),
                   IRIS_OK);
  assert_true(held);
  assert_int_equal(again, a); /* a renewal keeps the token */
  expire(f);
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "B", 60, &held, &b, &err), IRIS_OK);
  assert_true(held);
  assert_true(b > a); /* a new holder, a new token */
  assert_int_equal(iris_lease_release(f->t.db, "coordinator", "B", &err), IRIS_OK);
}

static void test_fenced_off_coordinator_writes_nothing(void **state) {
  struct fixture *f = *state;
  struct iris_err err = {0};
  struct iris_lease_fence old_fence = {"coordinator", "old", 0},
                          new_fence = {"coordinator", "new", 0};
  struct iris_escalate *old_esc = NULL, *new_esc = NULL;
  struct iris_escalate_opts oo = {NULL, &old_fence, 0}, no = {NULL, &new_fence, 0};
  struct iris_escalate_stats st;
  struct iris_aggregate *agg = NULL;
  struct iris_aggregate_stats as;
  int held = 0;

  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "old", 60, &held, &old_fence.token,
                                      &err),
                   IRIS_OK);
  assert_true(held);
  /* "old" pauses past its lease; "new" takes over. */
  expire(f);
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "new", 60, &held, &new_fence.token,
                                      &err),
                   IRIS_OK);
  assert_true(held);
  assert_int_equal(iris_test_db_sql(&f->t,
                                    "INSERT INTO incident (id, plan_id, created, context,"
                                    " application_id, current_step, active) VALUES (880, 2,"
                                    " UTC_TIMESTAMP(), '{}', 1, 0, 1)",
                                    &err),
                   IRIS_OK);
  /* The old holder wakes up: every write is refused, nothing is created. */
  assert_int_equal(iris_escalate_new(f->t.db, &oo, &old_esc, &err), IRIS_OK);
  assert_int_equal(iris_escalate_tick(old_esc, 0, &st, &err), IRIS_EFENCED);
  assert_non_null(strstr(err.msg, "no longer held by old"));
  assert_int_equal(count(f->t.db, "SELECT COUNT(*) FROM message WHERE incident_id = 880"), 0);
  assert_int_equal(count(f->t.db, "SELECT current_step FROM incident WHERE id = 880"), 0);
  /* The new holder does the work, once. */
  assert_int_equal(iris_escalate_new(f->t.db, &no, &new_esc, &err), IRIS_OK);
  assert_int_equal(iris_escalate_tick(new_esc, 0, &st, &err), IRIS_OK);
  assert_int_equal(st.new_incidents, 1);
  assert_int_equal(count(f->t.db, "SELECT current_step FROM incident WHERE id = 880"), 1);
  /* Aggregation decisions are fenced the same way. */
  assert_int_equal(iris_aggregate_new(f->t.db, &old_fence, &agg, &err), IRIS_OK);
  assert_int_equal(iris_aggregate_tick(agg, 0, &as, &err), IRIS_EFENCED);
  assert_int_equal(count(f->t.db, "SELECT COUNT(*) FROM sender_enqueue e JOIN message m ON"
                                  " m.id = e.message_id WHERE m.incident_id = 880"
                                  " AND e.lane IS NOT NULL"),
                   0);
  iris_aggregate_free(agg);
  iris_escalate_free(old_esc);
  iris_escalate_free(new_esc);
  assert_int_equal(iris_lease_release(f->t.db, "coordinator", "new", &err), IRIS_OK);
}

static void test_takeover_waits_for_the_open_transaction(void **state) {
  struct fixture *f = *state;
  struct iris_err err = {0};
  struct iris_lease_fence fence = {"coordinator", "slow", 0};
  struct iris_db_opts opts;
  struct iris_db *other = NULL;
  int held = 0;
  iris_test_db_opts(&opts, f->t.name);
  assert_int_equal(iris_db_open(&opts, &other, &err), IRIS_OK);
  assert_int_equal(iris_db_exec(other, 0, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0,
                                NULL, &err),
                   IRIS_OK);
  assert_int_equal(iris_lease_acquire(f->t.db, "coordinator", "slow", 60, &held, &fence.token,
                                      &err),
                   IRIS_OK);
  expire(f);
  /* "slow" is inside a transaction it checked the lease in: a takeover cannot happen now. */
  assert_int_equal(iris_db_begin(f->t.db, &err), IRIS_OK);
  assert_int_equal(iris_lease_check(f->t.db, &fence, &err), IRIS_OK);
  assert_int_equal(iris_lease_acquire(other, "coordinator", "eager", 60, &held, NULL, &err),
                   IRIS_EBUSY); /* lock wait timeout */
  assert_int_equal(iris_db_commit(f->t.db, &err), IRIS_OK);
  assert_int_equal(iris_lease_acquire(other, "coordinator", "eager", 60, &held, NULL, &err),
                   IRIS_OK);
  assert_true(held);
  assert_int_equal(iris_lease_check(f->t.db, &fence, &err), IRIS_EFENCED);
  assert_int_equal(iris_lease_release(other, "coordinator", "eager", &err), IRIS_OK);
  iris_db_close(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_holder_and_tokens),
      cmocka_unit_test(test_fenced_off_coordinator_writes_nothing),
      cmocka_unit_test(test_takeover_waits_for_the_open_transaction),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
