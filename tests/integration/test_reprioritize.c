/*
 * test_reprioritize.c — Iris's target reprioritisation (core/iris/reprioritize.h) against a real
 * database: no rule → nothing counted; a rule fires once its window holds more than `count`
 * (changelog, message.mode_id, the decision stored); the same delivery is counted once however
 * often it is decided; rules chain; a loop stops; a rule without a contact for its destination
 * is ignored; two connections (two sender instances) share the counters; a lost connection is
 * survived; a failure counts and records nothing.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contact.h"
#include "db_fixture.h"
#include "reprioritize.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

/* Users 40-46 with sms, email and slack contacts (45: no slack); rules per test below. */
static const char *const fixture_sql =
    "INSERT INTO target (id, name, type_id, active) VALUES (40, 'rp0', 1, 1), (41, 'rp1', 1, 1),"
    " (42, 'rp2', 1, 1), (43, 'rp3', 1, 1), (44, 'rp4', 1, 1), (45, 'rp5', 1, 1), (46, 'rp6', 1, 1);"
    "INSERT INTO user (target_id, admin) VALUES (40, 0), (41, 0), (42, 0), (43, 0), (44, 0),"
    " (45, 0), (46, 0);"
    "INSERT INTO target_contact (target_id, mode_id, destination)"
    " SELECT t.id, m.id, CONCAT(t.name, '-', m.name) FROM target t JOIN mode m"
    " WHERE t.id BETWEEN 40 AND 46 AND m.name IN ('sms', 'email', 'slack')"
    " AND NOT (t.id = 45 AND m.name = 'slack');"
    "INSERT INTO target_reprioritization (target_id, src_mode_id, dst_mode_id, count, duration)"
    " VALUES (41, 2, 1, 2, 3600), (42, 2, 1, 1, 3600), (43, 2, 1, 1, 3600), (43, 1, 5, 1, 3600),"
    " (44, 2, 1, 1, 3600), (44, 1, 2, 1, 3600), (45, 2, 5, 1, 60), (46, 2, 1, 1, 3600);"
    "INSERT INTO message (id, created, application_id, target_id, priority_id, active, body)"
    " SELECT 7100 + s.n, UTC_TIMESTAMP(), 1, 41, 2, 1, '' FROM (SELECT 1 n UNION SELECT 2"
    " UNION SELECT 3 UNION SELECT 4) s;"
    "INSERT INTO message (id, created, application_id, target_id, priority_id, active, body)"
    " SELECT 7300 + s.n, UTC_TIMESTAMP(), 1, 43, 2, 1, '' FROM (SELECT 1 n UNION SELECT 2"
    " UNION SELECT 3) s;";

static int setup(void **state) {
  *state = iris_test_db_new(1, fixture_sql);
  return *state ? 0 : -1;
}

/* A claim row for key (the decision references it). */
static void claim(struct iris_db *db, const char *key, int64_t message_id) {
  struct iris_err err = {0};
  struct iris_db_param p[] = {IRIS_DB_STR(key),
                              message_id ? IRIS_DB_I64(message_id) : IRIS_DB_NULL};
  OK(iris_db_exec(db, 0,
                  "INSERT INTO sender_claim (claim_key, kind, message_id, lane, state, owner)"
                  " VALUES (?, 'message', ?, 'sms', 'claimed', 'test')",
                  p, 2, NULL, &err));
}

static int64_t scalar(struct iris_db *db, const char *sql, int64_t arg) {
  struct iris_db_rows *rows = NULL;
  struct iris_err err = {0};
  struct iris_db_param p[] = {IRIS_DB_I64(arg)};
  int64_t v = -1;
  OK(iris_db_query_one(db, 0, sql, p, 1, &rows, &err));
  if (!iris_db_is_null(rows, 0))
    OK(iris_db_get_i64(rows, 0, &v, &err));
  iris_db_rows_free(rows);
  return v;
}

static int64_t counted(struct iris_db *db, int64_t target, const char *mode) {
  struct iris_db_rows *rows = NULL;
  struct iris_err err = {0};
  struct iris_db_param p[] = {IRIS_DB_I64(target), IRIS_DB_STR(mode)};
  int64_t v = 0;
  OK(iris_db_query_one(db, 0,
                       "SELECT CAST(IFNULL(SUM(hits), 0) AS SIGNED) FROM sender_quota_counter c"
                       " JOIN mode m ON m.id = c.mode_id"
                       " WHERE c.scope = 'target_mode' AND c.subject_id = ? AND m.name = ?",
                       p, 2, &rows, &err));
  OK(iris_db_get_i64(rows, 0, &v, &err));
  iris_db_rows_free(rows);
  return v;
}

