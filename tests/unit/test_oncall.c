/* test_oncall.c — the Oncall client: HMAC auth vectors, URLs, answer shapes, errors, cache,
 * allocation failures. No network: the HTTP exchange goes through iris_oncall_set_perform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "capture.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "oncall.h"

#define OK(x) assert_int_equal((x), IRIS_OK)
#define KEY "k3y-for-unit-tests"
#define T0_MS 1795561499025LL /* unix 1795561499: window 359112299 */

/* Vectors from Python: base64.urlsafe_b64encode(hmac.new(key, text, hashlib.sha512).digest())
 * with text = "%s %s %s %s" % (t // 5, method, path, body). */
#define VEC_GET_PRIMARY \
  "ur1nmMi0SrbLM_LuawMoUUZ7qV3farcmyYfa-RLt97_MU6Q-ar_3HQ9lJgWg5jNug8TeNtS9KvKHaAu55oYjKA=="
#define VEC_GET_PRIMARY_NEXT \
  "g8q3xXeRZ5-mHa4b2B8G26LziF7A3afTvcHRYv552D7vjCNMOK3R-X3qE1nwFtpxsaXguMR9J_zUVPzvBoKdhg=="
#define VEC_POST \
  "-RHCYoJuTTg79nOFLKL49mRbpmllzTApSt6vA8p4Cdez04nVqj6rrYZC8KI8LDpkjiPgifwOq8cGW7jkUsGLPg=="
#define VEC_PREFIX_ROSTERS \
  "wZMQXR-CaaM50sCO_WG2ey5Wy_Ewzd7FukhnH9-0EFc7Sr5tNGSWHrZiDD1ZjfLocghrcmNbxN4zlH_7_G5h1A=="

/* ---- a scripted HTTP exchange ----------------------------------------------------------- */

struct answer {
  int rc; /* transport result */
  long status;
  const char *body;
};

struct fake {
  struct answer answers[32];
  size_t nanswers, next;
  int calls;
  char url[512], auth[256];
};

static int fake_perform(void *data, const char *url, const char *authorization, long timeout_ms,
                        long *status, struct iris_buf *body, struct iris_err *err) {
  struct fake *f = data;
  struct answer a = {IRIS_OK, 200, "[]"};
  (void)timeout_ms;
  f->calls++;
  snprintf(f->url, sizeof f->url, "%s", url);
  snprintf(f->auth, sizeof f->auth, "%s", authorization ? authorization : "(none)");
  if (f->next < f->nanswers)
    a = f->answers[f->next++];
  if (a.rc)
    return iris_err_set(err, a.rc, "oncall: GET %s: scripted transport failure", url);
  *status = a.status;
  return iris_buf_appends(body, a.body);
}

static void script(struct fake *f, long status, const char *body) {
  assert_true(f->nanswers < sizeof f->answers / sizeof f->answers[0]);
  f->answers[f->nanswers].rc = IRIS_OK;
  f->answers[f->nanswers].status = status;
  f->answers[f->nanswers].body = body;
  f->nanswers++;
}

#define ADA "[{\"user\": \"ada\"}]"

/* Per test: a signed client of http://oncall.test with a 60 s cache, and the last answer. */
struct ctx {
  struct fake f;
  struct iris_oncall *oc;
  struct iris_err err;
  const char *const *names;
  size_t n;
};

/* Replace the context's client. */
static void client(struct ctx *c, const char *api, long cache_seconds, struct iris_metrics *m) {
  struct iris_oncall_opts o = {api, "iris", KEY, 0, cache_seconds, m};
  iris_oncall_free(c->oc);
  c->oc = NULL;
  OK(iris_oncall_new(&o, &c->oc, &c->err));
  iris_oncall_set_perform(c->oc, fake_perform, &c->f);
}

static int get(struct ctx *c, const char *role, const char *team) {
  return iris_oncall_get(c->oc, role, team, &c->names, &c->n, &c->err);
}

/* get() succeeds with exactly the names in want, in order, separated by single spaces ("" for
 * nobody). */
