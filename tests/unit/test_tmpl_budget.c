/*
 * test_tmpl_budget.c — no template can crash, hang or exhaust the process: deep nesting at
 * every parse level is refused on a small thread stack, huge exponents and repetitions end at
 * once, extreme range() bounds are refused, the per-render memory, step and depth budget
 * (iris_tmpl_set_limits) turns runaway templates into clear errors, loop state is released
 * per iteration, macro calls stay within the depth budget on a small stack and release what
 * they made, formatting widths are bounded, and compile errors about non-ASCII text stay
 * valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "tmpl.h"

/* The Lambda's worker threads get 256 KiB stacks; AddressSanitizer's frames are several times
 * larger, so the sanitizer build gives the same templates 4x the room. */
#if defined(__SANITIZE_ADDRESS__)
#define SMALL_STACK (1024 * 1024)
#else
#define SMALL_STACK (256 * 1024)
#endif

static int render(const char *src, struct iris_buf *out, struct iris_err *err) {
  struct iris_tmpl *t = NULL;
  int rc = iris_tmpl_compile("t", src, strlen(src), &t, err);
  if (rc == IRIS_OK)
    rc = iris_tmpl_render(t, NULL, out, err);
  iris_tmpl_free(t);
  return rc;
}

/* Render src; expect rc and, for errors, a message containing `want`; output for success. */
static void expect(const char *src, int rc, const char *want) {
  struct iris_buf out;
  struct iris_err err = {0};
  int got;
  iris_buf_init(&out, 0);
  got = render(src, &out, &err);
  if (got != rc || (rc && !strstr(err.msg, want)) ||
      (!rc && want && strcmp(iris_buf_ptr(&out), want) != 0))
    fail_msg("%.80s: rc %d (want %d), err [%s], out [%.80s]", src, got, rc, err.msg,
             iris_buf_len(&out) ? iris_buf_ptr(&out) : "");
  iris_buf_cleanup(&out);
}

/* A template of `prefix` repeated n times, then `middle`, then `suffix` n times (caller frees). */
static char *nest(const char *open, const char *middle, const char *close, size_t n) {
  size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close), i, o = 0;
  char *s = iris_malloc(6 + n * (lo + lc) + lm + 1);
  assert_non_null(s);
  memcpy(s, "{{ ", 3);
  o = 3;
  for (i = 0; i < n; i++, o += lo)
    memcpy(s + o, open, lo);
  memcpy(s + o, middle, lm);
  o += lm;
  for (i = 0; i < n; i++, o += lc)
    memcpy(s + o, close, lc);
  memcpy(s + o, " }}", 4);
  return s;
}

/* Run fn(arg) on a thread with the Lambda worker's small stack; returns what fn returned. */
static void *on_small_stack(void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_t th;
  void *ret = NULL;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, SMALL_STACK);
  assert_int_equal(pthread_create(&th, &attr, fn, arg), 0);
  assert_int_equal(pthread_join(th, &ret), 0);
  pthread_attr_destroy(&attr);
  return ret;
}

struct deep_job {
  const char *open, *close;
};

static void *compile_deep(void *arg) {
  const struct deep_job *j = arg;
  char *src = nest(j->open, "1", j->close, 5000);
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  int rc = iris_tmpl_compile("deep", src, strlen(src), &t, &err);
  iris_free(src);
  iris_tmpl_free(t);
  return (void *)(intptr_t)(rc == IRIS_ETEMPLATE && strstr(err.msg, "nested too deeply"));
}

static void deep_nesting_is_refused_on_a_small_stack(void **state) {
  static const struct deep_job jobs[] = {{"not ", ""},
                                         {"-", ""},
                                         {"+", ""},
                                         {"(", ")"},
                                         {"[", "]"},
                                         {"{'a': ", "}"},
                                         {"x if ", " else 1"},
                                         {"1 if 1 else ", ""},
                                         {"x|default(", ")"},
                                         {"x is divisibleby(", ")"},
                                         {"range(", ")"},
                                         {"x[", "]"}};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
    if (!on_small_stack(compile_deep, (void *)&jobs[i]))
      fail_msg("5000 levels of '%s' were not refused as nested too deeply", jobs[i].open);
  }
  /* Blocks too. */
  {
    struct iris_buf b;
    size_t k;
    iris_buf_init(&b, 0);
    for (k = 0; k < 5000; k++)
      assert_int_equal(iris_buf_appends(&b, "{% if 1 %}"), IRIS_OK);
    expect(iris_buf_ptr(&b), IRIS_ETEMPLATE, "nested too deeply");
    iris_buf_cleanup(&b);
  }
}

