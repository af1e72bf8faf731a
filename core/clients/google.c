/* google.c — Google APIs with OAuth 2.0 tokens: Gmail watch, FCM v1 push (see google.h). */
#include "google.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "clock.h"
#include "url.h"

#define IRIS_LOG_MODULE "google"
#include "log.h"

#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define TOKEN_LIFETIME_S 3600 /* what a service account asks for (Google's maximum) */
#define TOKEN_MARGIN_MS 60000 /* renew this long before expiry */
#define ANSWER_CAP (256 * 1024)

struct iris_google {
  struct iris_http *http; /* owned */
  int service_account;    /* else an authorised user */
  char *client_email;     /* owned; service account */
  EVP_PKEY *key;          /* owned; service account */
  char *client_id;        /* owned; authorised user */
  char *client_secret;    /* owned; authorised user */
  char *refresh_token;    /* owned; authorised user */
  char *token_uri;        /* owned */
  char *scope;            /* owned, may be NULL */
  char *subject;          /* owned, may be NULL */
  char *access_token;     /* owned; NULL until fetched */
  int64_t expires_ms;     /* wall clock */
};

/* Zero a secret before it goes back to the allocator. */
static void free_secret(char *s) {
  if (s)
    OPENSSL_cleanse(s, strlen(s));
  iris_free(s);
}

void iris_google_free(struct iris_google *g) {
  if (!g)
    return;
  iris_http_free(g->http);
  iris_free(g->client_email);
  EVP_PKEY_free(g->key);
  iris_free(g->client_id);
  free_secret(g->client_secret);
  free_secret(g->refresh_token);
  iris_free(g->token_uri);
  iris_free(g->scope);
  iris_free(g->subject);
  free_secret(g->access_token);
  iris_free(g);
}

/* A copy of the string member `name` of doc, or NULL if absent or not a string. */
static char *member(json_t *doc, const char *name) {
  const char *v = json_string_value(json_object_get(doc, name));
  return v && *v ? iris_strdup(v) : NULL;
}

/* Register a secret for redaction; short or failed registrations are not fatal (the value
 * still never reaches a log line we write ourselves). */
static void hide(const char *secret) {
  if (secret && strlen(secret) >= 4 && iris_log_add_secret(secret) != IRIS_OK)
    IRIS_LOG_WARN("could not register a credential for redaction");
}

int iris_google_new(const struct iris_google_opts *opts, struct iris_google **out,
                    struct iris_err *err) {
  struct iris_google *g = iris_calloc(1, sizeof *g);
  json_error_t jerr;
  json_t *doc = NULL;
  const char *type;
  char *pem = NULL;
  int rc = IRIS_OK;

  *out = NULL;
  if (!g)
    return iris_err_set(err, IRIS_ENOMEM, "google");
  doc = opts->credentials ? json_loads(opts->credentials, 0, &jerr) : NULL;
  type = json_string_value(json_object_get(doc, "type"));
  if (!json_is_object(doc) || !type) {
    rc = iris_err_set(err, IRIS_ECONFIG,
                      "google: the credentials are not a Google JSON key file (an object with"
                      " \"type\" service_account or authorized_user)");
    goto out;
  }
  g->token_uri = opts->token_uri ? iris_strdup(opts->token_uri) : member(doc, "token_uri");
  if (!g->token_uri)
    g->token_uri = iris_strdup(DEFAULT_TOKEN_URI);
  if (opts->scope && !(g->scope = iris_strdup(opts->scope)))
    rc = IRIS_ENOMEM;
  if (opts->subject && !(g->subject = iris_strdup(opts->subject)))
    rc = IRIS_ENOMEM;
  if (!g->token_uri || rc) {
    rc = iris_err_set(err, IRIS_ENOMEM, "google");
    goto out;
  }
  if (strcmp(type, "service_account") == 0) {
    BIO *bio;
    g->service_account = 1;
    g->client_email = member(doc, "client_email");
    pem = member(doc, "private_key");
    if (!g->client_email || !pem) {
      rc = iris_err_set(err, IRIS_ECONFIG,
                        "google: the service-account key has no client_email or private_key");
      goto out;
    }
    if (!g->scope) {
      rc = iris_err_set(err, IRIS_ECONFIG, "google: a service account needs a scope");
      goto out;
    }
    bio = BIO_new_mem_buf(pem, -1);
    g->key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!g->key || EVP_PKEY_base_id(g->key) != EVP_PKEY_RSA) {
      rc = iris_err_set(err, IRIS_ECONFIG,
                        "google: the service-account private_key is not an RSA key in PEM form");
      goto out;
    }
  } else if (strcmp(type, "authorized_user") == 0) {
    g->client_id = member(doc, "client_id");
    g->client_secret = member(doc, "client_secret");
    g->refresh_token = member(doc, "refresh_token");
    if (!g->client_id || !g->client_secret || !g->refresh_token) {
      rc = iris_err_set(err, IRIS_ECONFIG,
                        "google: the authorized_user credentials need"
                        " client_id, client_secret and refresh_token");
      goto out;
    }
    hide(g->client_secret);
    hide(g->refresh_token);
  } else {
    rc = iris_err_set(err, IRIS_ECONFIG,
                      "google: credentials of type '%.40s' are not supported (service_account"
                      " or authorized_user)",
                      type);
    goto out;
  }
  rc = iris_http_new(&opts->http, &g->http, err);