static void expect_names(struct ctx *c, const char *role, const char *team, const char *want) {
  char got[512] = "";
  size_t i, len = 0;
  OK(get(c, role, team));
  for (i = 0; i < c->n && len < sizeof got; i++)
    len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? " " : "", c->names[i]);
  assert_string_equal(got, want);
}

static int setup(void **state) {
  struct ctx *c = iris_calloc(1, sizeof *c);
  assert_non_null(c);
  iris_clock_set_fake_ms(T0_MS);
  client(c, "http://oncall.test", 60, NULL);
  *state = c;
  return 0;
}

static int teardown(void **state) {
  struct ctx *c = *state;
  iris_oncall_free(c->oc);
  iris_free(c);
  iris_clock_set_fake_ms(0);
  iris_log_clear_secrets();
  return 0;
}

/* ---- authentication --------------------------------------------------------------------- */

static void auth_header_matches_python(void **state) {
  struct iris_buf b;
  struct iris_err err = {0};
  int64_t t;
  (void)state;
  iris_buf_init(&b, 0);
  OK(iris_oncall_auth_header("iris", KEY, 1795561499, "GET",
                             "/api/v0/teams/storage-oncall/oncall/primary", NULL, &b, &err));
  assert_string_equal(iris_buf_ptr(&b), "hmac iris:" VEC_GET_PRIMARY);
  /* The whole 5-second window signs alike; the next one does not. */
  for (t = 1795561495; t <= 1795561499; t++) {
    iris_buf_reset(&b);
    OK(iris_oncall_auth_header("iris", KEY, t, "GET",
                               "/api/v0/teams/storage-oncall/oncall/primary", "", &b, &err));
    assert_string_equal(iris_buf_ptr(&b), "hmac iris:" VEC_GET_PRIMARY);
  }
  iris_buf_reset(&b);
  OK(iris_oncall_auth_header("iris", KEY, 1795561500, "GET",
                             "/api/v0/teams/storage-oncall/oncall/primary", NULL, &b, &err));
  assert_string_equal(iris_buf_ptr(&b), "hmac iris:" VEC_GET_PRIMARY_NEXT);
  iris_buf_reset(&b);
  OK(iris_oncall_auth_header("iris", KEY, 1795561499, "POST", "/api/v0/events?team=a",
                             "{\"x\": 1}", &b, &err));
  assert_string_equal(iris_buf_ptr(&b), "hmac iris:" VEC_POST);
  iris_buf_reset(&b);
  assert_int_equal(iris_oncall_auth_header("iris", "", 1, "GET", "/", NULL, &b, &err), IRIS_EINVAL);
  assert_int_equal(iris_oncall_auth_header("", KEY, 1, "GET", "/", NULL, &b, &err), IRIS_EINVAL);
  assert_int_equal(iris_buf_len(&b), 0);
  iris_buf_cleanup(&b);
}

static void roles_served(void **state) {
  (void)state;
  assert_true(iris_oncall_serves_role("team"));
  assert_true(iris_oncall_serves_role("manager"));
  assert_true(iris_oncall_serves_role("director"));
  assert_true(iris_oncall_serves_role("oncall"));
  assert_true(iris_oncall_serves_role("oncall-primary"));
  assert_true(iris_oncall_serves_role("oncall-shadow"));
  assert_false(iris_oncall_serves_role("oncall-"));
  assert_false(iris_oncall_serves_role("oncallx"));
  assert_false(iris_oncall_serves_role("user"));
  assert_false(iris_oncall_serves_role("mailing-list"));
  assert_false(iris_oncall_serves_role(NULL));
}

