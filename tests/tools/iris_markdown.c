/*
 * iris-markdown — the email HTML of Markdown bodies (core/iris/markdown.h), for the test that
 * compares it with Python-Markdown. Reads a JSON array of strings on stdin and writes the
 * JSON array of their HTML on stdout.
 */
#include <jansson.h>
#include <stdio.h>

#include "buf.h"
#include "markdown.h"

int main(void) {
  json_error_t jerr;
  json_t *in = json_loadf(stdin, 0, &jerr), *out = json_array();
  size_t i;
  int status = 0;
  if (!json_is_array(in) || !out) {
    fprintf(stderr, "iris-markdown: stdin must be a JSON array of strings: %s\n", jerr.text);
    return 2;
  }
  for (i = 0; i < json_array_size(in) && !status; i++) {
    json_t *s = json_array_get(in, i);
    struct iris_buf html;
    struct iris_err err = {0};
    iris_buf_init(&html, 0);
    if (!json_is_string(s) ||
        iris_markdown_to_html(json_string_value(s), json_string_length(s), &html, &err) ||
        json_array_append_new(out, json_stringn(html.ptr ? html.ptr : "", html.len))) {
      fprintf(stderr, "iris-markdown: item %zu: %s\n", i, err.msg[0] ? err.msg : "not a string");
      status = 1;
    }
    iris_buf_cleanup(&html);
  }
  if (!status && json_dumpf(out, stdout, JSON_COMPACT) != 0)
    status = 1;
  json_decref(in);
  json_decref(out);
  return status;
}
