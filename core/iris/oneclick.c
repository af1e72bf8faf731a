/* oneclick.c — signed Gmail one-click claim links (see oneclick.h). */
#include "oneclick.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "url.h"

int iris_oneclick_token(const char *key, int64_t msg_id, const char *email, const char *cmd,
                        struct iris_buf *out, struct iris_err *err) {
  struct iris_buf text;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  int rc;

  iris_buf_init(&text, 0);
  if (key == NULL || key[0] == '\0') {
    rc = iris_err_set(err, IRIS_EINVAL, "oneclick: the signing key is empty");
    goto out;
  }
  if (email == NULL || cmd == NULL) {
    rc = iris_err_set(err, IRIS_EINVAL, "oneclick: email address and command are required");
    goto out;
  }
  /* The relay joins the three fields with single spaces, in this order. */
  rc = iris_buf_appendf(&text, "%" PRId64 " %s %s", msg_id, email, cmd);
  if (rc) {
    iris_err_set(err, rc, "oneclick: building the signed text");
    goto out;
  }
  if (HMAC(EVP_sha512(), key, (int)strlen(key), (const unsigned char *)iris_buf_ptr(&text),
           iris_buf_len(&text), mac, &mac_len) == NULL) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oneclick: HMAC-SHA512 failed");
    goto out;
  }
  rc = iris_base64_append(out, mac, mac_len, IRIS_B64_URL); /* Python's urlsafe_b64encode */
  if (rc)
    iris_err_set(err, rc, "oneclick: token does not fit");
out:
  iris_buf_cleanup(&text);
  return rc;
}

static int append_param(struct iris_buf *out, const char *name, const char *value, size_t n) {
  int rc = iris_buf_appends(out, name);
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(out, '=');
  if (rc == IRIS_OK)
    rc = iris_url_append_quoted(out, value, n, NULL, 1);
  return rc;
}

int iris_oneclick_url(const char *endpoint, const char *key, int64_t msg_id, const char *email,
                      struct iris_buf *out, struct iris_err *err) {
  struct iris_buf token;
  char id[24];
  int rc;

  iris_buf_init(&token, 0);
  if (endpoint == NULL ||
      (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)) {
    rc = iris_err_set(err, IRIS_EINVAL,
                      "oneclick: endpoint must be an http(s) URL (config oneclick.endpoint)");
    goto out;
  }
  rc = iris_oneclick_token(key, msg_id, email, "claim", &token, err);
  if (rc)
    goto out;
  snprintf(id, sizeof id, "%" PRId64, msg_id);
  /* Parameter order is urllib.parse.urlencode's over Iris's dict: msg_id, email, cmd, token. */
  rc = iris_buf_appends(out, endpoint);
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(out, '?');
  if (rc == IRIS_OK)
    rc = append_param(out, "msg_id", id, strlen(id));
  if (rc == IRIS_OK)
    rc = append_param(out, "&email_address", email, strlen(email));
  if (rc == IRIS_OK)
    rc = iris_buf_appends(out, "&cmd=claim");
  if (rc == IRIS_OK)
    rc = append_param(out, "&token", iris_buf_ptr(&token), iris_buf_len(&token));
  if (rc)
    iris_err_set(err, rc, "oneclick: URL does not fit");
out:
  iris_buf_cleanup(&token);
  return rc;
}

/* JSON string body, with < and > escaped so the text cannot end the <script> element. */
static int append_json_text(struct iris_buf *out, const char *s) {
  int rc = IRIS_OK;
  for (; *s && rc == IRIS_OK; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      rc = iris_buf_appendf(out, "\\%c", c);
    else if (c < 0x20 || c == '<' || c == '>')
      rc = iris_buf_appendf(out, "\\u%04x", c);
    else
      rc = iris_buf_appendc(out, (char)c);
  }
  return rc;
}

int iris_oneclick_markup(const char *endpoint, const char *key, int64_t msg_id,
                         int64_t incident_id, const char *email, struct iris_buf *out,
                         struct iris_err *err) {
  struct iris_buf url;
  int rc;

  iris_buf_init(&url, 0);
  rc = iris_oneclick_url(endpoint, key, msg_id, email, &url, err);
  if (rc)
    goto out;
  rc = iris_buf_appends(out, "\n<script type=\"application/ld+json\">\n{\n"
                             "  \"@context\": \"http://schema.org\",\n"
                             "  \"@type\": \"EmailMessage\",\n"
                             "  \"potentialAction\": {\n"
                             "    \"@type\": \"ConfirmAction\",\n"
                             "    \"name\": \"Claim\",\n"
                             "    \"handler\": {\n"
                             "      \"@type\": \"HttpActionHandler\",\n"
                             "      \"url\": \"");
  if (rc == IRIS_OK)
    rc = append_json_text(out, iris_buf_ptr(&url));
  if (rc == IRIS_OK)
    rc = iris_buf_appendf(out,
                          "\"\n    }\n  },\n  \"description\": \"Claim incident %" PRId64
                          "\"\n}\n</script>\n",
                          incident_id);
  if (rc)
    iris_err_set(err, rc, "oneclick: markup does not fit");
out:
  iris_buf_cleanup(&url);
  return rc;
}
