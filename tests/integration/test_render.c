/*
 * test_render.c — Iris's render() against the demo templates in a real database: context and
 * `iris` variables, per-mode content, the message-id subject prefix, drop using the email
 * content, Markdown email HTML with one-click markup, batches, literal out-of-band content,
 * the safe fallback text (no context leaked), re-rendering for the email fallback, the body
 * length limit, and the cache reloading a template whose active version changed.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_fixture.h"
#include "log.h"
#include "render.h"

#define OK(x) assert_int_equal((x), IRIS_OK)

struct fx {
  struct iris_test_db t;
  struct iris_templates *cache;
  json_t *ctx;
};

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  struct iris_err err = {0};
  if (!f || iris_test_db_prepare(&f->t, 1, NULL)) {
    free(f);
    return -1;
  }
  if (iris_templates_new(60000, &f->cache, &err)) {
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
  }
  f->ctx = json_pack("{s:s, s:s, s:f, s:i, s:s, s:[s,s], s:s, s:s}", "host", "db-1", "check",
                     "disk_usage", "value", 97.5, "threshold", 90, "severity", "critical", "tags",
                     "db", "prod", "runbook_url", "https://wiki/rb", "secret_field",
                     "do-not-leak-this-value");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  json_decref(f->ctx);
  iris_templates_free(f->cache);
  iris_test_db_destroy(&f->t);
  free(f);
  return 0;
}

static struct iris_render_request req(struct fx *f, const char *mode) {
  struct iris_render_request q;
  memset(&q, 0, sizeof q);
  q.mode = mode;
  q.message_id = 4242;
  q.incident_id = 77;
  q.application = "Autoalerts";
  q.target = "jdoe";
  q.priority = "high";
  q.priority_id = 2;
  q.plan = "db-oncall";
  q.plan_id = 3;
  q.template_name = "disk-alert";
  q.incident_created = "2026-11-24 10:20:30";
  q.context = f->ctx;
  q.destination = "jdoe@example.com";
  return q;
}

static const struct iris_render_config cfg = {1, "https://relay.example.com/oneclick",
                                              "oneclick-secret-key", 0};

static void email_from_template(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "email");
  struct iris_rendered r;
  struct iris_err err = {0};
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  /* The body shows iris.message_id, so the subject is not prefixed. */
  assert_string_equal(r.subject, "[CRITICAL] disk_usage on db-1");
  assert_non_null(strstr(r.body, "**disk_usage** on `db-1` reads 97.5 (threshold 90)."));
  assert_non_null(strstr(r.body, "Tags: db, prod"));
  assert_non_null(strstr(r.body, "Incident 77 of plan db-oncall, opened 2026-11-24 10:20:30."));
  assert_non_null(strstr(r.body, "Reply \"4242 claim\""));
  assert_int_equal(r.template_id, 2);
  assert_false(r.failed);
  assert_non_null(r.email_html);
  assert_true(
      strncmp(r.email_html, "<body><p><strong>disk_usage</strong> on <code>db-1</code>", 56) == 0);
  assert_non_null(strstr(r.email_html, "\"@type\": \"ConfirmAction\""));
  assert_non_null(strstr(r.email_html, "msg_id=4242&email_address=jdoe%40example.com&cmd=claim"));
  assert_non_null(strstr(r.email_html, "</script>\n</body>"));
  iris_rendered_cleanup(&r);
}

static void sms_and_call(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "sms");
  struct iris_rendered r;
  struct iris_err err = {0};
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_string_equal(r.body, "4242: disk_usage db-1 = 97.5/90. Reply \"4242 claim\".");
  assert_string_equal(r.subject, "");
  assert_null(r.email_html);
  iris_rendered_cleanup(&r);
  q.mode = "call";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  /* The call content never shows the id: the subject is just the id (Iris's prefix rule). */
  assert_string_equal(r.subject, "4242");
  assert_string_equal(r.body,
                      "This is Iris. disk usage on host db-1 is at 97.5. Press 2 to claim.");
  iris_rendered_cleanup(&r);
  q.mode = "slack";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_string_equal(r.subject, "4242 disk_usage on db-1");
  iris_rendered_cleanup(&r);
}

static void drop_uses_email_content_and_prefix_is_kept(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "drop");
  struct iris_rendered r;
  struct iris_err err = {0};
  q.body_prefix = "You are receiving this as you created this plan.\n\n";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_true(strncmp(r.body, "You are receiving this as you created this plan.\n\n**disk_usage**",
                      64) == 0);
  iris_rendered_cleanup(&r);
}

