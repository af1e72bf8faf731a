/*
 * fake_curl.c — a libcurl stand-in for the fuzz targets: the core clients (aws, sqs, secrets,
 * oncall, runtime) run unchanged, and every transfer they perform answers with bytes taken
 * from the fuzz input (fuzz_http_next), through the same write and header callbacks libcurl
 * would call. Only the calls core/clients makes are provided; nothing touches the network.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

struct fake_easy {
  curl_write_callback write_fn;
  void *write_data;
  curl_write_callback header_fn;
  void *header_data;
  long status;
};

static const struct fuzz_answer *(*next_answer)(void);

void fuzz_http_set(const struct fuzz_answer *(*fn)(void)) { next_answer = fn; }

CURL *curl_easy_init(void) { return calloc(1, sizeof(struct fake_easy)); }
void curl_easy_cleanup(CURL *h) { free(h); }
void curl_easy_reset(CURL *h) { memset(h, 0, sizeof(struct fake_easy)); }

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...) {
  struct fake_easy *e = h;
  va_list ap;
  va_start(ap, opt);
  switch (opt) {
  case CURLOPT_WRITEFUNCTION: e->write_fn = va_arg(ap, curl_write_callback); break;
  case CURLOPT_WRITEDATA: e->write_data = va_arg(ap, void *); break;
  case CURLOPT_HEADERFUNCTION: e->header_fn = va_arg(ap, curl_write_callback); break;
  case CURLOPT_HEADERDATA: e->header_data = va_arg(ap, void *); break;
  default: break;
  }
  va_end(ap);
  return CURLE_OK;
}

/* Hand `n` bytes to a callback in pieces, as a network would. */
static int feed(curl_write_callback fn, void *data, const char *p, size_t n, size_t piece) {
  while (n) {
    size_t k = n < piece ? n : piece;
    /* libcurl hands out writable memory; so do we */
    char *copy = malloc(k ? k : 1);
    size_t got;
    if (!copy)
      return -1;
    memcpy(copy, p, k);
    got = fn(copy, 1, k, data);
    free(copy);
    if (got != k)
      return -1;
    p += k;
    n -= k;
  }
  return 0;
}

CURLcode curl_easy_perform(CURL *h) {
  struct fake_easy *e = h;
  const struct fuzz_answer *a = next_answer ? next_answer() : NULL;
  size_t i;
  if (!a)
    return CURLE_COULDNT_CONNECT;
  e->status = a->status;
  for (i = 0; i < a->nheaders && e->header_fn; i++)
    if (feed(e->header_fn, e->header_data, a->headers[i].p, a->headers[i].n, a->headers[i].n + 1))
      return CURLE_WRITE_ERROR;
  if (e->write_fn &&
      feed(e->write_fn, e->write_data, a->body, a->body_len, a->piece ? a->piece : 4096))
    return CURLE_WRITE_ERROR;
  return CURLE_OK;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...) {
  struct fake_easy *e = h;
  va_list ap;
  va_start(ap, info);
  if (info == CURLINFO_RESPONSE_CODE)
    *va_arg(ap, long *) = e->status;
  va_end(ap);
  return CURLE_OK;
}

const char *curl_easy_strerror(CURLcode c) {
  return c == CURLE_OK ? "ok" : "fake transfer failed";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s) {
  struct curl_slist *n = calloc(1, sizeof *n), *t;
  if (!n)
    return NULL;
  n->data = strdup(s);
  if (!n->data) {
    free(n);
    return NULL;
  }
  if (!l)
    return n;
  for (t = l; t->next; t = t->next)
    ;
  t->next = n;
  return l;
}

void curl_slist_free_all(struct curl_slist *l) {
  while (l) {
    struct curl_slist *n = l->next;
    free(l->data);
    free(l);
    l = n;
  }
}

CURLcode curl_global_init(long flags) {
  (void)flags;
  return CURLE_OK;
}
void curl_global_cleanup(void) {}
