/* oncall.c — role lookups through LinkedIn Oncall's HTTP API (see oncall.h). */
#include "oncall.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "clock.h"
#include "http.h"
#include "url.h"

#define IRIS_LOG_MODULE "oncall"
#include "log.h"
#include "utf8.h"

#define DEFAULT_TIMEOUT_MS 10000L
#define SNIPPET_BYTES 120

struct entry {
  char *url;    /* what was asked: "oncall" and "oncall-primary" share one entry */
  char **names; /* sorted, unique */
  size_t n;
  int64_t at_ms; /* when Oncall gave it (wall clock) */
};

struct iris_oncall {
  char *api;        /* base URL without a trailing '/' */
  size_t prefix_at; /* offset in api where its path prefix begins ("" if none) */
  char *app, *key;  /* NULL when requests go unsigned */
  long timeout_ms;
  int64_t ttl_ms;
  struct iris_metrics *metrics; /* borrowed */
  struct iris_http *http;       /* reused so the connection to Oncall stays warm */
  iris_oncall_perform_fn perform;
  void *perform_data;
  struct entry *cache; /* oldest first */
  size_t ncache, cache_cap;
};

enum shape { SHAPE_ROSTERS, SHAPE_EVENTS };

/* ---- small helpers ---------------------------------------------------------------------- */

static void free_names(char **names, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    iris_free(names[i]);
  iris_free(names);
}

static void entry_cleanup(struct entry *e) {
  iris_free(e->url);
  free_names(e->names, e->n);
  memset(e, 0, sizeof *e);
}

static void drop_entry(struct iris_oncall *o, size_t i) {
  entry_cleanup(&o->cache[i]);
  memmove(&o->cache[i], &o->cache[i + 1], (o->ncache - i - 1) * sizeof *o->cache);
  o->ncache--;
}