static void *render_chains(void *arg) {
  /* The deepest trees the parser accepts (250 chained links inside 8 blocks and 8 parens)
   * render without exhausting a 256 KiB stack, and iris_tmpl_mentions walks them. */
  static const char *const links[] = {" + 1",
                                      "|default(1)",
                                      " ~ 'x'",
                                      " and 1",
                                      " or 1",
                                      " * 1",
                                      "|replace('a', 'b')",
                                      "|string",
                                      "|abs|string|first|int"};
  size_t i, k;
  (void)arg;
  for (i = 0; i < sizeof links / sizeof links[0]; i++) {
    struct iris_buf b, out;
    struct iris_err err = {0};
    struct iris_tmpl *t = NULL;
    int rc = IRIS_OK;
    iris_buf_init(&b, 0);
    iris_buf_init(&out, 0);
    for (k = 0; k < 8; k++)
      rc |= iris_buf_appends(&b, "{% if 1 %}");
    rc |= iris_buf_appends(&b, "{{ ((((((((1");
    for (k = 0; k < (strchr(links[i] + 1, '|') ? 45u : 200u); k++)
      rc |= iris_buf_appends(&b, links[i]);
    rc |= iris_buf_appends(&b, "))))))))|string|length > 0 }}");
    for (k = 0; k < 8; k++)
      rc |= iris_buf_appends(&b, "{% endif %}");
    if (rc == IRIS_OK)
      rc = iris_tmpl_compile("chain", iris_buf_ptr(&b), iris_buf_len(&b), &t, &err);
    if (rc == IRIS_OK) {
      (void)iris_tmpl_mentions(t, "iris", "message_id");
      rc = iris_tmpl_render(t, NULL, &out, &err);
    }
    iris_tmpl_free(t);
    iris_buf_cleanup(&b);
    if (rc != IRIS_OK || strcmp(iris_buf_ptr(&out), "True") != 0) {
      fprintf(stderr, "chain of '%s': %s\n", links[i], err.msg);
      iris_buf_cleanup(&out);
      return NULL;
    }
    iris_buf_cleanup(&out);
  }
  return (void *)1;
}

static void deep_trees_render_on_a_small_stack(void **state) {
  (void)state;
  assert_non_null(on_small_stack(render_chains, NULL));
}

static double now(void);

static void *render_recursion(void *arg) {
  /* A macro calling itself ends at the depth budget, on a 256 KiB stack, whatever the
   * depth of each call's expressions; so do call blocks whose caller calls the macro. */
  static const char *const srcs[] =
      {"{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
       "{% macro m(n) %}{% for i in [1] %}{% if 1 %}{{ ((((m(n + 1))))) ~ (1 + (2 * (3))) }}"
       "{% endif %}{% endfor %}{% endmacro %}{{ m(0) }}",
       "{% macro m() %}{% call m() %}{{ caller() }}{% endcall %}{% endmacro %}{{ m() }}",
       "{% macro m(x=m()) %}{% endmacro %}{{ m() }}",
       "{% macro m() %}{% set s %}{{ m() }}{% endset %}{% endmacro %}{{ m() }}"};
  size_t i;
  (void)arg;
  for (i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
    struct iris_buf out;
    struct iris_err err = {0};
    int rc;
    iris_buf_init(&out, 0);
    rc = render(srcs[i], &out, &err);
    iris_buf_cleanup(&out);
    if (rc != IRIS_ETEMPLATE || !strstr(err.msg, "nested too deeply")) {
      fprintf(stderr, "%s: rc %d %s\n", srcs[i], rc, err.msg);
      return NULL;
    }
  }
  return (void *)1;
}

static void macro_recursion_ends_on_a_small_stack(void **state) {
  (void)state;
  assert_non_null(on_small_stack(render_recursion, NULL));
  /* within the budget, recursion renders */
  expect("{% macro m(n) %}{% if n %}{{ n }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(30) }}",
         IRIS_OK, "302928272625242322212019181716151413121110987654321");
}

/* Keep the current limits in *saved and set them with a 1 MiB memory budget, which it returns
 * for more changes; the test restores *saved at its end. */
