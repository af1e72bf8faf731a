/*
 * tmpl_bench.c — renders per second of Iris's typical templates (bench_templates.json), each
 * compiled once and rendered for about one second. Prints "name renders/s" lines.
 * Usage: tmpl_bench bench_templates.json
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "tmpl.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  json_error_t jerr;
  json_t *doc = argc > 1 ? json_load_file(argv[1], 0, &jerr) : NULL, *ctx, *tpls, *src;
  const char *name;
  if (!doc) {
    fprintf(stderr, "usage: tmpl_bench bench_templates.json\n");
    return 2;
  }
  ctx = json_object_get(doc, "context");
  tpls = json_object_get(doc, "templates");
  json_object_foreach(tpls, name, src) {
    struct iris_tmpl *t = NULL;
    struct iris_err err = {0};
    struct iris_buf out;
    double t0, elapsed;
    long n = 0;
    if (iris_tmpl_compile(name, json_string_value(src), json_string_length(src), &t, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    iris_buf_init(&out, 0);
    t0 = now();
    do {
      int k;
      for (k = 0; k < 1000; k++, n++) {
        iris_buf_reset(&out);
        if (iris_tmpl_render(t, ctx, &out, &err)) {
          fprintf(stderr, "%s\n", err.msg);
          return 1;
        }
      }
      elapsed = now() - t0;
    } while (elapsed < 1.0);
    printf("%s %.0f\n", name, (double)n / elapsed);
    iris_buf_cleanup(&out);
    iris_tmpl_free(t);
  }
  json_decref(doc);
  return 0;
}