out:
  free_secret(pem);
  json_decref(doc);
  if (rc) {
    iris_google_free(g);
    return rc;
  }
  *out = g;
  return IRIS_OK;
}

/* Append base64url(JSON text of doc) without padding (a JWT segment). */
static int segment(struct iris_buf *out, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  int rc = text ? iris_base64_append(out, text, strlen(text), IRIS_B64_URL | IRIS_B64_NOPAD)
                : IRIS_ENOMEM;
  iris_free(text);
  return rc;
}

/* The signed JWT a service account presents (RFC 7523 §2.1), appended to out. */
static int jwt(struct iris_google *g, struct iris_buf *out, struct iris_err *err) {
  int64_t now = iris_clock_now_ms() / 1000;
  json_t *head = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
  json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", g->client_email, "scope",
                             g->scope, "aud", g->token_uri, "iat", (json_int_t)now, "exp",
                             (json_int_t)(now + TOKEN_LIFETIME_S));
  unsigned char *sig = NULL;
  size_t siglen = 0;
  EVP_MD_CTX *md = NULL;
  int rc = head && claims ? IRIS_OK : IRIS_ENOMEM;
  if (rc == IRIS_OK && g->subject && json_object_set_new(claims, "sub", json_string(g->subject)))
    rc = IRIS_ENOMEM;
  if (rc == IRIS_OK)
    rc = segment(out, head);
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(out, '.');
  if (rc == IRIS_OK)
    rc = segment(out, claims);
  if (rc == IRIS_OK) {
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, g->key) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)out->ptr, out->len) != 1 ||
        !(sig = iris_malloc(siglen)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->ptr, out->len) != 1)
      rc = iris_err_set(err, IRIS_EAUTH, "google: signing the token request (RS256) failed");
  }
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(out, '.');
  if (rc == IRIS_OK)
    rc = iris_base64_append(out, sig, siglen, IRIS_B64_URL | IRIS_B64_NOPAD);
  if (rc && rc != IRIS_EAUTH)
    rc = iris_err_set(err, rc, "google: building the token request");
  EVP_MD_CTX_free(md);
  iris_free(sig);
  json_decref(head);
  json_decref(claims);
  return rc;
}

/* form += name=value (form-encoded). */
static int form_field(struct iris_buf *form, const char *name, const char *value) {
  int rc = form->len ? iris_buf_appendc(form, '&') : IRIS_OK;
  if (rc == IRIS_OK)
    rc = iris_buf_appendf(form, "%s=", name);
  return rc ? rc : iris_url_append_quoted(form, value, strlen(value), NULL, 1);
}

