/*
 * test_tmpl.c — the template engine's API contract beyond the conformance cases: error
 * positions, the message-id scan Iris needs, output caps, loop limits, rendering one
 * compiled template from many threads, and allocation failures everywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "tmpl.h"

static int render(const char *src, const char *ctx, struct iris_buf *out, struct iris_err *err) {
  struct iris_tmpl *t = NULL;
  json_t *c = ctx ? json_loads(ctx, 0, NULL) : NULL;
  int rc = iris_tmpl_compile("t", src, strlen(src), &t, err);
  if (rc == IRIS_OK)
    rc = iris_tmpl_render(t, c, out, err);
  iris_tmpl_free(t);
  json_decref(c);
  return rc;
}

static void errors_have_positions(void **state) {
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  const char *src = "line one\n{% if x %}\n  {{ a + }}\n{% endif %}";
  (void)state;
  assert_int_equal(iris_tmpl_compile("disk-alert/email/body", src, strlen(src), &t, &err),
                   IRIS_ETEMPLATE);
  assert_null(t);
  assert_non_null(strstr(err.msg, "template 'disk-alert/email/body' line 3 col 10"));
  assert_int_equal(iris_tmpl_compile("m", "{% include 'x' %}", 17, &t, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "'include' tag is not supported"));
  assert_int_equal(iris_tmpl_compile("f", "{{ x|xmlattr }}", 15, &t, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "filter 'xmlattr' is not supported"));
}

static void render_errors_name_the_line(void **state) {
  struct iris_buf out;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&out, 0);
  assert_int_equal(render("ok\n\n{{ missing.attr }}", "{}", &out, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "line 3"));
  assert_non_null(strstr(err.msg, "'missing' is undefined"));
  iris_buf_reset(&out);
  assert_int_equal(render("{{ d.items }}", "{\"d\": {\"items\": 1}}", &out, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "write ['items']"));
  iris_buf_cleanup(&out);
}

static void mentions(void **state) {
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  const char *a = "Reply {{ iris.message_id }} claim", *b = "{{ iris['message_id'] }}",
             *c = "{{ iris.incident_id }}",
             *d = "{% if x %}{{ iris.message_id|string }}{% endif %}";
  (void)state;
  assert_int_equal(iris_tmpl_compile("a", a, strlen(a), &t, &err), IRIS_OK);
  assert_true(iris_tmpl_mentions(t, "iris", "message_id"));
  iris_tmpl_free(t);
  assert_int_equal(iris_tmpl_compile("b", b, strlen(b), &t, &err), IRIS_OK);
  assert_true(iris_tmpl_mentions(t, "iris", "message_id"));
  iris_tmpl_free(t);
  assert_int_equal(iris_tmpl_compile("c", c, strlen(c), &t, &err), IRIS_OK);
  assert_false(iris_tmpl_mentions(t, "iris", "message_id"));
  iris_tmpl_free(t);
  assert_int_equal(iris_tmpl_compile("d", d, strlen(d), &t, &err), IRIS_OK);
  assert_true(iris_tmpl_mentions(t, "iris", "message_id"));
  iris_tmpl_free(t);
}

static void limits(void **state) {
  struct iris_buf out;
  struct iris_err err = {0};
  (void)state;
  iris_buf_init(&out, 1000);
  assert_int_equal(render("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", NULL, &out, &err),
                   IRIS_ETOOBIG);
  iris_buf_cleanup(&out);
  iris_buf_init(&out, 0);
  assert_int_equal(render("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}"
                          "{% endfor %}",
                          NULL, &out, &err),
                   IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "loop iterations"));
  iris_buf_reset(&out);
  assert_int_equal(render("{{ range(200000) }}", NULL, &out, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "range too big"));
  iris_buf_cleanup(&out);
}

struct job {
  const struct iris_tmpl *t;
  int ok;
};

static void *worker(void *arg) {
  struct job *j = arg;
  int k;
  json_t *ctx = json_pack("{s:s, s:[s,s,s]}", "host", "db-1", "tags", "a", "b", "c");
  j->ok = 1;
  for (k = 0; k < 2000; k++) {
    struct iris_buf out;
    struct iris_err err = {0};
    iris_buf_init(&out, 0);
    if (iris_tmpl_render(j->t, ctx, &out, &err) || strcmp(iris_buf_ptr(&out), "db-1: a,b,c,") != 0)
      j->ok = 0;
    iris_buf_cleanup(&out);
  }
  json_decref(ctx);
  return NULL;
}

static void threads_share_a_template(void **state) {
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  const char *src = "{{ host }}: {% for t in tags %}{{ t }},{% endfor %}";
  pthread_t th[4];
  struct job jobs[4];
  int i;
  (void)state;
  assert_int_equal(iris_tmpl_compile("mt", src, strlen(src), &t, &err), IRIS_OK);
  for (i = 0; i < 4; i++) {
    jobs[i].t = t;
    pthread_create(&th[i], NULL, worker, &jobs[i]);
  }
  for (i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_true(jobs[i].ok);
  }
  iris_tmpl_free(t);
}

static void oom_sweep(void **state) {
  const char *src = "{% set x = [1, 2] %}{% for k, v in d.items() %}{{ k|upper }}={{ v|tojson }}"
                    "{% endfor %}{{ x|join(',') }}{{ 'a b'|wordwrap(1, break_on_hyphens=false) }}";
  long n;
  (void)state;
  for (n = 0; n < 400; n++) {
    struct iris_tmpl *t = NULL;
    struct iris_err err = {0};
    struct iris_buf out;
    json_t *ctx = json_pack("{s:{s:i, s:[i]}}", "d", "a", 1, "b", 2);
    int rc;
    iris_buf_init(&out, 0);
    iris_alloc_fail_after(n);
    rc = iris_tmpl_compile("oom", src, strlen(src), &t, &err);
    if (rc == IRIS_OK)
      rc = iris_tmpl_render(t, ctx, &out, &err);
    iris_alloc_fail_after(-1);
    iris_tmpl_free(t);
    iris_buf_cleanup(&out);
    json_decref(ctx);
    if (rc == IRIS_OK)
      return;
    assert_true(rc == IRIS_ENOMEM || rc == IRIS_ETEMPLATE);
  }
  fail_msg("never rendered within 400 allocations");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(errors_have_positions),
                                     cmocka_unit_test(render_errors_name_the_line),
                                     cmocka_unit_test(mentions),
                                     cmocka_unit_test(limits),
                                     cmocka_unit_test(threads_share_a_template),
                                     cmocka_unit_test(oom_sweep)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