/* Decide for one delivery that the priority chain resolved to sms; the mode it ends on. */
static const char *decide_on(struct iris_db *db, const char *user, const char *key,
                             int64_t message_id, int *hops, struct iris_contact *c) {
  struct iris_err err = {0};
  struct iris_reprioritize_request q = {.claim_key = key, .target = user, .message_id = message_id};
  char want[128];
  iris_contact_cleanup(c);
  OK(iris_contact_for_mode(db, user, "sms", c, &err));
  if (iris_reprioritize(db, &q, c, hops, &err) != IRIS_OK)
    fail_msg("reprioritize %s: %s", key, err.msg);
  snprintf(want, sizeof want, "%s-%s", user, c->mode);
  assert_string_equal(c->destination, want); /* the user's contact for the mode it ends on */
  return c->mode;
}

static void no_rule_counts_nothing(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  int hops = -1;
  claim(t->db, "n:rp0:1", 0);
  assert_string_equal(decide_on(t->db, "rp0", "n:rp0:1", 0, &hops, &c), "sms");
  assert_int_equal(hops, 0);
  assert_int_equal(counted(t->db, 40, "sms"), 0);
  assert_int_equal(scalar(t->db,
                          "SELECT COUNT(*) FROM sender_reprioritization WHERE target_id = ?", 40),
                   0);
  iris_contact_cleanup(&c);
}

static void rule_fires_above_count(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  const char *want[] = {"sms", "sms", "email", "email"};
  int i, hops = 0;
  for (i = 0; i < 4; i++) {
    char key[32];
    snprintf(key, sizeof key, "m:%d", 7101 + i);
    claim(t->db, key, 7101 + i);
    assert_string_equal(decide_on(t->db, "rp1", key, 7101 + i, &hops, &c), want[i]);
    assert_int_equal(hops, i < 2 ? 0 : 1);
  }
  assert_int_equal(counted(t->db, 41, "sms"), 4);
  /* Iris's changelog and update_message_mode, only for the switched ones */
  assert_int_equal(scalar(t->db,
                          "SELECT COUNT(*) FROM message_changelog WHERE message_id > ?"
                          " AND message_id < 7105 AND change_type = 'mode-change'"
                          " AND old = 'sms' AND new = 'email'"
                          " AND description = 'Changing mode due to reprioritization'",
                          7100),
                   2);
  assert_int_equal(scalar(t->db, "SELECT COUNT(*) FROM message_changelog WHERE message_id = ?",
                          7102),
                   0);
  assert_int_equal(scalar(t->db, "SELECT mode_id FROM message WHERE id = ?", 7103), 1);
  assert_int_equal(scalar(t->db, "SELECT mode_id FROM message WHERE id = ?", 7102), -1); /* NULL */
  assert_int_equal(scalar(t->db,
                          "SELECT COUNT(*) FROM sender_reprioritization WHERE target_id = ?"
                          " AND dst_mode_id = 1 AND hops = 1",
                          41),
                   2);
  iris_contact_cleanup(&c);
}

static void a_delivery_is_counted_once(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  int hops = 0;
  claim(t->db, "n:rp2:a", 0);
  claim(t->db, "n:rp2:b", 0);
  assert_string_equal(decide_on(t->db, "rp2", "n:rp2:a", 0, &hops, &c), "sms");
  /* the same delivery again (a retry, a redelivery): the stored decision, not a new count */
  assert_string_equal(decide_on(t->db, "rp2", "n:rp2:a", 0, &hops, &c), "sms");
  assert_int_equal(counted(t->db, 42, "sms"), 1);
  assert_string_equal(decide_on(t->db, "rp2", "n:rp2:b", 0, &hops, &c), "email");
  assert_string_equal(decide_on(t->db, "rp2", "n:rp2:b", 0, &hops, &c), "email");
  assert_int_equal(hops, 1);
  assert_int_equal(counted(t->db, 42, "sms"), 2);
  iris_contact_cleanup(&c);
}

