/*
 * fuzz_common.h — what the fuzz targets share: the answers fake_curl.c hands to the core
 * clients, and a reader that splits one fuzz input into several such answers.
 *
 * Input layout for the HTTP targets: the first byte picks the status (fuzz_status), the
 * second the piece size the body is delivered in, the rest is the body; "\n--\n" separates
 * the answers of consecutive transfers (retries, pages), so one input can script a sequence.
 */
#ifndef IRIS_FUZZ_COMMON_H
#define IRIS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_span {
  const char *p;
  size_t n;
};

struct fuzz_answer {
  long status;
  const char *body;
  size_t body_len;
  size_t piece;                 /* deliver the body in pieces of this size (0: 4096) */
  struct fuzz_span headers[16]; /* raw header lines ("Name: value\r\n") for HEADERFUNCTION */
  size_t nheaders;
};

/* Install the source of answers for every curl_easy_perform (NULL: transport failure). */
void fuzz_http_set(const struct fuzz_answer *(*fn)(void));

/* A status among those the clients treat differently. */
static inline long fuzz_status(unsigned char b) {
  static const long s[] = {200, 200, 200, 200, 400, 401, 403, 404,
                           413, 422, 429, 500, 502, 503, 302, 0};
  return s[b % (sizeof s / sizeof s[0])];
}

/* Split data into at most max answers (see the layout above). Returns how many. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, struct fuzz_answer *out,
                                size_t max) {
  size_t n = 0, at = 0;
  while (n < max && at <= size) {
    const uint8_t *start = data + at;
    size_t left = size - at, len = left, i;
    struct fuzz_answer *a = &out[n++];
    for (i = 0; i + 4 <= left; i++)
      if (start[i] == '\n' && start[i + 1] == '-' && start[i + 2] == '-' && start[i + 3] == '\n') {
        len = i;
        break;
      }
    a->status = len ? fuzz_status(start[0]) : 200;
    a->piece = len > 1 ? (size_t)start[1] + 1 : 0;
    a->body = (const char *)start + (len > 2 ? 2 : len);
    a->body_len = len > 2 ? len - 2 : 0;
    a->nheaders = 0;
    if (len == left)
      break;
    at += len + 4;
  }
  return n;
}

#endif /* IRIS_FUZZ_COMMON_H */