static struct iris_tmpl_limits one_mib_budget(struct iris_tmpl_limits *saved) {
  struct iris_tmpl_limits small;
  iris_tmpl_get_limits(saved);
  small = *saved;
  small.max_memory = 1 << 20;
  iris_tmpl_set_limits(&small);
  return small;
}

static void macro_calls_release_what_they_made(void **state) {
  struct iris_tmpl_limits saved;
  (void)state;
  (void)one_mib_budget(&saved);
  /* 100 000 calls each making 4 KiB of strings and a list: only if each is released */
  expect("{% macro m(i) %}{% set s = 'x' * 2000 ~ i %}{% set l = [s, s, i] %}{{ l|length }}"
         "{% endmacro %}{% for i in range(100) %}{% for j in range(1000) %}{% set r = m(j) %}"
         "{% endfor %}{% endfor %}done",
         IRIS_OK, "done");
  /* a call's output counts: doubling it overflows the budget */
  expect("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% else %}xxxxxxxxxx{% endif %}"
         "{% endmacro %}{{ m(30)|length }}",
         IRIS_ETEMPLATE, "budget");
  iris_tmpl_set_limits(&saved);
}

static void formatting_is_bounded(void **state) {
  double t0 = now();
  (void)state;
  expect("{{ '%999999999999d' % 1 }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ '%.999999999999f' % 1.5 }}", IRIS_ETEMPLATE, "precision too big"); /* as Python */
  expect("{{ '%.2000000000f' % 1.5 }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ '{:999999999999}'.format(1) }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ '{:.999999999999f}'.format(1.5) }}", IRIS_ETEMPLATE, "budget");
  expect("{{ '{:x^99999999999999999999}'.format(1) }}", IRIS_ETEMPLATE, "decimal digits");
  expect("{{ '%*d' % (10**15, 1) }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ '%s' % ('x' * 60000000) }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ '{:,}|{:_x}|%05.1f'.format(1234567, 255) % 2.25 }}", IRIS_OK, "1,234,567|ff|002.2");
  if (now() - t0 > 5.0)
    fail_msg("formatting took %.1f s", now() - t0);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void huge_operations_end_at_once(void **state) {
  double t0 = now();
  (void)state;
  expect("{{ 1 ** 9223372036854775807 }}", IRIS_OK, "1");
  expect("{{ (-1) ** 9223372036854775807 }}", IRIS_OK, "-1");
  expect("{{ 0 ** 9223372036854775807 }}", IRIS_OK, "0");
  expect("{{ 3 ** 39 }}", IRIS_OK, "4052555153018976267");
  expect("{{ (-2) ** 63 }}", IRIS_OK, "-9223372036854775808");
  expect("{{ [] * 10**9 }}", IRIS_OK, "[]");
  expect("{{ '' * 10**18 }}|", IRIS_OK, "|");
  expect("{{ ([1] * 10**9)|length }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ ('x' * 10**9)|length }}", IRIS_ETEMPLATE, "memory budget");
  expect("{{ range(-9223372036854775807 - 1, 9223372036854775807)|length }}", IRIS_ETEMPLATE,
         "range too big");
  expect("{{ range(9223372036854775807, -9223372036854775807 - 1, -1)|length }}", IRIS_ETEMPLATE,
         "range too big");
  expect("{{ range(0, 9223372036854775807, 9223372036854775807)|length }}", IRIS_OK, "1");
  if (now() - t0 > 5.0)
    fail_msg("huge operations took %.1f s", now() - t0);
}

static void memory_budget(void **state) {
  struct iris_buf b;
  size_t k;
  (void)state;
  /* s doubled 40 times would be a terabyte: a clear error instead. */
  iris_buf_init(&b, 0);
  assert_int_equal(iris_buf_appends(&b, "{% set s = 'xxxxxxxx' %}"), IRIS_OK);
  for (k = 0; k < 40; k++)
    assert_int_equal(iris_buf_appends(&b, "{% set s = s ~ s %}"), IRIS_OK);
  assert_int_equal(iris_buf_appends(&b, "{{ s|length }}"), IRIS_OK);
  expect(iris_buf_ptr(&b), IRIS_ETEMPLATE, "memory budget");
  iris_buf_cleanup(&b);
  expect("{% set l = [1, 2, 3, 4, 5, 6, 7, 8] %}{% for i in range(30) %}{% set l = l + l %}"
         "{% endfor %}{% set l = l + l + l + l %}{% set l = l + l %}{% set l = l + l %}"
         "{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}"
         "{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}"
         "{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}"
         "{% set l = l + l %}{% set l = l + l %}{% set l = l + l %}{{ l|length }}",
         IRIS_ETEMPLATE, "memory budget");
}

static void loop_state_is_freed_per_iteration(void **state) {
  struct iris_tmpl_limits saved, small;
  (void)state;
  small = one_mib_budget(&saved); /* for a million iterations: only if each is released */
  expect("{% for i in range(999) %}{% for j in range(1000) %}{% set s = 'ab' ~ j ~ [i] %}"
         "{% endfor %}{% endfor %}done",
         IRIS_OK, "done");
  small.max_steps = 1000;
  iris_tmpl_set_limits(&small);
  expect("{% for i in range(2000) %}{% endfor %}", IRIS_ETEMPLATE, "step budget");
  small.max_steps = 0;
  small.max_iterations = 10;
  iris_tmpl_set_limits(&small);
  expect("{% for i in range(11) %}{% endfor %}", IRIS_ETEMPLATE, "more than 10 loop iterations");
  small.max_iterations = 0;
  small.max_depth = 8;
  iris_tmpl_set_limits(&small);
  expect("{{ ((((((((((1)))))))))) }}", IRIS_ETEMPLATE, "nested too deeply");
  iris_tmpl_set_limits(&saved);
  expect("{{ ((((((((((1)))))))))) }}", IRIS_OK, "1");
}

static int valid_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80             ? 1
               : (*p & 0xE0) == 0xC0 ? 2
               : (*p & 0xF0) == 0xE0 ? 3
               : (*p & 0xF8) == 0xF0 ? 4
                                     : 0;
    size_t i;
    if (!n)
      return 0;
    for (i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80)
        return 0;
    p += n;
  }
  return 1;
}