static void count(struct iris_oncall *o, const char *name) {
  if (o->metrics)
    (void)iris_metrics_put(o->metrics, name, 1, IRIS_METRIC_COUNT, NULL);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first bytes of an answer, printable and redacted, for an error message. */
static void snippet(const struct iris_buf *body, char *out, size_t size) {
  char raw[SNIPPET_BYTES + 4];
  const char *p = iris_buf_ptr(body);
  size_t i, n = iris_buf_len(body) < SNIPPET_BYTES ? iris_buf_len(body) : SNIPPET_BYTES;
  char *safe;
  for (i = 0; i < n; i++)
    raw[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
  raw[n] = '\0';
  if (iris_buf_len(body) > n)
    memcpy(raw + n, "...", 4);
  safe = iris_log_redact(raw);
  snprintf(out, size, "%s", safe ? safe : "(answer withheld: out of memory)");
  iris_free(safe);
}

/* ---- authentication --------------------------------------------------------------------- */

int iris_oncall_auth_header(const char *app, const char *key, int64_t unix_s, const char *method,
                            const char *path, const char *body, struct iris_buf *out,
                            struct iris_err *err) {
  struct iris_buf text;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  int64_t window;
  int rc;

  iris_buf_init(&text, 0);
  if (!app || !app[0] || !key || !key[0]) {
    rc = iris_err_set(err, IRIS_EINVAL, "oncall: signing needs an application name and a key");
    goto out;
  }
  /* Python's floor division: the window of a (theoretical) negative time rounds down. */
  window = unix_s >= 0 ? unix_s / 5 : -((-unix_s + 4) / 5);
  rc = iris_buf_appendf(&text, "%" PRId64 " %s %s %s", window, method ? method : "GET",
                        path ? path : "/", body ? body : "");
  if (rc) {
    iris_err_set(err, rc, "oncall: building the signed text");
    goto out;
  }
  if (HMAC(EVP_sha512(), key, (int)strlen(key), (const unsigned char *)iris_buf_ptr(&text),
           iris_buf_len(&text), mac, &mac_len) == NULL) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oncall: HMAC-SHA512 failed");
    goto out;
  }
  rc = iris_buf_appendf(out, "hmac %s:", app);
  if (rc == IRIS_OK)
    rc = iris_base64_append(out, mac, mac_len, IRIS_B64_URL); /* '=' padding kept */
  if (rc)
    iris_err_set(err, rc, "oncall: Authorization header does not fit");
out:
  iris_buf_cleanup(&text);
  return rc;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static int http_perform(void *data, const char *url, const char *authorization, long timeout_ms,
                        long *status, struct iris_buf *body, struct iris_err *err) {
  struct iris_oncall *o = data;
  struct iris_http_request req = {0};
  struct iris_err hx = {0};
  const char *headers[2];
  char *line = NULL;
  int rc;

  *status = 0;
  headers[0] = "Accept: application/json";
  headers[1] = NULL;
  if (authorization) {
    line = iris_asprintf("Authorization: %s", authorization);
    if (!line)
      return iris_err_set(err, IRIS_ENOMEM, "oncall: GET %s: building the request headers", url);
    headers[1] = line;
  }
  req.method = "GET";
  req.url = url;
  req.headers = headers;
  req.nheaders = 2;
  req.timeout_ms = timeout_ms;
  rc = iris_http_perform(o->http, &req, status, body, &hx);
  /* A connection broken mid-answer is a connection failure to Oncall's callers. */
  if (rc)
    rc = iris_err_set(err, rc == IRIS_EIO ? IRIS_ECONN : rc, "oncall: %s", hx.msg);
  if (line)
    OPENSSL_cleanse(line, strlen(line));
  iris_free(line);
  return rc;
}

/* ---- answers ---------------------------------------------------------------------------- */

struct names {
  char **v;
  size_t n, cap;
};

static int add_name(struct names *ns, const char *name) {
  if (ns->n == ns->cap) {
    size_t cap = ns->cap ? ns->cap * 2 : 16;
    char **v = iris_realloc(ns->v, cap * sizeof *v);
    if (!v)
      return IRIS_ENOMEM;
    ns->v = v;
    ns->cap = cap;
  }
  ns->v[ns->n] = iris_strdup(name);
  if (!ns->v[ns->n])
    return IRIS_ENOMEM;
  ns->n++;
  return IRIS_OK;
}

/* {roster: {"users": [{"name": ...}, ...], ...}, ...}: every user of every roster. */
static int parse_rosters(json_t *doc, const char *url, struct names *ns, struct iris_err *err) {
  const char *roster;
  json_t *r, *users, *u, *name;
  size_t i;
  int rc = IRIS_OK;

  json_object_foreach(doc, roster, r) {
    users = json_is_object(r) ? json_object_get(r, "users") : NULL;
    if (!json_is_array(users))
      return iris_err_set(err, IRIS_EPARSE,
                          "oncall: GET %s: roster \"%.*s\" has no \"users\" array", url,
                          iris_utf8_prec(roster, 60), roster);
    json_array_foreach(users, i, u) {
      name = json_is_object(u) ? json_object_get(u, "name") : NULL;
      if (!json_is_string(name))
        return iris_err_set(err, IRIS_EPARSE,
                            "oncall: GET %s: user %zu of roster \"%.*s\" has no string \"name\"",
                            url, i, iris_utf8_prec(roster, 60), roster);
      rc = add_name(ns, json_string_value(name));
      if (rc)
        return iris_err_set(err, rc, "oncall: GET %s: collecting names", url);
    }
  }
  return rc;
}

/* [{"user": name, ...}, ...]: the people holding the shift now. */
static int parse_events(json_t *doc, const char *url, struct names *ns, struct iris_err *err) {
  json_t *ev, *user;
  size_t i;
  int rc = IRIS_OK;

  json_array_foreach(doc, i, ev) {
    user = json_is_object(ev) ? json_object_get(ev, "user") : NULL;
    if (!json_is_string(user))
      return iris_err_set(err, IRIS_EPARSE, "oncall: GET %s: event %zu has no string \"user\"",
                          url, i);
    rc = add_name(ns, json_string_value(user));
    if (rc)
      return iris_err_set(err, rc, "oncall: GET %s: collecting names", url);
  }
  return rc;
}

/* Turn one HTTP answer into names (sorted, unique); IRIS_ENOTFOUND for "nobody". */
static int read_answer(long status, const struct iris_buf *body, enum shape shape, const char *url,
                       struct names *ns, struct iris_err *err) {
  char snip[SNIPPET_BYTES + 64];
  json_error_t jerr;
  json_t *doc = NULL;
  size_t i, k;
  int rc = IRIS_OK;

  if (status != 200) {
    snippet(body, snip, sizeof snip);
    if (status == 422) {
      /* Oncall's answer for a team it does not know: a misconfigured plan. */
      IRIS_LOG_WARN("GET %s: 422, no such team in Oncall (a misconfigured plan?)", url);
      rc = iris_err_set(err, IRIS_ENOTFOUND, "oncall: GET %s: HTTP 422, no such team: %s", url,
                        snip);
    } else {
      rc = iris_err_set(err, (status == 401 || status == 403) ? IRIS_EAUTH : IRIS_EHTTP,
                        "oncall: GET %s: HTTP %ld: %s", url, status, snip);
    }
    goto out;
  }
  doc = json_loadb(iris_buf_ptr(body), iris_buf_len(body), 0, &jerr);
  /* jansson reports most allocation failures by code; one that strikes before parsing starts
   * leaves the error text empty, which no syntax error does. */
  if (!doc && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0')) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oncall: GET %s: parsing the answer", url);
    goto out;
  }
  if (!doc) {
    snippet(body, snip, sizeof snip);
    rc = iris_err_set(err, IRIS_EPARSE,
                      "oncall: GET %s: the answer is not JSON (line %d column %d: %s): %s", url,
                      jerr.line, jerr.column, jerr.text, snip);
    goto out;
  }
  if (shape == SHAPE_ROSTERS ? !json_is_object(doc) : !json_is_array(doc)) {
    snippet(body, snip, sizeof snip);
    rc = iris_err_set(err, IRIS_EPARSE, "oncall: GET %s: expected a JSON %s, got: %s", url,
                      shape == SHAPE_ROSTERS ? "object of rosters" : "array of events", snip);
    goto out;
  }
  /* Iris reads an empty document as "nobody" (its role lookup returns None). */
  if ((shape == SHAPE_ROSTERS ? json_object_size(doc) : json_array_size(doc)) == 0) {
    rc = iris_err_set(err, IRIS_ENOTFOUND, "oncall: GET %s: nobody (empty answer)", url);
    goto out;
  }
  rc = shape == SHAPE_ROSTERS ? parse_rosters(doc, url, ns, err) : parse_events(doc, url, ns, err);
  if (rc)
    goto out;
  if (ns->n)
    qsort(ns->v, ns->n, sizeof *ns->v, cmp_names);
  for (i = k = 0; i < ns->n; i++) {
    if (k && strcmp(ns->v[k - 1], ns->v[i]) == 0)
      iris_free(ns->v[i]);
    else
      ns->v[k++] = ns->v[i];
  }
  ns->n = k;
out:
  json_decref(doc);
  return rc;
}

/* ---- the client ------------------------------------------------------------------------- */

int iris_oncall_serves_role(const char *role) {
  if (!role)
    return 0;
  return strcmp(role, "team") == 0 || strcmp(role, "manager") == 0 ||
         strcmp(role, "director") == 0 || strcmp(role, "oncall") == 0 ||
         (strncmp(role, "oncall-", 7) == 0 && role[7] != '\0');
}

void iris_oncall_free(struct iris_oncall *o) {
  if (!o)
    return;
  while (o->ncache)
    drop_entry(o, o->ncache - 1);
  iris_free(o->cache);
  iris_http_free(o->http);
  iris_free(o->api);
  iris_free(o->app);
  if (o->key)
    OPENSSL_cleanse(o->key, strlen(o->key));
  iris_free(o->key);
  iris_free(o);
}

int iris_oncall_new(const struct iris_oncall_opts *opts, struct iris_oncall **out,
                    struct iris_err *err) {
  struct iris_oncall *o = NULL;
  const char *host, *slash, *c;
  int has_app, has_key, rc = IRIS_OK;
  size_t len;

  *out = NULL;
  if (!opts || !opts->api ||
      (strncmp(opts->api, "http://", 7) != 0 && strncmp(opts->api, "https://", 8) != 0))
    return iris_err_set(err, IRIS_EINVAL, "oncall: api must be an http(s) URL, got \"%.*s\"",
                        iris_utf8_prec(opts ? opts->api : NULL, 80),
                        opts && opts->api ? opts->api : "");
  host = strstr(opts->api, "://") + 3;
  if (*host == '\0' || *host == '/')
    return iris_err_set(err, IRIS_EINVAL, "oncall: api \"%.*s\" names no host",
                        iris_utf8_prec(opts->api, 80), opts->api);
  has_app = opts->app && opts->app[0];
  has_key = opts->key && opts->key[0];
  if (has_app != has_key)
    return iris_err_set(err, IRIS_EINVAL,
                        "oncall: application auth needs both app and key "
                        "(only the %s is set)",
                        has_app ? "app" : "key");
  /* Oncall splits the header at the first ':'; a control character would end the header. */
  for (c = has_app ? opts->app : ""; *c; c++)
    if (*c == ':' || (unsigned char)*c < 0x20 || *c == 0x7f)
      return iris_err_set(err, IRIS_EINVAL,
                          "oncall: app name must not contain ':' or control characters");
  if (opts->timeout_ms < 0 || opts->cache_seconds < 0)
    return iris_err_set(err, IRIS_EINVAL, "oncall: timeout and cache time must not be negative");
  o = iris_calloc(1, sizeof *o);
  if (!o)
    return iris_err_set(err, IRIS_ENOMEM, "oncall: allocating the client");
  o->api = iris_strdup(opts->api);
  o->app = has_app ? iris_strdup(opts->app) : NULL;
  o->key = has_key ? iris_strdup(opts->key) : NULL;
  if (!o->api || (has_app && !o->app) || (has_key && !o->key)) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oncall: allocating the client");
    goto out;
  }
  {
    struct iris_http_opts hopts = {0};
    hopts.connect_timeout_ms = 5000;
    hopts.timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    hopts.user_agent = "iris-serverless-sender role lookup";
    rc = iris_http_new(&hopts, &o->http, err);
    if (rc) {
      iris_err_prefix(err, "oncall");
      goto out;
    }
  }
  /* A key given inline (not as a secret reference) must stay out of the logs as well. */
  if (has_key && iris_log_add_secret(o->key) == IRIS_ENOMEM) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oncall: registering the key for redaction");
    goto out;
  }
  len = strlen(o->api);
  while (len && o->api[len - 1] == '/')
    o->api[--len] = '\0';
  slash = strchr(o->api + (host - opts->api), '/');
  o->prefix_at = slash ? (size_t)(slash - o->api) : len;
  o->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  o->ttl_ms = (int64_t)opts->cache_seconds * 1000;
  o->metrics = opts->metrics;
  o->perform = http_perform;
  o->perform_data = o;
  *out = o;
  o = NULL;
out:
  iris_oncall_free(o);
  return rc;
}

