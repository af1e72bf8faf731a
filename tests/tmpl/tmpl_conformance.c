/*
 * tmpl_conformance.c — run every case of cases.json through core/tmpl and compare with what
 * real Jinja2 produced: the same output byte for byte; an error where Jinja raised one; a
 * compile-time refusal for the cases marked "refused". Prints each mismatch and a summary;
 * exits non-zero on any mismatch. Usage: tmpl_conformance cases.json [name-substring]
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "tmpl.h"

int main(int argc, char **argv) {
  json_error_t jerr;
  json_t *doc, *cases, *c;
  size_t i, pass = 0, fail = 0, skipped = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: tmpl_conformance cases.json [filter]\n");
    return 2;
  }
  doc = json_load_file(argv[1], 0, &jerr);
  if (!doc) {
    fprintf(stderr, "%s: %s\n", argv[1], jerr.text);
    return 2;
  }
  cases = json_object_get(doc, "cases");
  json_array_foreach(cases, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *src = json_string_value(json_object_get(c, "template"));
    json_t *want = json_object_get(c, "output");
    int refused = json_is_true(json_object_get(c, "refused"));
    int diverges = json_is_true(json_object_get(c, "diverges"));
    struct iris_tmpl *t = NULL;
    struct iris_err err = {0};
    struct iris_buf out;
    int rc;
    if (argc > 2 && !strstr(name, argv[2])) {
      skipped++;
      continue;
    }
    iris_buf_init(&out, 0);
    rc = iris_tmpl_compile(name, src, strlen(src), &t, &err);
    if (refused) {
      if (rc == IRIS_ETEMPLATE && strstr(err.msg, "line")) {
        pass++;
      } else {
        fail++;
        printf("FAIL %s: expected a compile-time refusal, got %s\n", name,
               rc ? err.msg : "success");
      }
      iris_tmpl_free(t);
      iris_buf_cleanup(&out);
      continue;
    }
    if (rc == IRIS_OK)
      rc = iris_tmpl_render(t, json_object_get(c, "context"), &out, &err);
    if (diverges) {
      if (rc == IRIS_ETEMPLATE) {
        pass++;
      } else {
        fail++;
        printf("FAIL %s: a documented divergence must fail clearly, got %s\n", name,
               rc ? err.msg : iris_buf_ptr(&out));
      }
    } else if (want) {
      const char *w = json_string_value(want);
      size_t wn = json_string_length(want);
      if (rc == IRIS_OK && iris_buf_len(&out) == wn && memcmp(iris_buf_ptr(&out), w, wn) == 0) {
        pass++;
      } else {
        fail++;
        printf("FAIL %s\n  template: %s\n  jinja2:   [%s]\n  ours:     [%s]%s%s\n", name, src, w,
               rc ? "" : iris_buf_ptr(&out), rc ? " error: " : "", rc ? err.msg : "");
      }
    } else {
      if (rc == IRIS_ETEMPLATE && err.msg[0]) {
        pass++;
      } else {
        fail++;
        printf("FAIL %s: Jinja2 raised %s, ours %s [%s]\n", name,
               json_string_value(json_object_get(c, "error")),
               rc ? "failed with another code" : "succeeded", iris_buf_ptr(&out));
      }
    }
    iris_tmpl_free(t);
    iris_buf_cleanup(&out);
  }
  printf("%zu passed, %zu failed%s (Jinja2 %s expectations)\n", pass, fail,
         skipped ? " (filtered)" : "", json_string_value(json_object_get(doc, "jinja2")));
  json_decref(doc);
  return fail ? 1 : 0;
}
