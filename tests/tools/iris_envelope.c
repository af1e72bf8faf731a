/*
 * iris-envelope — check or produce queue envelopes with core/iris/contract.h (for the schema test).
 *   iris-envelope parse < file        prints "ok <kind>" or "error: <reason>" (exit 1)
 *   iris-envelope parse-lines < file  one envelope per line, one "ok <kind>" / "error: <reason>"
 *                                     line each (exit 0), for many generated cases in one run
 *   iris-envelope message ID          prints the message envelope
 *   iris-envelope batch BATCH_ID ID...  prints the batch envelope
 *   iris-envelope tracking INCIDENT_ID  prints the tracking envelope
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "contract.h"

int main(int argc, char **argv) {
  struct iris_buf in, out;
  struct iris_envelope env;
  struct iris_err err = {0};
  int rc = 0;
  iris_buf_init(&in, 0);
  iris_buf_init(&out, 0);
  if (argc >= 2 && strcmp(argv[1], "parse") == 0) {
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
      if (iris_buf_append(&in, chunk, n))
        return 2;
    if (iris_envelope_parse(iris_buf_ptr(&in), iris_buf_len(&in), &env, &err)) {
      printf("error: %s\n", err.msg);
      rc = 1;
    } else {
      printf("ok %d\n", (int)env.kind);
      iris_envelope_cleanup(&env);
    }
  } else if (argc >= 2 && strcmp(argv[1], "parse-lines") == 0) {
    char chunk[4096];
    size_t n, at = 0;
    iris_buf_init(&in, (size_t)256 << 20); /* many envelopes of up to 1 MiB characters */
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
      if (iris_buf_append(&in, chunk, n))
        return 2;
    while (at < iris_buf_len(&in)) {
      const char *line = iris_buf_ptr(&in) + at;
      const char *nl = memchr(line, '\n', iris_buf_len(&in) - at);
      size_t len = nl ? (size_t)(nl - line) : iris_buf_len(&in) - at;
      iris_err_clear(&err);
      if (iris_envelope_parse(line, len, &env, &err)) {
        char *c;
        for (c = err.msg; *c; c++) /* one line per envelope: a quoted kind may hold one */
          if (*c == '\n')
            *c = ' ';
        printf("error: %s\n", err.msg);
      } else {
        printf("ok %d\n", (int)env.kind);
        iris_envelope_cleanup(&env);
      }
      at += len + 1;
    }
  } else if (argc == 3 && strcmp(argv[1], "message") == 0) {
    rc = iris_envelope_encode_message(strtoll(argv[2], NULL, 10), &out) ? 2 : 0;
    puts(iris_buf_ptr(&out));
  } else if (argc == 3 && strcmp(argv[1], "tracking") == 0) {
    rc = iris_envelope_encode_tracking(strtoll(argv[2], NULL, 10), &out) ? 2 : 0;
    puts(iris_buf_ptr(&out));
  } else if (argc >= 4 && strcmp(argv[1], "batch") == 0) {
    int64_t ids[64];
    int i, n = 0;
    for (i = 3; i < argc && n < 64; i++)
      ids[n++] = strtoll(argv[i], NULL, 10);
    rc = iris_envelope_encode_batch(argv[2], ids, (size_t)n, &out) ? 2 : 0;
    puts(iris_buf_ptr(&out));
  } else {
    fprintf(stderr,
            "usage: iris-envelope parse | message ID | tracking ID | batch BATCH_ID ID...\n");
    rc = 2;
  }
  iris_buf_cleanup(&in);
  iris_buf_cleanup(&out);
  return rc;
}
