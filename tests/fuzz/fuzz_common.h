/*
 * fuzz_common.h — what the fuzz targets share: the answers fake_curl.c hands to the core
 * clients (and to the SMTP plugin), a reader that splits one fuzz input into several such
 * answers, and one that splits it into fields.
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
  int curl_code; /* what curl_easy_perform returns (a CURLcode; 0: CURLE_OK) */
  long status;   /* CURLINFO_RESPONSE_CODE: the HTTP status, or the last SMTP reply */
  const char *body;
  size_t body_len;
  size_t piece;                 /* deliver the body in pieces of this size (0: 4096) */
  struct fuzz_span headers[16]; /* raw header lines ("Name: value\r\n") for HEADERFUNCTION */
  size_t nheaders;
};

/* Install the source of answers for every curl_easy_perform (NULL: transport failure). */
void fuzz_http_set(const struct fuzz_answer *(*fn)(void));

/* What a transfer was asked to do, as set with curl_easy_setopt (borrowed for the call). */
struct curl_slist;
struct fuzz_transfer {
  const char *url, *mail_from;
  const struct curl_slist *rcpt, *headers; /* CURLOPT_MAIL_RCPT, CURLOPT_HTTPHEADER */
  const void *mime;                        /* CURLOPT_MIMEPOST (fake_curl.c's curl_mime) */
};

/* Call fn with every transfer before it is answered (NULL: no check). */
void fuzz_http_set_check(void (*fn)(const struct fuzz_transfer *));

/* The data of the first part of a curl_mime built with fake_curl.c, depth first, whose type
 * starts with type_prefix; NULL when there is none. */
const char *fuzz_mime_data(const void *mime, const char *type_prefix);

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
    a->curl_code = 0;
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

/* Split data into at most max fields at "\n--\n" (the last one takes the rest). Returns how
 * many; fields past the input's end are left as they were. */
static inline size_t fuzz_fields(const uint8_t *data, size_t size, struct fuzz_span *out,
                                 size_t max) {
  size_t n = 0, at = 0, i;
  while (n < max && at <= size) {
    size_t len = size - at;
    for (i = at; n + 1 < max && i + 4 <= size; i++)
      if (data[i] == '\n' && data[i + 1] == '-' && data[i + 2] == '-' && data[i + 3] == '\n') {
        len = i - at;
        break;
      }
    out[n].p = (const char *)data + at;
    out[n++].n = len;
    at += len + 4;
  }
  return n;
}

#endif /* IRIS_FUZZ_COMMON_H */
