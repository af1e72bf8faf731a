/*
 * fuzz_tmpl.c — libFuzzer target over the template engine: the input is split at the first
 * NUL into a template and a JSON context; the template is compiled and, if it compiles,
 * rendered (output capped at 64 KiB). Any crash, leak, sanitizer report or hang is a finding,
 * and so is output or an error message that is not valid UTF-8 (every text the engine hands
 * back must be). The render budget is smaller than production's (8 MiB, 2 million steps,
 * 100 000 iterations) so that runaway inputs end in milliseconds and the fuzzer keeps its
 * pace; the budget's code paths are the same. Built and run by bench/fuzz_tmpl.sh (clang
 * -fsanitize=fuzzer,address,undefined).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "tmpl.h"
#include "utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  struct iris_tmpl_limits lim;
  (void)argc;
  (void)argv;
  iris_tmpl_get_limits(&lim);
  lim.max_memory = (size_t)8 << 20;
  lim.max_steps = 2000000;
  lim.max_iterations = 100000;
  iris_tmpl_set_limits(&lim);
  return 0;
}

static void check_err(const struct iris_err *err) {
  size_t n = strnlen(err->msg, sizeof err->msg);
  if (n == sizeof err->msg || !iris_utf8_valid(err->msg, n))
    __builtin_trap();
}

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
    if (iris_tmpl_render(t, json_is_object(ctx) ? ctx : NULL, &out, &err) == IRIS_OK &&
        !iris_utf8_valid(iris_buf_ptr(&out) ? iris_buf_ptr(&out) : "", iris_buf_len(&out)))
      __builtin_trap();
    iris_buf_cleanup(&out);
  }
  check_err(&err);
  iris_tmpl_free(t);
  json_decref(ctx);
  return 0;
}