void iris_oncall_set_perform(struct iris_oncall *o, iris_oncall_perform_fn fn, void *data) {
  o->perform = fn ? fn : http_perform;
  o->perform_data = fn ? data : o;
}

/* Forget answers older than the cache time (and any from a clock that went backwards). */
static void prune(struct iris_oncall *o, int64_t now) {
  size_t i = 0;
  while (i < o->ncache) {
    int64_t age = now - o->cache[i].at_ms;
    if (age < 0 || age >= o->ttl_ms)
      drop_entry(o, i);
    else
      i++;
  }
}

/* Append the endpoint below /api/v0 for (role, team): encoded for the URL, or as Oncall sees
 * it in PATH_INFO (decoded) for the signature. */
static int append_endpoint(struct iris_buf *b, const char *role, const char *team, int encode) {
  const char *sub = strcmp(role, "team") == 0       ? NULL
                    : strcmp(role, "manager") == 0  ? "manager"
                    : strcmp(role, "director") == 0 ? "director"
                    : strcmp(role, "oncall") == 0   ? "primary"
                                                    : role + 7;
  int rc = iris_buf_appends(b, "/api/v0/teams/");
  if (rc == IRIS_OK)
    rc = encode ? iris_url_append_quoted(b, team, strlen(team), NULL, 0)
                : iris_buf_appends(b, team);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(b, sub ? "/oncall/" : "/rosters");
  if (rc == IRIS_OK && sub)
    rc = encode ? iris_url_append_quoted(b, sub, strlen(sub), NULL, 0) : iris_buf_appends(b, sub);
  return rc;
}

