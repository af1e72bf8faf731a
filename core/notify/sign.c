/* sign.c — Iris's application HMAC and Twilio's request signature (see sign.h). */
#include "sign.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"

static int equal_ct(const char *a, const char *b) {
  size_t n = strlen(a);
  if (n != strlen(b) || n == 0)
    return 0;
  return CRYPTO_memcmp(a, b, n) == 0;
}

int iris_sign_iris_digest(const char *key, const struct iris_sign_request *req, int64_t window,
                          struct iris_buf *out) {
  struct iris_buf text;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  int rc;
  iris_buf_init(&text, 0);
  rc = iris_buf_appendf(&text, "%" PRId64 " %s %s%s%s ", window, req->method, req->path,
                        req->query && *req->query ? "?" : "", req->query ? req->query : "");
  if (rc == IRIS_OK)
    rc = iris_buf_append(&text, req->body, req->body_len);
  if (rc == IRIS_OK && req->username)
    rc = iris_buf_appendf(&text, " %s", req->username);
  if (rc == IRIS_OK &&
      !HMAC(EVP_sha512(), key, (int)strlen(key), (const unsigned char *)iris_buf_ptr(&text),
            iris_buf_len(&text), mac, &mac_len))
    rc = IRIS_ENOMEM;
  if (rc == IRIS_OK)
    rc = iris_base64_append(out, mac, mac_len, IRIS_B64_URL);
  iris_buf_cleanup(&text);
  return rc;
}

int iris_sign_iris_check(const char *key, const struct iris_sign_request *req, int64_t now,
                         const char *digest) {
  int64_t windows[4];
  int i, ok = 0;
  if (!key || !*key || !digest)
    return 0;
  windows[0] = now / 5;
  windows[1] = now / 5 - 1;
  windows[2] = now / 30;
  windows[3] = now / 30 - 1;
  for (i = 0; i < 4; i++) {
    struct iris_buf d;
    iris_buf_init(&d, 1024);
    if (iris_sign_iris_digest(key, req, windows[i], &d) == IRIS_OK &&
        equal_ct(iris_buf_ptr(&d), digest))
      ok = 1; /* keep going: every window costs the same */
    iris_buf_cleanup(&d);
  }
  return ok;
}

void iris_sign_params_cleanup(struct iris_sign_params *p) {
  size_t i;
  if (!p)
    return;
  for (i = 0; i < p->n; i++) {
    iris_free(p->v[i].name);
    iris_free(p->v[i].value);
  }
  iris_free(p->v);
  memset(p, 0, sizeof *p);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Form-decode s[0..n) into an owned string. */
static int form_decode(const char *s, size_t n, char **out, struct iris_err *err) {
  char *d = iris_malloc(n + 1);
  size_t i, j = 0;
  if (!d)
    return iris_err_set(err, IRIS_ENOMEM, "form: parameter");
  for (i = 0; i < n; i++) {
    if (s[i] == '+') {
      d[j++] = ' ';
    } else if (s[i] == '%') {
      int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        iris_free(d);
        return iris_err_set(err, IRIS_EINVAL, "form: a malformed %%-escape or a NUL byte");
      }
      d[j++] = (char)(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '\0') {
      iris_free(d);
      return iris_err_set(err, IRIS_EINVAL, "form: a NUL byte");
    } else {
      d[j++] = s[i];
    }
  }
  d[j] = '\0';
  *out = d;
  return IRIS_OK;
}

int iris_sign_form_parse(const char *body, size_t len, size_t max_params,
                         struct iris_sign_params *out, struct iris_err *err) {
  size_t pos = 0;
  int rc = IRIS_OK;
  memset(out, 0, sizeof *out);
  while (pos < len && rc == IRIS_OK) {
    const char *amp = memchr(body + pos, '&', len - pos);
    size_t end = amp ? (size_t)(amp - body) : len, eq;
    const char *e;
    struct iris_sign_param *grown;
    if (end == pos) {
      pos = end + 1;
      continue;
    }
    if (out->n >= max_params) {
      rc = iris_err_set(err, IRIS_ETOOBIG, "form: more than %zu parameters", max_params);
      break;
    }
    e = memchr(body + pos, '=', end - pos);
    eq = e ? (size_t)(e - body) : end;
    grown = iris_realloc(out->v, (out->n + 1) * sizeof *grown);
    if (!grown) {
      rc = iris_err_set(err, IRIS_ENOMEM, "form: parameters");
      break;
    }
    out->v = grown;
    memset(&out->v[out->n], 0, sizeof out->v[out->n]);
    out->n++;
    rc = form_decode(body + pos, eq - pos, &out->v[out->n - 1].name, err);
    if (rc == IRIS_OK)
      rc = form_decode(e ? body + eq + 1 : "", e ? end - eq - 1 : 0, &out->v[out->n - 1].value,
                       err);
    pos = end + 1;
  }
  if (rc)
    iris_sign_params_cleanup(out);
  return rc;
}

const char *iris_sign_param(const struct iris_sign_params *p, const char *name) {
  size_t i;
  for (i = 0; i < p->n; i++)
    if (strcmp(p->v[i].name, name) == 0)
      return p->v[i].value;
  return NULL;
}

static int by_name_value(const void *a, const void *b) {
  const struct iris_sign_param *x = *(const struct iris_sign_param *const *)a;
  const struct iris_sign_param *y = *(const struct iris_sign_param *const *)b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

int iris_sign_twilio(const char *token, const char *url, const struct iris_sign_params *params,
                     struct iris_buf *out) {
  const struct iris_sign_param **sorted = NULL;
  struct iris_buf text;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  size_t i;
  int rc;
  iris_buf_init(&text, 0);
  if (params->n) {
    sorted = iris_calloc(params->n, sizeof *sorted);
    if (!sorted)
      return IRIS_ENOMEM;
    for (i = 0; i < params->n; i++)
      sorted[i] = &params->v[i];
    /* Twilio's helper sorts by name (code point order, which UTF-8 byte order keeps), then
     * the values of a repeated name, each distinct pair once. */
    qsort(sorted, params->n, sizeof *sorted, by_name_value);
  }
  rc = iris_buf_appends(&text, url);
  for (i = 0; i < params->n && rc == IRIS_OK; i++) {
    if (i && by_name_value(&sorted[i - 1], &sorted[i]) == 0)
      continue;
    rc = iris_buf_appendf(&text, "%s%s", sorted[i]->name, sorted[i]->value);
  }
  if (rc == IRIS_OK &&
      !HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)iris_buf_ptr(&text),
            iris_buf_len(&text), mac, &mac_len))
    rc = IRIS_ENOMEM;
  if (rc == IRIS_OK)
    rc = iris_base64_append(out, mac, mac_len, 0);
  iris_free(sorted);
  iris_buf_cleanup(&text);
  return rc;
}

int iris_sign_twilio_check(const char *token, const char *url,
                           const struct iris_sign_params *params, const char *signature) {
  struct iris_buf s;
  int ok;
  if (!token || !*token || !signature || !*signature)
    return 0;
  iris_buf_init(&s, 1024);
  ok = iris_sign_twilio(token, url, params, &s) == IRIS_OK &&
       equal_ct(iris_buf_ptr(&s), signature);
  iris_buf_cleanup(&s);
  return ok;
}