static void creation_checks_options(void **state) {
  struct iris_oncall_opts o = {"ftp://oncall", NULL, NULL, 0, 60, NULL};
  struct iris_oncall *oc = NULL;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "http(s) URL"));
  o.api = "http://";
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  o.api = "http://oncall.test";
  o.app = "iris";
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "only the app"));
  o.key = KEY;
  o.app = "ir:is";
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  o.app = "iris\r\nX-Injected: 1";
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "control characters"));
  o.app = NULL;
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  assert_non_null(strstr(err.msg, "only the key"));
  o.key = NULL;
  o.cache_seconds = -1;
  assert_int_equal(iris_oncall_new(&o, &oc, &err), IRIS_EINVAL);
  assert_null(oc);
  o.cache_seconds = 60;
  OK(iris_oncall_new(&o, &oc, &err)); /* unsigned: neither app nor key */
  iris_oncall_free(oc);
  iris_oncall_free(NULL);
}

/* ---- requests and answers --------------------------------------------------------------- */

static void urls_and_signatures(void **state) {
  static const struct {
    const char *role, *team, *url;
  } cases[] = {
      {"oncall", "storage-oncall", "http://oncall.test/api/v0/teams/storage-oncall/oncall/primary"},
      {"oncall-secondary", "a b/c", "http://oncall.test/api/v0/teams/a%20b%2Fc/oncall/secondary"},
      {"oncall-shadow shift", "x", "http://oncall.test/api/v0/teams/x/oncall/shadow%20shift"},
      {"manager", "storage-oncall",
       "http://oncall.test/api/v0/teams/storage-oncall/oncall/manager"},
      {"director", "t\xc3\xa9", "http://oncall.test/api/v0/teams/t%C3%A9/oncall/director"},
      {"team", "storage-oncall", "http://oncall.test/api/v0/teams/storage-oncall/rosters"},
  };
  struct ctx *c = *state;
  size_t i;
  client(c, "http://oncall.test/", 60, NULL); /* a trailing '/' is dropped */
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    script(&c->f, 200, strcmp(cases[i].role, "team") ? ADA : "{\"r\": {\"users\": []}}");
    OK(get(c, cases[i].role, cases[i].team));
    assert_string_equal(c->f.url, cases[i].url);
  }
  /* The first one was signed over its path at the frozen clock, exactly as Python does. */
  client(c, "http://oncall.test", 60, NULL);
  script(&c->f, 200, ADA);
  OK(get(c, "oncall-primary", "storage-oncall"));
  assert_string_equal(c->f.auth, "hmac iris:" VEC_GET_PRIMARY);
}

static void base_path_prefix_and_decoded_signature(void **state) {
  struct ctx *c = *state;
  client(c, "https://oncall.test:8443/oncall//", 60, NULL);
  script(&c->f, 200, "{\"r\": {\"users\": [{\"name\": \"ada\"}]}}");
  OK(get(c, "team", "storage oncall"));
  assert_string_equal(c->f.url,
                      "https://oncall.test:8443/oncall/api/v0/teams/storage%20oncall/rosters");
  /* Oncall recomputes the digest over PATH_INFO, which is percent-decoded. */
  assert_string_equal(c->f.auth, "hmac iris:" VEC_PREFIX_ROSTERS);
}

static void unsigned_without_app(void **state) {
  struct iris_oncall_opts o = {"http://oncall.test", NULL, NULL, 0, 60, NULL};
  struct ctx *c = *state;
  iris_oncall_free(c->oc);
  c->oc = NULL;
  OK(iris_oncall_new(&o, &c->oc, &c->err));
  iris_oncall_set_perform(c->oc, fake_perform, &c->f);
  script(&c->f, 200, ADA);
  OK(get(c, "oncall", "t"));
  assert_string_equal(c->f.auth, "(none)");
}

static void rosters_give_every_user_sorted_once(void **state) {
  struct ctx *c = *state;
  script(&c->f, 200,
         "{\"primary\": {\"users\": [{\"name\": \"wei\", \"in_rotation\": true},"
         " {\"name\": \"ada\", \"in_rotation\": false}], \"schedules\": [], \"id\": 1},"
         " \"secondary\": {\"users\": [{\"name\": \"linus\"}, {\"name\": \"ada\"}], \"id\": 2},"
         " \"empty\": {\"users\": []}}");
  expect_names(c, "team", "storage-oncall", "ada linus wei");
  /* Rosters that hold nobody: an answer, with no names (Iris caches it as []). */
  script(&c->f, 200, "{\"empty\": {\"users\": []}}");
  expect_names(c, "team", "quiet", "");
}