static void rules_chain(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  const char *want[] = {"sms", "email", "slack"};
  int i, hops = 0;
  for (i = 0; i < 3; i++) {
    char key[32];
    snprintf(key, sizeof key, "m:%d", 7301 + i);
    claim(t->db, key, 7301 + i);
    assert_string_equal(decide_on(t->db, "rp3", key, 7301 + i, &hops, &c), want[i]);
    assert_int_equal(hops, i);
  }
  /* sms 3 > 1 → email, whose own window then holds 2 > 1 → slack: one changelog row a hop */
  assert_int_equal(scalar(t->db,
                          "SELECT COUNT(*) FROM message_changelog WHERE message_id = ?"
                          " AND ((old = 'sms' AND new = 'email') OR (old = 'email' AND new = 'slack'))",
                          7303),
                   2);
  assert_int_equal(scalar(t->db, "SELECT mode_id FROM message WHERE id = ?", 7303), 5);
  assert_int_equal(counted(t->db, 43, "email"), 2);
  iris_contact_cleanup(&c);
}

static void a_loop_stops(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  int hops = 0;
  claim(t->db, "n:rp4:1", 0);
  claim(t->db, "n:rp4:2", 0);
  claim(t->db, "n:rp4:3", 0);
  assert_string_equal(decide_on(t->db, "rp4", "n:rp4:1", 0, &hops, &c), "sms");
  assert_string_equal(decide_on(t->db, "rp4", "n:rp4:2", 0, &hops, &c), "email");
  /* sms 3 → email, email 2 → sms again: not followed, it stays on email */
  assert_string_equal(decide_on(t->db, "rp4", "n:rp4:3", 0, &hops, &c), "email");
  assert_int_equal(hops, 1);
  assert_int_equal(counted(t->db, 44, "sms"), 3);
  assert_int_equal(counted(t->db, 44, "email"), 2);
  iris_contact_cleanup(&c);
}

static void rule_without_contact_is_ignored(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  int hops = 0, i;
  for (i = 0; i < 3; i++) {
    char key[32];
    snprintf(key, sizeof key, "n:rp5:%d", i);
    claim(t->db, key, 0);
    assert_string_equal(decide_on(t->db, "rp5", key, 0, &hops, &c), "sms");
  }
  assert_int_equal(counted(t->db, 45, "sms"), 0);
  iris_contact_cleanup(&c);
}

static void instances_share_the_counters(void **state) {
  struct iris_test_db *t = *state;
  struct iris_db_opts o;
  struct iris_db *other = NULL;
  struct iris_contact c = {0};
  struct iris_err err = {0};
  int hops = 0;
  iris_test_db_opts(&o, t->name);
  OK(iris_db_open(&o, &other, &err));
  claim(t->db, "n:rp6:1", 0);
  claim(t->db, "n:rp6:2", 0);
  assert_string_equal(decide_on(t->db, "rp6", "n:rp6:1", 0, &hops, &c), "sms");
  assert_string_equal(decide_on(other, "rp6", "n:rp6:2", 0, &hops, &c), "email");
  iris_db_close(other);
  iris_contact_cleanup(&c);
}

static void lost_connection_is_survived(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  struct iris_err err = {0};
  int hops = 0;
  claim(t->db, "n:rp6:3", 0);
  OK(iris_db_debug_kill_connection(t->db, &err));
  /* the rule lookup meets the dead connection and re-runs on a fresh one */
  assert_string_equal(decide_on(t->db, "rp6", "n:rp6:3", 0, &hops, &c), "email");
  assert_int_equal(counted(t->db, 46, "sms"), 3);
  iris_contact_cleanup(&c);
}

static void failure_counts_nothing(void **state) {
  struct iris_test_db *t = *state;
  struct iris_contact c = {0};
  struct iris_err err = {0};
  /* no claim row for the key: the decision cannot be stored (foreign key) */
  struct iris_reprioritize_request q = {.claim_key = "n:rp6:none", .target = "rp6"};
  int hops = 7;
  OK(iris_contact_for_mode(t->db, "rp6", "sms", &c, &err));
  assert_int_equal(iris_reprioritize(t->db, &q, &c, &hops, &err), IRIS_EDB);
  assert_non_null(strstr(err.msg, "MySQL 1452"));
  assert_string_equal(c.mode, "sms");
  assert_string_equal(c.destination, "rp6-sms");
  assert_int_equal(hops, 0);
  assert_int_equal(counted(t->db, 46, "sms"), 3);
  iris_contact_cleanup(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_rule_counts_nothing),
      cmocka_unit_test(rule_fires_above_count),
      cmocka_unit_test(a_delivery_is_counted_once),
      cmocka_unit_test(rules_chain),
      cmocka_unit_test(a_loop_stops),
      cmocka_unit_test(rule_without_contact_is_ignored),
      cmocka_unit_test(instances_share_the_counters),
      cmocka_unit_test(lost_connection_is_survived),
      cmocka_unit_test(failure_counts_nothing),
  };
  return cmocka_run_group_tests(tests, setup, iris_test_db_teardown);
}
