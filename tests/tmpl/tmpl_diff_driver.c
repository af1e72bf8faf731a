/*
 * tmpl_diff_driver.c — the C side of the differential test (tmpl_diff.py): reads a JSON
 * document {"context": {...}, "templates": ["...", ...]} from the file named on the command
 * line, compiles and renders every template with core/tmpl, and prints one JSON line per
 * template: {"phase": "ok", "output": "..."} or {"phase": "compile"|"render", "error": "..."}.
 * Usage: tmpl_diff_driver cases.json
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tmpl.h"

int main(int argc, char **argv) {
  json_error_t jerr;
  json_t *doc = argc > 1 ? json_load_file(argv[1], 0, &jerr) : NULL, *ctx, *tpls, *src;
  size_t i;
  if (!doc) {
    fprintf(stderr, "usage: tmpl_diff_driver cases.json (%s)\n", doc ? "" : jerr.text);
    return 2;
  }
  ctx = json_object_get(doc, "context");
  tpls = json_object_get(doc, "templates");
  json_array_foreach(tpls, i, src) {
    struct iris_tmpl *t = NULL;
    struct iris_err err = {0};
    struct iris_buf out;
    json_t *line;
    const char *phase = "ok";
    char *text;
    int rc;
    iris_buf_init(&out, 0);
    rc = iris_tmpl_compile("diff", json_string_value(src), json_string_length(src), &t, &err);
    if (rc)
      phase = "compile";
    else if ((rc = iris_tmpl_render(t, ctx, &out, &err)))
      phase = "render";
    line = rc ? json_pack("{s:s, s:s}", "phase", phase, "error", err.msg)
              : json_pack("{s:s, s:s%}", "phase", phase, "output", iris_buf_ptr(&out),
                          iris_buf_len(&out));
    text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    printf("%s\n", text ? text : "{\"phase\": \"driver\", \"error\": \"invalid UTF-8 output\"}");
    free(text);
    json_decref(line);
    iris_tmpl_free(t);
    iris_buf_cleanup(&out);
  }
  json_decref(doc);
  return 0;
}