int iris_oncall_get(struct iris_oncall *o, const char *role, const char *team,
                    const char *const **names, size_t *n, struct iris_err *err) {
  struct iris_buf url, path, auth, body;
  struct names ns = {0};
  struct entry *e;
  enum shape shape;
  int64_t now, t0;
  long status = 0;
  size_t i;
  int rc;

  *names = NULL;
  *n = 0;
  iris_buf_init(&url, 0);
  iris_buf_init(&path, 0);
  iris_buf_init(&auth, 0);
  iris_buf_init(&body, IRIS_ONCALL_MAX_BODY);
  if (!iris_oncall_serves_role(role)) {
    rc = iris_err_set(err, IRIS_EINVAL, "oncall: role '%s' is not one Oncall answers",
                      role ? role : "");
    goto out;
  }
  if (!team || !team[0]) {
    rc = iris_err_set(err, IRIS_EINVAL, "oncall: role %s needs a team name", role);
    goto out;
  }
  shape = strcmp(role, "team") == 0 ? SHAPE_ROSTERS : SHAPE_EVENTS;
  rc = iris_buf_appends(&url, o->api);
  if (rc == IRIS_OK)
    rc = append_endpoint(&url, role, team, 1);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&path, o->api + o->prefix_at);
  if (rc == IRIS_OK)
    rc = append_endpoint(&path, role, team, 0);
  if (rc) {
    iris_err_set(err, rc, "oncall: building the URL for %s of team \"%.*s\"", role,
                 iris_utf8_prec(team, 60), team);
    goto out;
  }
  now = iris_clock_now_ms();
  prune(o, now);
  for (i = 0; i < o->ncache; i++) {
    if (strcmp(o->cache[i].url, iris_buf_ptr(&url)) == 0) {
      count(o, "oncall_cache_hits");
      *names = (const char *const *)o->cache[i].names;
      *n = o->cache[i].n;
      goto out;
    }
  }
  if (o->app) {
    rc = iris_oncall_auth_header(o->app, o->key, now / 1000, "GET", iris_buf_ptr(&path), NULL,
                                 &auth, err);
    if (rc)
      goto out;
  }
  count(o, "oncall_requests");
  t0 = iris_clock_mono_ms();
  rc = o->perform(o->perform_data, iris_buf_ptr(&url), o->app ? iris_buf_ptr(&auth) : NULL,
                  o->timeout_ms, &status, &body, err);
  IRIS_LOG_DEBUG("GET %s: %s %ld in %" PRId64 " ms", iris_buf_ptr(&url),
                 rc ? iris_rc_name(rc) : "HTTP", status, iris_clock_mono_ms() - t0);
  if (rc == IRIS_OK)
    rc = read_answer(status, &body, shape, iris_buf_ptr(&url), &ns, err);
  if (rc)
    goto out;
  if (o->ncache == IRIS_ONCALL_CACHE_MAX)
    drop_entry(o, 0); /* the oldest: entries are appended in time order */
  if (o->ncache == o->cache_cap) {
    size_t cap = o->cache_cap ? o->cache_cap * 2 : 16;
    e = iris_realloc(o->cache, cap * sizeof *o->cache);
    if (!e) {
      rc = iris_err_set(err, IRIS_ENOMEM, "oncall: caching the answer");
      goto out;
    }
    o->cache = e;
    o->cache_cap = cap;
  }
  e = &o->cache[o->ncache];
  memset(e, 0, sizeof *e);
  e->url = iris_strdup(iris_buf_ptr(&url));
  if (!e->url) {
    rc = iris_err_set(err, IRIS_ENOMEM, "oncall: caching the answer");
    goto out;
  }
  e->names = ns.v;
  e->n = ns.n;
  e->at_ms = now;
  ns.v = NULL;
  ns.n = 0;
  o->ncache++;
  *names = (const char *const *)e->names;
  *n = e->n;
out:
  if (rc && rc != IRIS_ENOTFOUND)
    count(o, "oncall_errors");
  free_names(ns.v, ns.n);
  iris_buf_cleanup(&body);
  iris_buf_cleanup(&auth);
  iris_buf_cleanup(&path);
  iris_buf_cleanup(&url);
  return rc;
}