/* Fetch an access token from token_uri. */
static int fetch_token(struct iris_google *g, struct iris_err *err) {
  static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                        "Accept: application/json"};
  struct iris_buf form, assertion, answer;
  struct iris_http_request req;
  json_t *doc = NULL;
  long status = 0;
  const char *token;
  json_int_t expires_in;
  int rc;

  iris_buf_init(&form, 64 * 1024);
  iris_buf_init(&assertion, 64 * 1024);
  iris_buf_init(&answer, ANSWER_CAP);
  if (g->service_account) {
    rc = jwt(g, &assertion, err);
    if (rc)
      goto out; /* err says why */
    rc = form_field(&form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
    if (rc == IRIS_OK)
      rc = form_field(&form, "assertion", assertion.ptr);
  } else {
    rc = form_field(&form, "grant_type", "refresh_token");
    if (rc == IRIS_OK)
      rc = form_field(&form, "client_id", g->client_id);
    if (rc == IRIS_OK)
      rc = form_field(&form, "client_secret", g->client_secret);
    if (rc == IRIS_OK)
      rc = form_field(&form, "refresh_token", g->refresh_token);
  }
  if (rc) {
    rc = iris_err_set(err, rc, "google: building the token request");
    goto out;
  }
  memset(&req, 0, sizeof req);
  req.method = "POST";
  req.url = g->token_uri;
  req.headers = headers;
  req.nheaders = sizeof headers / sizeof headers[0];
  req.body = form.ptr;
  req.body_len = form.len;
  rc = iris_http_perform(g->http, &req, &status, &answer, err);
  if (rc)
    goto out;
  doc = json_loadb(answer.ptr ? answer.ptr : "", answer.len, 0, NULL);
  token = json_string_value(json_object_get(doc, "access_token"));
  if (status != 200 || !token || !*token) {
    /* OAuth's error answer names the problem (invalid_grant, unauthorized_client, ...). */
    const char *e = json_string_value(json_object_get(doc, "error"));
    const char *d = json_string_value(json_object_get(doc, "error_description"));
    rc = iris_err_set(err, IRIS_EAUTH, "google: the token endpoint answered %ld%s%.80s%s%.200s",
                      status, e ? ": " : "", e ? e : "", d ? " — " : "", d ? d : "");
    goto out;
  }
  expires_in = json_integer_value(json_object_get(doc, "expires_in"));
  if (expires_in <= 0 || expires_in > 86400)
    expires_in = 3600; /* bounded: an answer without a sane lifetime is kept one hour */
  free_secret(g->access_token);
  g->access_token = iris_strdup(token);
  if (!g->access_token) {
    rc = iris_err_set(err, IRIS_ENOMEM, "google: token");
    goto out;
  }
  hide(g->access_token);
  g->expires_ms = iris_clock_now_ms() + (int64_t)expires_in * 1000;
out:
  json_decref(doc);
  if (form.ptr)
    OPENSSL_cleanse(form.ptr, form.len);
  iris_buf_cleanup(&form);
  iris_buf_cleanup(&assertion);
  iris_buf_cleanup(&answer);
  return rc;
}

int iris_google_post_json(struct iris_google *g, const char *url, const char *json, long *status,
                          struct iris_buf *body, struct iris_err *err) {
  int attempt, rc = IRIS_OK;
  *status = 0;
  for (attempt = 0; attempt < 2; attempt++) {
    struct iris_buf auth;
    struct iris_http_request req;
    const char *headers[3];
    if (!g->access_token || iris_clock_now_ms() > g->expires_ms - TOKEN_MARGIN_MS) {
      rc = fetch_token(g, err);
      if (rc)
        return rc;
    }
    iris_buf_init(&auth, 16 * 1024);
    rc = iris_buf_appendf(&auth, "Authorization: Bearer %s", g->access_token);
    if (rc) {
      iris_buf_cleanup(&auth);
      return iris_err_set(err, rc, "google: the access token does not fit a header");
    }
    headers[0] = auth.ptr;
    headers[1] = "Content-Type: application/json; charset=utf-8";
    headers[2] = "Accept: application/json";
    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.nheaders = 3;
    req.body = json;
    req.body_len = strlen(json);
    iris_buf_reset(body);
    rc = iris_http_perform(g->http, &req, status, body, err);
    OPENSSL_cleanse(auth.ptr, auth.len);
    iris_buf_cleanup(&auth);
    if (rc || *status != 401)
      return rc;
    /* Revoked or expired early: drop it and ask once more. */
    free_secret(g->access_token);
    g->access_token = NULL;
  }
  return rc;
}