static void events_give_users_sorted_once(void **state) {
  struct ctx *c = *state;
  script(&c->f, 200,
         "[{\"user\": \"linus\", \"start\": 1, \"end\": 2, \"contacts\": {}},"
         " {\"user\": \"grace\"}, {\"user\": \"linus\"}]");
  expect_names(c, "oncall-secondary", "storage-oncall", "grace linus");
}

static void expect_failure(struct ctx *c, const char *role, long status, const char *body,
                           int want, const char *want_text) {
  script(&c->f, status, body);
  c->names = (const char *const *)&c->names; /* anything but NULL */
  c->n = 99;
  assert_int_equal(get(c, role, "storage-oncall"), want);
  assert_null(c->names);
  assert_int_equal(c->n, 0);
  assert_non_null(strstr(c->err.msg, "/api/v0/teams/storage-oncall/"));
  if (!strstr(c->err.msg, want_text))
    fail_msg("message \"%s\" lacks \"%s\"", c->err.msg, want_text);
  assert_null(strstr(c->err.msg, KEY));
  assert_null(strstr(c->err.msg, "hmac "));
}

static void failures_are_specific(void **state) {
  struct ctx *c = *state;
  expect_failure(c, "team", 422,
                 "{\"title\": \"IntegrityError\", \"description\": \"team not found\"}",
                 IRIS_ENOTFOUND, "HTTP 422, no such team: {\"title\": \"IntegrityError\"");
  expect_failure(c, "oncall", 200, "[]", IRIS_ENOTFOUND, "nobody (empty answer)");
  expect_failure(c, "team", 200, "{}", IRIS_ENOTFOUND, "nobody (empty answer)");
  expect_failure(c, "oncall", 500, "<html>Internal\nServer Error</html>", IRIS_EHTTP,
                 "HTTP 500: <html>Internal?Server Error</html>");
  expect_failure(c, "manager", 401, "{\"title\": \"Wrong digest\"}", IRIS_EAUTH,
                 "HTTP 401: {\"title\": \"Wrong digest\"}");
  expect_failure(c, "oncall", 404, "", IRIS_EHTTP, "HTTP 404: ");
  expect_failure(c, "oncall", 200, "{this is not json", IRIS_EPARSE,
                 "is not JSON (line 1 column 5: ");
  expect_failure(c, "oncall", 200, "{\"user\": \"ada\"}", IRIS_EPARSE,
                 "expected a JSON array of events, got: {\"user\": \"ada\"}");
  expect_failure(c, "team", 200, "[{\"name\": \"ada\"}]", IRIS_EPARSE,
                 "expected a JSON object of rosters");
  expect_failure(c, "oncall", 200, "[{\"user\": 7}]", IRIS_EPARSE,
                 "event 0 has no string \"user\"");
  expect_failure(c, "team", 200, "{\"r\": {\"members\": []}}", IRIS_EPARSE,
                 "roster \"r\" has no \"users\" array");
  expect_failure(c, "team", 200, "{\"r\": {\"users\": [{\"name\": \"a\"}, \"b\"]}}", IRIS_EPARSE,
                 "user 1 of roster \"r\" has no string \"name\"");
  /* A long body is cut, and a secret it echoes is redacted. */
  OK(iris_log_add_secret(KEY));
  expect_failure(c, "oncall", 503,
                 "upstream said " KEY " and then a great deal more text than anybody wants to "
                 "read in an error message, on and on and on, until the end of the line",
                 IRIS_EHTTP, "HTTP 503: upstream said [REDACTED] and then");
  /* Transport failures come through as the perform call reported them. */
  script(&c->f, 0, "");
  c->f.answers[c->f.nanswers - 1].rc = IRIS_ETIMEOUT;
  assert_int_equal(get(c, "oncall", "storage-oncall"), IRIS_ETIMEOUT);
  assert_non_null(strstr(c->err.msg, "scripted transport failure"));
  /* Refused before any request. */
  c->f.calls = 0;
  assert_int_equal(get(c, "user", "ada"), IRIS_EINVAL);
  assert_int_equal(get(c, "oncall", ""), IRIS_EINVAL);
  assert_int_equal(get(c, "oncall", NULL), IRIS_EINVAL);
  assert_int_equal(c->f.calls, 0);
}

