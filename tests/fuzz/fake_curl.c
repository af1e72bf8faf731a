/*
 * fake_curl.c — a libcurl stand-in for the fuzz targets: the core clients (aws, sqs, secrets,
 * oncall, runtime) and the SMTP plugin run unchanged, and every transfer they perform answers
 * with bytes taken from the fuzz input (fuzz_http_set), through the same write and header
 * callbacks libcurl would call — or, for SMTP, with a curl code and a last reply. The
 * request (URL, envelope, headers, MIME tree) is handed to the target's check first
 * (fuzz_http_set_check). Only the calls core/clients and plugins/smtp make are provided;
 * nothing touches the network.
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
  struct fuzz_transfer t;
};

/* A MIME tree as curl_mime_* build it: parts with their data, type, encoder and subparts. */
struct curl_mimepart {
  char *data, *type, *encoder;
  struct curl_mime *sub;
  struct curl_slist *headers; /* owned when own_headers */
  int own_headers;
  struct curl_mimepart *next;
};
struct curl_mime {
  struct curl_mimepart *first, *last;
};

static const struct fuzz_answer *(*next_answer)(void);
static void (*check_transfer)(const struct fuzz_transfer *);

void fuzz_http_set(const struct fuzz_answer *(*fn)(void)) { next_answer = fn; }
void fuzz_http_set_check(void (*fn)(const struct fuzz_transfer *)) { check_transfer = fn; }

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
  case CURLOPT_URL: e->t.url = va_arg(ap, const char *); break;
  case CURLOPT_MAIL_FROM: e->t.mail_from = va_arg(ap, const char *); break;
  case CURLOPT_MAIL_RCPT: e->t.rcpt = va_arg(ap, struct curl_slist *); break;
  case CURLOPT_HTTPHEADER: e->t.headers = va_arg(ap, struct curl_slist *); break;
  case CURLOPT_MIMEPOST: e->t.mime = va_arg(ap, curl_mime *); break;
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
  if (check_transfer)
    check_transfer(&e->t);
  if (!a)
    return CURLE_COULDNT_CONNECT;
  e->status = a->status;
  if (a->curl_code)
    return (CURLcode)a->curl_code;
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

/* ---- MIME (what the SMTP plugin builds its message with) -------------------------------- */

curl_mime *curl_mime_init(CURL *h) {
  (void)h;
  return calloc(1, sizeof(curl_mime));
}

void curl_mime_free(curl_mime *m) {
  struct curl_mimepart *p, *next;
  if (!m)
    return;
  for (p = m->first; p; p = next) {
    next = p->next;
    free(p->data);
    free(p->type);
    free(p->encoder);
    curl_mime_free(p->sub);
    if (p->own_headers)
      curl_slist_free_all(p->headers);
    free(p);
  }
  free(m);
}

curl_mimepart *curl_mime_addpart(curl_mime *m) {
  struct curl_mimepart *p;
  if (!m || !(p = calloc(1, sizeof *p)))
    return NULL;
  if (m->last)
    m->last->next = p;
  else
    m->first = p;
  m->last = p;
  return p;
}

static CURLcode set_text(char **field, const char *v, size_t n) {
  char *copy;
  if (n == CURL_ZERO_TERMINATED)
    n = strlen(v);
  if (!(copy = malloc(n + 1)))
    return CURLE_OUT_OF_MEMORY;
  memcpy(copy, v, n);
  copy[n] = '\0';
  free(*field);
  *field = copy;
  return CURLE_OK;
}

CURLcode curl_mime_data(curl_mimepart *p, const char *data, size_t n) {
  return p && data ? set_text(&p->data, data, n) : CURLE_BAD_FUNCTION_ARGUMENT;
}
CURLcode curl_mime_type(curl_mimepart *p, const char *type) {
  return p && type ? set_text(&p->type, type, CURL_ZERO_TERMINATED) : CURLE_BAD_FUNCTION_ARGUMENT;
}
CURLcode curl_mime_encoder(curl_mimepart *p, const char *enc) {
  return p && enc ? set_text(&p->encoder, enc, CURL_ZERO_TERMINATED) : CURLE_BAD_FUNCTION_ARGUMENT;
}
CURLcode curl_mime_subparts(curl_mimepart *p, curl_mime *sub) {
  if (!p)
    return CURLE_BAD_FUNCTION_ARGUMENT;
  curl_mime_free(p->sub);
  p->sub = sub;
  return CURLE_OK;
}
CURLcode curl_mime_headers(curl_mimepart *p, struct curl_slist *headers, int take) {
  if (!p)
    return CURLE_BAD_FUNCTION_ARGUMENT;
  if (p->own_headers)
    curl_slist_free_all(p->headers);
  p->headers = headers;
  p->own_headers = take;
  return CURLE_OK;
}

const char *fuzz_mime_data(const void *mime, const char *type_prefix) {
  const struct curl_mimepart *p;
  for (p = mime ? ((const curl_mime *)mime)->first : NULL; p; p = p->next) {
    const char *d = p->sub ? fuzz_mime_data(p->sub, type_prefix) : NULL;
    if (d)
      return d;
    if (p->type && strncmp(p->type, type_prefix, strlen(type_prefix)) == 0)
      return p->data;
  }
  return NULL;
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