/* Google's error answer {"error": {"code", "message", "status"}} as text, or the status. */
static int api_error(const char *what, long status, const struct iris_buf *body,
                     struct iris_err *err) {
  json_t *doc = json_loadb(body->ptr ? body->ptr : "", body->len, 0, NULL);
  json_t *e = json_object_get(doc, "error");
  const char *st = json_string_value(json_object_get(e, "status"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  int rc = iris_err_set(err, IRIS_EHTTP, "%s: HTTP %ld%s%.60s%s%.200s", what, status,
                        st ? " " : "", st ? st : "", msg ? ": " : "", msg ? msg : "");
  json_decref(doc);
  return rc;
}

int iris_gmail_watch(struct iris_google *g, const char *api, const char *user, const char *topic,
                     int64_t *history_id, int64_t *expiration_ms, struct iris_err *err) {
  struct iris_buf url, answer;
  json_t *req = json_pack("{s:s, s:[s, s], s:s}", "topicName", topic, "labelIds", "INBOX",
                          "UNREAD", "labelFilterBehavior", "include");
  json_t *doc = NULL;
  char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
  long status = 0;
  int rc = text ? IRIS_OK : IRIS_ENOMEM;

  *history_id = *expiration_ms = 0;
  iris_buf_init(&url, 4096);
  iris_buf_init(&answer, ANSWER_CAP);
  if (rc == IRIS_OK)
    rc = iris_buf_appendf(&url, "%s/gmail/v1/users/", api ? api : "https://gmail.googleapis.com");
  if (rc == IRIS_OK)
    rc = iris_url_append_quoted(&url, user ? user : "me", strlen(user ? user : "me"), "@", 0);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&url, "/watch");
  if (rc) {
    rc = iris_err_set(err, rc, "gmail: building the request");
    goto out;
  }
  rc = iris_google_post_json(g, url.ptr, text, &status, &answer, err);
  if (rc)
    goto out;
  if (status != 200) {
    rc = api_error("gmail: users.watch", status, &answer, err);
    goto out;
  }
  doc = json_loadb(answer.ptr ? answer.ptr : "", answer.len, 0, NULL);
  {
    /* Gmail writes both as decimal strings (int64 in JSON). */
    const char *h = json_string_value(json_object_get(doc, "historyId"));
    const char *x = json_string_value(json_object_get(doc, "expiration"));
    char *end1 = NULL, *end2 = NULL;
    long long hv = h ? strtoll(h, &end1, 10) : -1, xv = x ? strtoll(x, &end2, 10) : -1;
    if (!h || !x || *end1 || *end2 || hv < 0 || xv <= 0) {
      rc = iris_err_set(err, IRIS_EPARSE,
                        "gmail: users.watch answered without a historyId"
                        " and an expiration");
      goto out;
    }
    *history_id = hv;
    *expiration_ms = xv;
  }
out:
  json_decref(req);
  json_decref(doc);
  iris_free(text);
  iris_buf_cleanup(&url);
  iris_buf_cleanup(&answer);
  return rc;
}

int iris_fcm_send(struct iris_google *g, const char *api, const char *project,
                  const struct iris_fcm_push *p, struct iris_err *err) {
  struct iris_buf url, answer;
  char incident[24];
  json_t *msg = NULL, *doc = NULL;
  char *text = NULL;
  long status = 0;
  int rc = IRIS_OK;

  snprintf(incident, sizeof incident, "%" PRId64, p->incident_id);
  if (p->platform && strcmp(p->platform, "ios") == 0)
    msg = json_pack("{s:{s:s, s:{s:s, s:s}, s:{s:s}, s:{s:{s:{s:{s:s, s:s}, s:s, s:s}}}}}",
                    "message", "token", p->token, "notification", "title",
                    p->title ? p->title : "", "body", p->body ? p->body : "", "data",
                    "incident_id", incident, "apns", "payload", "aps", "alert", "title",
                    p->title ? p->title : "", "body", p->body ? p->body : "", "sound", "default",
                    "category", "incident");
  else
    msg = json_pack("{s:{s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s}}}", "message", "token", p->token,
                    "data", "incident_id", incident, "title", p->title ? p->title : "", "message",
                    p->body ? p->body : "", "actions",
                    "[{\"title\":\"Claim\",\"callback\":\"claimIncident\",\"foreground\":true}]",
                    "android", "ttl", "0s");
  if (msg && p->ttl_s > 0) {
    json_t *android = json_object_get(json_object_get(msg, "message"), "android");
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%" PRId64 "s", p->ttl_s);
    if (android && json_object_set_new(android, "ttl", json_string(ttl)))
      rc = IRIS_ENOMEM;
  }
  text = msg && rc == IRIS_OK ? json_dumps(msg, JSON_COMPACT) : NULL;
  iris_buf_init(&url, 4096);
  iris_buf_init(&answer, ANSWER_CAP);
  if (!text) {
    rc = iris_err_set(err, IRIS_ENOMEM, "fcm: building the message");
    goto out;
  }
  rc = iris_buf_appendf(&url, "%s/v1/projects/", api ? api : "https://fcm.googleapis.com");
  if (rc == IRIS_OK)
    rc = iris_url_append_quoted(&url, project, strlen(project), NULL, 0);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&url, "/messages:send");
  if (rc) {
    rc = iris_err_set(err, rc, "fcm: building the URL");
    goto out;
  }
  rc = iris_google_post_json(g, url.ptr, text, &status, &answer, err);
  if (rc || status == 200)
    goto out;
  doc = json_loadb(answer.ptr ? answer.ptr : "", answer.len, 0, NULL);
  {
    /* FCM's error detail: UNREGISTERED (404) means the app forgot the token. */
    json_t *details = json_object_get(json_object_get(doc, "error"), "details");
    size_t i;
    int gone = 0;
    for (i = 0; i < json_array_size(details); i++) {
      const char *code = json_string_value(
          json_object_get(json_array_get(details, i), "errorCode"));
      gone |= code && strcmp(code, "UNREGISTERED") == 0;
    }
    rc = api_error("fcm: messages.send", status, &answer, err);
    if (gone)
      rc = iris_err_set(err, IRIS_ENOTFOUND, "fcm: the device token is no longer registered");
  }
out:
  json_decref(msg);
  json_decref(doc);
  iris_free(text);
  iris_buf_cleanup(&url);
  iris_buf_cleanup(&answer);
  return rc;
}