/* ---- cache -------------------------------------------------------------------------------- */

static void answers_are_cached_for_the_ttl(void **state) {
  struct ctx *c = *state;
  script(&c->f, 200, ADA);
  script(&c->f, 200, "[{\"user\": \"grace\"}]");
  script(&c->f, 200, "[{\"user\": \"linus\"}]");
  script(&c->f, 200, "[{\"user\": \"wei\"}]");
  OK(get(c, "oncall", "t"));
  iris_clock_set_fake_ms(T0_MS + 59999);
  OK(get(c, "oncall", "t"));
  assert_string_equal(c->names[0], "ada");
  /* "oncall" is "oncall-primary"; another role of the same team is its own entry. */
  OK(get(c, "oncall-primary", "t"));
  assert_string_equal(c->names[0], "ada");
  assert_int_equal(c->f.calls, 1);
  OK(get(c, "oncall-secondary", "t"));
  assert_string_equal(c->names[0], "grace");
  assert_int_equal(c->f.calls, 2);
  iris_clock_set_fake_ms(T0_MS + 60000);
  OK(get(c, "oncall", "t"));
  assert_string_equal(c->names[0], "linus");
  assert_int_equal(c->f.calls, 3);
  /* A clock that went backwards does not keep an answer forever. */
  iris_clock_set_fake_ms(T0_MS);
  OK(get(c, "oncall", "t"));
  assert_string_equal(c->names[0], "wei");
  assert_int_equal(c->f.calls, 4);
}

static void failures_and_nobody_are_not_cached(void **state) {
  struct ctx *c = *state;
  script(&c->f, 500, "boom");
  script(&c->f, 422, "{}");
  script(&c->f, 200, "[]");
  script(&c->f, 200, ADA);
  assert_int_equal(get(c, "oncall", "t"), IRIS_EHTTP);
  assert_int_equal(get(c, "oncall", "t"), IRIS_ENOTFOUND);
  assert_int_equal(get(c, "oncall", "t"), IRIS_ENOTFOUND);
  OK(get(c, "oncall", "t"));
  OK(get(c, "oncall", "t"));
  assert_int_equal(c->f.calls, 4);
  assert_int_equal(c->n, 1);
  assert_string_equal(c->names[0], "ada");
}

static void zero_ttl_never_reuses(void **state) {
  struct ctx *c = *state;
  client(c, "http://oncall.test", 0, NULL);
  script(&c->f, 200, ADA);
  script(&c->f, 200, ADA);
  OK(get(c, "oncall", "t"));
  OK(get(c, "oncall", "t"));
  assert_int_equal(c->f.calls, 2);
}

static void cache_drops_the_oldest_when_full(void **state) {
  struct ctx *c = *state;
  char team[32];
  int i;
  for (i = 0; i <= IRIS_ONCALL_CACHE_MAX; i++) {
    c->f.next = c->f.nanswers = 0;
    script(&c->f, 200, ADA);
    snprintf(team, sizeof team, "team-%d", i);
    OK(get(c, "oncall", team));
  }
  assert_int_equal(c->f.calls, IRIS_ONCALL_CACHE_MAX + 1);
  OK(get(c, "oncall", "team-1")); /* still there */
  assert_int_equal(c->f.calls, IRIS_ONCALL_CACHE_MAX + 1);
  c->f.next = c->f.nanswers = 0;
  script(&c->f, 200, ADA);
  OK(get(c, "oncall", "team-0")); /* dropped: asked again */
  assert_int_equal(c->f.calls, IRIS_ONCALL_CACHE_MAX + 2);
}

