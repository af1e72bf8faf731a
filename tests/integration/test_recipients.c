#define _DEFAULT_SOURCE
/*
 * test_recipients.c — role lookups from Iris's tables (core/iris/recipients.h) and contact
 * lookups (core/iris/contact.h) against a real database, where a user, a team and a mailing
 * list share one name (Iris's own demo data has a user and a list called "demo"): each role
 * finds the target of its own type, a contact is always the user's, and a mailing list at or
 * over ldap_lists.max_unrolled_users is not unrolled (Iris's mailing_list role lookup).
 */
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
#include "recipients.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

/* "twin" is a user (80), a team (81: members tw1, tw2, manager tw3) and a mailing list (82:
 * members tw1, tw2, tw3); each has an email contact of its own. "solo" is only a user. */
static const char *const fixture_sql =
    "INSERT INTO target (id, name, type_id, active) VALUES (80, 'twin', 1, 1), (81, 'twin', 2, 1),"
    " (82, 'twin', 3, 1), (83, 'tw1', 1, 1), (84, 'tw2', 1, 1), (85, 'tw3', 1, 1),"
    " (86, 'solo', 1, 1);"
    "INSERT INTO user (target_id, admin) VALUES (80, 0), (83, 0), (84, 0), (85, 0), (86, 0);"
    "INSERT INTO team (target_id, manager_id) VALUES (81, 85);"
    "INSERT INTO user_team (user_id, team_id) VALUES (83, 81), (84, 81);"
    "INSERT INTO mailing_list (target_id, count) VALUES (82, 3);"
    "INSERT INTO mailing_list_membership (list_id, user_id) VALUES (82, 83), (82, 84), (82, 85);"
    "INSERT INTO target_contact (target_id, mode_id, destination)"
    " SELECT t.id, m.id, CONCAT(t.name, '-', t.type_id, '@example.com') FROM target t"
    " JOIN mode m ON m.name = 'email' WHERE t.id BETWEEN 80 AND 86;";

static int setup(void **state) {
  struct iris_test_db *t = calloc(1, sizeof *t);
  struct iris_err err = {0};
  if (!t || iris_test_db_create(t, &err) || iris_test_db_load_iris(t, 1, &err) ||
      iris_test_db_sql(t, fixture_sql, &err)) {
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
  }
  *state = t;
  return 0;
}

static int teardown(void **state) {
  struct iris_test_db *t = *state;
  iris_test_db_destroy(t);
  free(t);
  return 0;
}

/* The names `role` of "twin" gives, joined by commas, or the error code as negative. */
static int expand(struct iris_db *db, const char *role, const char *target, int64_t cap,
                  char *joined, size_t size, struct iris_err *err) {
  struct iris_recipients_opts o = {NULL, cap};
  struct iris_recipients r = {0};
  size_t i, used = 0;
  int rc = iris_recipients_expand(db, &o, role, target, &r, err);
  joined[0] = '\0';
  for (i = 0; rc == IRIS_OK && i < r.n; i++)
    used += (size_t)snprintf(joined + used, size - used, "%s%s", i ? "," : "", r.names[i]);
  iris_recipients_cleanup(&r);
  return rc;
}

static void each_role_finds_its_own_type(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  char names[256];
  OK(expand(t->db, "user", "twin", 0, names, sizeof names, &err));
  assert_string_equal(names, "twin");
  OK(expand(t->db, "team", "twin", 0, names, sizeof names, &err));
  assert_string_equal(names, "tw1,tw2");
  OK(expand(t->db, "manager", "twin", 0, names, sizeof names, &err));
  assert_string_equal(names, "tw3");
  OK(expand(t->db, "mailing-list", "twin", 0, names, sizeof names, &err));
  assert_string_equal(names, "tw1,tw2,tw3");
}

static void a_name_of_another_type_is_not_found(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  char names[256];
  assert_int_equal(expand(t->db, "team", "solo", 0, names, sizeof names, &err), IRIS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "unknown team 'solo'"));
  assert_int_equal(expand(t->db, "mailing-list", "tw1", 0, names, sizeof names, &err),
                   IRIS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "unknown mailing-list 'tw1'"));
}

static void a_list_at_the_cap_is_not_unrolled(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  char names[256];
  /* Iris: `count >= max_unrolled_users` gives nobody (the plan's creator is paged). */
  assert_int_equal(expand(t->db, "mailing-list", "twin", 3, names, sizeof names, &err),
                   IRIS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "3 members"));
  assert_non_null(strstr(err.msg, "max_unrolled_users (3)"));
  OK(expand(t->db, "mailing-list", "twin", 4, names, sizeof names, &err));
  assert_string_equal(names, "tw1,tw2,tw3");
  /* The cap is for lists only. */
  OK(expand(t->db, "team", "twin", 1, names, sizeof names, &err));
  assert_string_equal(names, "tw1,tw2");
}

static void a_contact_is_the_users(void **state) {
  struct iris_test_db *t = *state;
  struct iris_err err = {0};
  struct iris_contact c = {0};
  OK(iris_contact_for_mode(t->db, "twin", "email", &c, &err));
  assert_string_equal(c.destination, "twin-1@example.com");
  iris_contact_cleanup(&c);
  OK(iris_contact_by_priority(t->db, "twin", "Autoalerts", 3, &c, &err));
  assert_string_equal(c.mode, "email");
  assert_string_equal(c.destination, "twin-1@example.com");
  iris_contact_cleanup(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_role_finds_its_own_type),
      cmocka_unit_test(a_name_of_another_type_is_not_found),
      cmocka_unit_test(a_list_at_the_cap_is_not_unrolled),
      cmocka_unit_test(a_contact_is_the_users),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