static void compile_errors_keep_characters_whole(void **state) {
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  char name[700];
  size_t k;
  (void)state;
  assert_int_equal(iris_tmpl_compile("u", "{{ 1 € 2 }}", strlen("{{ 1 € 2 }}"), &t, &err),
                   IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "'€'"));
  /* A name long enough to cut the message: every cut point lands between characters. */
  for (k = 0; k < 40; k++) {
    size_t n = 0, i;
    for (i = 0; i < k; i++)
      name[n++] = 'a';
    while (n + 4 < sizeof name) {
      memcpy(name + n, "日", 3);
      n += 3;
    }
    name[n] = '\0';
    assert_int_equal(iris_tmpl_compile(name, "{{ é }}", strlen("{{ é }}"), &t, &err),
                     IRIS_ETEMPLATE);
    if (!valid_utf8(err.msg))
      fail_msg("error message is not valid UTF-8 with a %zu-byte prefix", k);
  }
}

static void invalid_utf8_is_refused(void **state) {
  /* A stray continuation byte inside a string sliced backwards (a fuzzer finding) */
  static const char bad[] = "{{ 'ab\xbf\xbb\xbb~c'[5:1:-1] }}";
  static const char *const more[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\xe2\x82",
                                     "\xff"};
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  size_t i;
  (void)state;
  assert_int_equal(iris_tmpl_compile("bad", bad, strlen(bad), &t, &err), IRIS_ETEMPLATE);
  assert_non_null(strstr(err.msg, "not valid UTF-8 (byte 7)"));
  for (i = 0; i < sizeof more / sizeof more[0]; i++) {
    assert_int_equal(iris_tmpl_compile("bad", more[i], strlen(more[i]), &t, &err), IRIS_ETEMPLATE);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(deep_nesting_is_refused_on_a_small_stack),
                                     cmocka_unit_test(deep_trees_render_on_a_small_stack),
                                     cmocka_unit_test(huge_operations_end_at_once),
                                     cmocka_unit_test(memory_budget),
                                     cmocka_unit_test(loop_state_is_freed_per_iteration),
                                     cmocka_unit_test(macro_recursion_ends_on_a_small_stack),
                                     cmocka_unit_test(macro_calls_release_what_they_made),
                                     cmocka_unit_test(formatting_is_bounded),
                                     cmocka_unit_test(compile_errors_keep_characters_whole),
                                     cmocka_unit_test(invalid_utf8_is_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
