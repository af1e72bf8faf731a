/*
 * fuzz_tmpl.c — libFuzzer target over the template engine: the input is split at the first
 * NUL into a template and a JSON context; the template is compiled and, if it compiles,
 * rendered (output capped at 64 KiB). Any crash, leak, sanitizer report or hang is a finding.
 * Built and run by bench/fuzz_tmpl.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *src = (const char *)data;
  const uint8_t *nul = memchr(data, 0, size);
  size_t tlen = nul ? (size_t)(nul - data) : size;
  struct iris_tmpl *t = NULL;
  struct iris_err err = {0};
  json_t *ctx = NULL;
  if (nul)
    ctx = json_loadb((const char *)nul + 1, size - tlen - 1, 0, NULL);
  if (iris_tmpl_compile("fuzz", src, tlen, &t, &err) == IRIS_OK) {
    struct iris_buf out;
    iris_buf_init(&out, 64 * 1024);
    (void)iris_tmpl_render(t, json_is_object(ctx) ? ctx : NULL, &out, &err);
    iris_buf_cleanup(&out);
  }
  iris_tmpl_free(t);
  json_decref(ctx);
  return 0;
}