static void failures_fall_back_without_leaking(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "email");
  struct iris_rendered r;
  struct iris_err err = {0};
  q.template_name = "no-such-template";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_true(r.failed);
  assert_string_equal(r.failure, "template no-such-template does not exist");
  assert_string_equal(r.subject, "4242 Iris failed to render your message");
  assert_non_null(strstr(r.body, "template 'no-such-template'"));
  assert_null(strstr(r.body, "do-not-leak-this-value"));
  assert_null(strstr(r.body, "db-1"));
  assert_non_null(r.email_html);
  assert_null(strstr(r.email_html, "ConfirmAction")); /* no one-click on a failure page */
  iris_rendered_cleanup(&r);
  q.template_name = "disk-alert";
  q.application = "Jobs";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_string_equal(r.failure, "template disk-alert does not have application Jobs");
  iris_rendered_cleanup(&r);
  q.template_name = "job-failure";
  q.application = "batchjobs";
  q.mode = "sms";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_true(r.failed);
  assert_string_equal(r.failure, "template job-failure does not have mode sms");
  iris_rendered_cleanup(&r);
  q.application = "Autoalerts";
  /* A render-time error (attribute of an undefined value) falls back too. */
  OK(iris_test_db_sql(&f->t,
                      "INSERT INTO template (id, name, created, user_id) VALUES (9, 'broken', NOW(), 1);"
                      "INSERT INTO template_active (name, template_id) VALUES ('broken', 9);"
                      "INSERT INTO template_content (template_id, application_id, mode_id, subject, body)"
                      " VALUES (9, 1, 2, '', '{{ nothing.here }}'), (9, 1, 1, '{% if %}', 'x');",
                      &err));
  q.template_name = "broken";
  q.mode = "sms";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_true(r.failed);
  assert_non_null(strstr(r.failure, "'nothing' is undefined"));
  iris_rendered_cleanup(&r);
  q.mode = "email";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_true(r.failed);
  assert_non_null(strstr(r.failure, "template 'broken/Autoalerts/email/subject' line 1"));
  iris_rendered_cleanup(&r);
}

static void fallback_re_renders(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "sms");
  struct iris_rendered r1, r2;
  struct iris_err err = {0};
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r1, &err));
  q.mode = "email"; /* the sender falls back to email after the SMS failed */
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r2, &err));
  assert_null(strstr(r2.body, r1.body)); /* Iris appended the email body to the SMS text */
  assert_true(strncmp(r2.body, "**disk_usage**", 14) == 0);
  iris_rendered_cleanup(&r1);
  iris_rendered_cleanup(&r2);
}

static void batch_literal_and_limits(void **state) {
  struct fx *f = *state;
  struct iris_render_request q = req(f, "email");
  struct iris_render_config small = cfg;
  struct iris_rendered r;
  struct iris_err err = {0};
  q.batch_id = "0123456789abcdef0123456789abcdef";
  q.batch_count = 12;
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_string_equal(r.subject, "[Autoalerts] 12 messages from plan db-oncall");
  assert_string_equal(r.body, "Batch ID: 0123456789abcdef0123456789abcdef");
  iris_rendered_cleanup(&r);
  memset(&q, 0, sizeof q);
  q.mode = "email";
  q.subject = "[app] hello";
  q.body = "plain **text**";
  q.email_html = "<p>given</p>";
  OK(iris_render(&cfg, f->cache, f->t.db, &q, &r, &err));
  assert_string_equal(r.subject, "[app] hello");
  assert_string_equal(r.email_html, "<p>given</p>");
  iris_rendered_cleanup(&r);
  small.max_body = 10;
  q.email_html = NULL;
  q.body = "héllo wörld and more";
  OK(iris_render(&small, f->cache, f->t.db, &q, &r, &err));
  assert_true(r.too_long);
  assert_int_equal(r.body_chars, 20);
  assert_string_equal(r.body, "héllo wörl");
  iris_rendered_cleanup(&r);
}

static void cache_follows_the_active_version(void **state) {
  struct fx *f = *state;
  struct iris_templates *fast = NULL;
  struct iris_render_request q = req(f, "sms");
  struct iris_rendered r;
  struct iris_err err = {0};
  OK(iris_templates_new(1, &fast, &err));
  OK(iris_render(&cfg, fast, f->t.db, &q, &r, &err));
  assert_int_equal(r.template_id, 2);
  iris_rendered_cleanup(&r);
  OK(iris_test_db_sql(&f->t,
                      "INSERT INTO template (id, name, created, user_id) VALUES (10, 'disk-alert', NOW(), 1);"
                      "INSERT INTO template_content (template_id, application_id, mode_id, subject, body)"
                      " VALUES (10, 1, 2, '', 'v10 {{ host }}');"
                      "UPDATE template_active SET template_id = 10 WHERE name = 'disk-alert';",
                      &err));
  usleep(5000);
  OK(iris_render(&cfg, fast, f->t.db, &q, &r, &err));
  assert_int_equal(r.template_id, 10);
  assert_string_equal(r.body, "v10 db-1");
  assert_string_equal(r.subject, "4242"); /* the new body does not show the id */
  iris_rendered_cleanup(&r);
  iris_templates_free(fast);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(email_from_template),
                                     cmocka_unit_test(sms_and_call),
                                     cmocka_unit_test(drop_uses_email_content_and_prefix_is_kept),
                                     cmocka_unit_test(failures_fall_back_without_leaking),
                                     cmocka_unit_test(fallback_re_renders),
                                     cmocka_unit_test(batch_literal_and_limits),
                                     cmocka_unit_test(cache_follows_the_active_version)};
  iris_log_set_level(IRIS_LOG_LEVEL_ERROR);
  return cmocka_run_group_tests(tests, setup, teardown);
}