static void counts_lookups_in_metrics(void **state) {
  struct ctx *c = *state;
  struct iris_metrics *m = NULL;
  char text[4096];
  FILE *out = tmpfile();
  assert_non_null(out);
  OK(iris_metrics_new("Iris/Test", "unit", out, &m, &c->err));
  client(c, "http://oncall.test", 60, m);
  script(&c->f, 200, ADA);
  script(&c->f, 500, "boom");
  OK(get(c, "oncall", "t"));
  OK(get(c, "oncall", "t"));
  assert_int_equal(get(c, "manager", "t"), IRIS_EHTTP);
  iris_metrics_flush(m);
  iris_test_read_back(out, text, sizeof text);
  assert_non_null(strstr(text, "\"oncall_requests\":2"));
  assert_non_null(strstr(text, "\"oncall_cache_hits\":1"));
  assert_non_null(strstr(text, "\"oncall_errors\":1"));
  iris_oncall_free(c->oc);
  c->oc = NULL;
  iris_metrics_free(m);
  fclose(out);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static void every_allocation_failure_is_clean(void **state) {
  long k;
  (void)state;
  for (k = 0;; k++) {
    struct iris_oncall_opts o = {"http://oncall.test", "iris", KEY, 0, 60, NULL};
    struct iris_oncall *oc = NULL;
    struct iris_err err = {0};
    struct fake f = {0};
    const char *const *names;
    size_t n;
    int rc, hit;
    script(&f, 200, "{\"a\": {\"users\": [{\"name\": \"wei\"}, {\"name\": \"ada\"}]}}");
    iris_alloc_fail_after(k);
    rc = iris_oncall_new(&o, &oc, &err);
    if (rc == IRIS_OK) {
      iris_oncall_set_perform(oc, fake_perform, &f);
      rc = iris_oncall_get(oc, "team", "storage oncall", &names, &n, &err);
      if (rc == IRIS_OK) {
        rc = iris_oncall_get(oc, "team", "storage oncall", &names, &n, &err);
        if (rc == IRIS_OK)
          assert_int_equal(n, 2);
      }
    }
    hit = iris_alloc_fault_hit();
    iris_alloc_fail_after(-1);
    iris_oncall_free(oc);
    if (!hit) {
      OK(rc);
      break;
    }
    /* jansson reports an allocation failure inside its lexer as a syntax error. */
    if (rc != IRIS_OK && rc != IRIS_ENOMEM && rc != IRIS_EPARSE)
      fail_msg("allocation %ld: %s %s", k, iris_rc_name(rc), err.msg);
  }
  iris_log_clear_secrets();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(auth_header_matches_python, setup, teardown),
      cmocka_unit_test_setup_teardown(roles_served, setup, teardown),
      cmocka_unit_test_setup_teardown(creation_checks_options, setup, teardown),
      cmocka_unit_test_setup_teardown(urls_and_signatures, setup, teardown),
      cmocka_unit_test_setup_teardown(base_path_prefix_and_decoded_signature, setup, teardown),
      cmocka_unit_test_setup_teardown(unsigned_without_app, setup, teardown),
      cmocka_unit_test_setup_teardown(rosters_give_every_user_sorted_once, setup, teardown),
      cmocka_unit_test_setup_teardown(events_give_users_sorted_once, setup, teardown),
      cmocka_unit_test_setup_teardown(failures_are_specific, setup, teardown),
      cmocka_unit_test_setup_teardown(answers_are_cached_for_the_ttl, setup, teardown),
      cmocka_unit_test_setup_teardown(failures_and_nobody_are_not_cached, setup, teardown),
      cmocka_unit_test_setup_teardown(zero_ttl_never_reuses, setup, teardown),
      cmocka_unit_test_setup_teardown(cache_drops_the_oldest_when_full, setup, teardown),
      cmocka_unit_test_setup_teardown(counts_lookups_in_metrics, setup, teardown),
      cmocka_unit_test_setup_teardown(every_allocation_failure_is_clean, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
