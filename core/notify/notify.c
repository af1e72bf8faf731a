/* notify.c — the notify function's routes (see notify.h and docs/api-integration.md). */
#include "notify.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "apigw.h"
#include "clock.h"
#include "contract.h"
#include "quota.h"
#include "recipients.h"
#include "sign.h"

#define IRIS_LOG_MODULE "notify"
#include "log.h"

#define MAX_IDEMPOTENCY_KEY 128
#define MAX_FORM_PARAMS 100
#define REPLAY_KEEP_SECONDS 120

struct iris_notify {
  struct iris_app *app;   /* borrowed */
  const char *queue_url;  /* queues.notifications, borrowed from cfg */
  const char *public_url; /* notify.public_url, borrowed, may be NULL */
  int64_t max_body, max_targets, max_unrolled_users;
  int64_t keep_days;                /* notify.keep_days: requests older than this are pruned */
  int64_t hard_limit, hard_minutes; /* quota.* defaults, as the sender reads them */
  char **twilio_tokens;             /* owned, ntokens of them */
  size_t ntokens;
};

/* An application row (owned strings). */
struct app_row {
  int64_t id;
  char *name, *key, *key2;
  int64_t allow_users;
};

static void app_row_cleanup(struct app_row *a) {
  iris_free(a->name);
  iris_free(a->key);
  iris_free(a->key2);
  memset(a, 0, sizeof *a);
}

void iris_notify_answer_cleanup(struct iris_notify_answer *a) {
  if (!a)
    return;
  iris_free(a->body);
  iris_free(a->notification_id);
  memset(a, 0, sizeof *a);
}

/* ---- set-up ------------------------------------------------------------------------------ */

/* Collect the auth tokens of the twilio entries of one vendors.<mode> list. A token given as
 * a "secretsmanager:<id>" reference was resolved when the configuration was loaded. */
static int twilio_tokens(struct iris_notify *n, const char *mode, struct iris_err *err) {
  char path[32];
  json_t *list, *e;
  size_t i;
  snprintf(path, sizeof path, "vendors.%s", mode);
  list = iris_config_json(n->app->cfg, path);
  json_array_foreach(list, i, e) {
    const char *plugin = json_string_value(json_object_get(e, "plugin"));
    const char *tok = json_string_value(
        json_object_get(json_object_get(e, "config"), "auth_token"));
    char *copy, **grown;
    if (!plugin || strcmp(plugin, "twilio") != 0 || !tok || !*tok)
      continue;
    copy = iris_strdup(tok);
    grown = copy ? iris_realloc(n->twilio_tokens, (n->ntokens + 1) * sizeof *grown) : NULL;
    if (!grown) {
      iris_free(copy);
      return iris_err_set(err, IRIS_ENOMEM, "notify: twilio tokens");
    }
    n->twilio_tokens = grown;
    n->twilio_tokens[n->ntokens++] = copy;
  }
  return IRIS_OK;
}

int iris_notify_new(struct iris_app *app, struct iris_notify **out, struct iris_err *err) {
  struct iris_notify *n = iris_calloc(1, sizeof *n);
  int rc;
  *out = NULL;
  if (!n)
    return iris_err_set(err, IRIS_ENOMEM, "notify: handle");
  n->app = app;
  rc = iris_config_get_str(app->cfg, "queues.notifications", &n->queue_url, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "notify.public_url", NULL, &n->public_url, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "notify.max_body_bytes", IRIS_NOTIFY_DEFAULT_MAX_BODY, 1024,
                            (int64_t)IRIS_SQS_MAX_BODY, &n->max_body, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "notify.max_targets", IRIS_NOTIFY_DEFAULT_MAX_TARGETS, 1,
                            1000, &n->max_targets, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "notify.keep_days", 14, 1, 3650, &n->keep_days, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "ldap_lists.max_unrolled_users", 0, 0, 1000000000,
                            &n->max_unrolled_users, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.hard_limit", 6000, 1, 100000000, &n->hard_limit, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.hard_minutes", 1, 1, 10080, &n->hard_minutes, err);
  if (rc == IRIS_OK && !app->db)
    rc = iris_err_set(err, IRIS_ECONFIG, "notify: needs the database");
  if (rc == IRIS_OK && !app->sqs)
    rc = iris_err_set(err, IRIS_ECONFIG, "notify: needs SQS");
  if (rc == IRIS_OK)
    rc = twilio_tokens(n, "sms", err);
  if (rc == IRIS_OK)
    rc = twilio_tokens(n, "call", err);
  if (rc) {
    iris_notify_free(n);
    return rc;
  }
  *out = n;
  return IRIS_OK;
}

void iris_notify_free(struct iris_notify *n) {
  size_t i;
  if (!n)
    return;
  for (i = 0; i < n->ntokens; i++) {
    OPENSSL_cleanse(n->twilio_tokens[i], strlen(n->twilio_tokens[i]));
    iris_free(n->twilio_tokens[i]);
  }
  iris_free(n->twilio_tokens);
  iris_free(n);
}

/* ---- answers ----------------------------------------------------------------------------- */

/* Falcon's error document as the answer. IRIS_ENOMEM only. */
static int answer_error(struct iris_notify_answer *a, int status, const char *title,
                        const char *description) {
  json_t *doc = json_pack("{s:s}", "title", title);
  if (doc && description) {
    /* a parser's message may quote bytes of the request that are not UTF-8 */
    json_t *d = json_string(description);
    json_object_set_new(doc, "description", d ? d : json_string("(not valid UTF-8)"));
  }
  iris_free(a->body);
  a->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  a->status = status;
  json_decref(doc);
  return a->body ? IRIS_OK : IRIS_ENOMEM;
}

/* Our own failure: logged with its cause, answered without it (it may name internals). */
static int answer_internal(struct iris_notify_answer *a, const struct iris_err *cause,
                           const char *what) {
  IRIS_LOG_ERR("%s: %s", what, cause->msg);
  if (cause->rc == IRIS_ENOMEM)
    return IRIS_ENOMEM;
  return answer_error(a, 503, "Service Unavailable", what);
}

/* SQS (or the database marking what SQS took) failed: Iris's answer when no sender could
 * be reached. The targets stay recorded; a retry with the same Idempotency-Key sends them. */
static int answer_unqueued(struct iris_notify_answer *a, const struct iris_err *cause) {
  IRIS_LOG_ERR("Failed reaching any senders: %s", cause->msg);
  if (cause->rc == IRIS_ENOMEM)
    return IRIS_ENOMEM;
  return answer_error(a, 500, "Failed reaching any senders", NULL);
}

/* ---- lookups ----------------------------------------------------------------------------- */

static int app_lookup(struct iris_db *db, const char *name, struct app_row *a,
                      struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(name)};
  int rc;
  memset(a, 0, sizeof *a);
  rc = iris_db_query_one(db, IRIS_DB_IDEMPOTENT,
                         "SELECT id, name, `key`, secondary_key, allow_authenticating_users"
                         " FROM application WHERE name = ?",
                         p, 1, &rows, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 0, &a->id, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_strdup(rows, 1, &a->name, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_strdup(rows, 2, &a->key, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_strdup(rows, 3, &a->key2, err);
  if (rc == IRIS_OK)
    rc = iris_db_is_null(rows, 4) ? IRIS_OK : iris_db_get_i64(rows, 4, &a->allow_users, err);
  iris_db_rows_free(rows);
  if (rc)
    app_row_cleanup(a);
  return rc;
}

/* *found = 1 when the row named by a (and b, when nparams is 2) exists; a NULL name (the
 * request gave no string) exists nowhere and costs no query. */
static int exists(struct iris_db *db, const char *sql, const char *a, const char *b,
                  size_t nparams, int *found, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(a), IRIS_DB_STR(b)};
  int64_t v = 0;
  int rc;
  *found = 0;
  if (!a || (nparams == 2 && !b))
    return IRIS_OK;
  rc = iris_db_query_i64(db, IRIS_DB_IDEMPOTENT, sql, p, nparams, &v, err);
  *found = rc == IRIS_OK;
  return rc == IRIS_ENOTFOUND ? IRIS_OK : rc;
}

/* ---- POST /v0/notifications ---------------------------------------------------------------- */

/* The request after Iris's checks. */
struct checked {
  json_t *targets;     /* owned: [{"role","target","reason"?}] in request order */
  const char *how_key; /* "priority", "mode" or "category" (borrowed, static) */
  const char *how;     /* borrowed from the request */
  size_t queued;       /* targets without a reason */
};

static const char *strv(json_t *doc, const char *k) {
  return json_string_value(json_object_get(doc, k));
}

/* A field's value for an error description: the string, or "must be a string". */
static const char *shown(json_t *doc, const char *k) {
  const char *s = strv(doc, k);
  return s ? s : "must be a string";
}

/*
 * Iris's checks of the body, in Iris's order (Notifications.on_post, then the sender's
 * handle_api_notification_request). IRIS_OK with a->status 0 when the request is good (c
 * filled), or with the answer set; other codes are database failures.
 */
static int check_request(struct iris_notify *n, const struct app_row *app, json_t *doc,
                         struct checked *c, struct iris_notify_answer *a, struct iris_err *err) {
  struct iris_db *db = n->app->db;
  int has_t = json_object_get(doc, "target") != NULL, has_r = json_object_get(doc, "role") != NULL,
      has_s = json_object_get(doc, "subject") != NULL, found = 0, rc;
  json_t *list = json_object_get(doc, "target_list"), *ctx;
  size_t i;

  memset(c, 0, sizeof *c);
  if (!(has_t && has_r && has_s)) {
    if (!list) {
      char missing[64] = "";
      snprintf(missing, sizeof missing, "%s%s%s%s%s", has_t ? "" : "target",
               !has_t && !has_r ? ", " : "", has_r ? "" : "role",
               (!has_t || !has_r) && !has_s ? ", " : "", has_s ? "" : "subject");
      return answer_error(a, 400, "Missing required atrributes", missing);
    }
    if (!has_s)
      return answer_error(a, 400, "Missing required atrributes: subject", NULL);
  }
  c->targets = json_array();
  if (!c->targets)
    return IRIS_ENOMEM;
  if (list) {
    json_t *t;
    if (!json_is_array(list))
      return answer_error(a, 400, "Malformed target list", NULL);
    json_array_foreach(list, i, t) {
      if (!json_is_object(t) || !json_object_get(t, "role") || !json_object_get(t, "target"))
        return answer_error(a, 400, "Malformed target list", NULL);
      if (!json_is_string(json_object_get(t, "role")) ||
          !json_is_string(json_object_get(t, "target")))
        return answer_error(a, 400, "Malformed target list", "role and target must be strings");
    }
    if ((int64_t)json_array_size(list) > n->max_targets) {
      char d[96];
      snprintf(d, sizeof d, "a target_list holds at most %" PRId64 " targets", n->max_targets);
      return answer_error(a, 400, "Too many targets", d);
    }
    if (!json_object_get(doc, "mode"))
      return answer_error(a, 400, "Contact mode required for target list", NULL);
    /* Iris takes multi-recipient notifications by email only. */
    if (!strv(doc, "mode") || strcmp(strv(doc, "mode"), "email") != 0)
      return answer_error(a, 400, "Invalid mode", shown(doc, "mode"));
    rc = exists(db, "SELECT id FROM mode WHERE name = ?", "email", NULL, 1, &found, err);
    if (rc)
      return rc;
    if (!found)
      return answer_error(a, 400, "Invalid mode", "email");
    c->how_key = "mode";
    c->how = "email";
    json_array_foreach(list, i, t) {
      if (json_array_append_new(c->targets,
                                json_pack("{s:O, s:O}", "role", json_object_get(t, "role"),
                                          "target", json_object_get(t, "target"))))
        return IRIS_ENOMEM;
    }
  } else {
    const char *role = strv(doc, "role");
    /* Priority overrides mode, and mode category, as in Iris. */
    if (json_object_get(doc, "priority")) {
      rc = exists(db, "SELECT id FROM priority WHERE name = ?", strv(doc, "priority"), NULL, 1,
                  &found, err);
      if (rc == IRIS_OK && !found)
        return answer_error(a, 400, "Invalid priority", shown(doc, "priority"));
      c->how_key = "priority";
    } else if (json_object_get(doc, "mode")) {
      rc = exists(db, "SELECT id FROM mode WHERE name = ?", strv(doc, "mode"), NULL, 1, &found,
                  err);
      if (rc == IRIS_OK && !found)
        return answer_error(a, 400, "Invalid mode", shown(doc, "mode"));
      c->how_key = "mode";
    } else if (json_object_get(doc, "category")) {
      rc = exists(db,
                  "SELECT nc.id FROM notification_category nc JOIN application a"
                  " ON a.id = nc.application_id WHERE a.name = ? AND nc.name = ?",
                  app->name, strv(doc, "category"), 2, &found, err);
      if (rc)
        return rc;
      if (!found) {
        char d[320];
        snprintf(d, sizeof d, "No category named %.255s exists for this app",
                 shown(doc, "category"));
        return answer_error(a, 400, d, NULL);
      }
      c->how_key = "category";
    } else {
      return answer_error(a, 400,
                          "Priority, mode, and category are missing, at least one is required",
                          NULL);
    }
    if (rc)
      return rc;
    c->how = strv(doc, c->how_key);
    if (!role || !strv(doc, "target"))
      return answer_error(a, 400, "Invalid request", "role and target must be strings");
    if (strcmp(role, "literal_target") == 0) {
      if (!json_object_get(doc, "mode"))
        return answer_error(a, 400, "INVALID mode not set for literal_target role", NULL);
      if (json_object_get(doc, "priority") || json_object_get(doc, "category"))
        return answer_error(a, 400,
                            "INVALID role literal_target does not support priority or category",
                            NULL);
    }
    if (json_array_append_new(c->targets,
                              json_pack("{s:O, s:O}", "role", json_object_get(doc, "role"),
                                        "target", json_object_get(doc, "target"))))
      return IRIS_ENOMEM;
  }
  if (json_object_get(doc, "template")) {
    if (!json_is_string(json_object_get(doc, "template")))
      return answer_error(a, 400, "template needs to be a string", NULL);
  } else if (json_object_get(doc, "body")) {
    if (!json_is_string(json_object_get(doc, "body")))
      return answer_error(a, 400, "body needs to be a string", NULL);
  } else if (json_object_get(doc, "email_html")) {
    if (!json_is_string(json_object_get(doc, "email_html")))
      return answer_error(a, 400, "email_html needs to be a string", NULL);
  } else {
    return answer_error(a, 400,
                        "body, template, and email_html are missing, so we cannot construct message.",
                        NULL);
  }
  /* What Iris's sender refused before answering (rpc.py). */
  ctx = json_object_get(doc, "context");
  if (json_object_get(doc, "template") && !json_is_object(ctx))
    return answer_error(a, 400, "Request rejected by sender", "INVALID context");
  return IRIS_OK;
}

/*
 * Iris's sender refused a role:target nobody could be found for; for a target_list it skips
 * those and delivers to the rest. Marks each bad target with its reason.
 */
static int check_targets(struct iris_notify *n, struct checked *c, struct iris_notify_answer *a,
                         struct iris_err *err) {
  json_t *t;
  size_t i;
  json_array_foreach(c->targets, i, t) {
    const char *role = strv(t, "role"), *target = strv(t, "target");
    struct iris_recipients who = {0};
    struct iris_recipients_opts ro = {n->app->oncall, n->max_unrolled_users};
    struct iris_err xerr = {0};
    int rc;
    if (strlen(role) > 64 || strlen(target) > 255) {
      json_object_set_new(t, "reason", json_string("role or target too long (64 / 255 bytes)"));
      continue;
    }
    if (strcmp(role, "literal_target") == 0) {
      c->queued++;
      continue;
    }
    rc = iris_recipients_expand(n->app->db, &ro, role, target, &who, &xerr);
    if (rc == IRIS_OK && who.n == 0)
      rc = IRIS_ENOTFOUND;
    iris_recipients_cleanup(&who);
    if (rc == IRIS_ENOTFOUND || rc == IRIS_EINVAL || rc == IRIS_EUNSUPPORTED) {
      char reason[600];
      snprintf(reason, sizeof reason, "INVALID role:target: %s",
               rc == IRIS_OK ? "nobody" : xerr.msg);
      json_object_set_new(t, "reason", json_string(reason));
      continue;
    }
    if (rc) {
      *err = xerr;
      return rc;
    }
    c->queued++;
  }
  if (!c->queued)
    return answer_error(a, 400, "Request rejected by sender", "INVALID role:target");
  return IRIS_OK;
}

/* The application's hard quota, read without counting: the sender counts what it sends. A
 * request that would go over it has its targets dropped, as Iris's sender dropped them. */
static int check_quota(struct iris_notify *n, const struct app_row *app, struct checked *c,
                       struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(app->id)};
  int64_t limit = n->hard_limit, minutes = n->hard_minutes, used = 0;
  json_t *t;
  size_t i;
  int rc = iris_db_query(n->app->db, IRIS_DB_IDEMPOTENT,
                         "SELECT hard_quota_threshold, hard_quota_duration FROM application_quota"
                         " WHERE application_id = ?",
                         p, 1, &rows, err);
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    int64_t secs = 60;
    rc = iris_db_get_i64(rows, 0, &limit, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &secs, err);
    minutes = secs / 60 > 0 ? secs / 60 : 1; /* seconds used as whole minutes, as Iris */
  }
  iris_db_rows_free(rows);
  if (rc == IRIS_OK)
    rc = iris_quota_counter_sum(n->app->db, IRIS_QUOTA_SCOPE_APPLICATION, app->id, 0, minutes,
                                &used, err);
  if (rc || used + (int64_t)c->queued <= limit)
    return rc;
  json_array_foreach(c->targets, i, t) {
    char reason[200];
    if (json_object_get(t, "reason"))
      continue;
    snprintf(reason, sizeof reason,
             "application quota: %" PRId64 " messages in the last %" PRId64
             " minute(s), hard limit %" PRId64,
             used, minutes, limit);
    json_object_set_new(t, "reason", json_string(reason));
  }
  c->queued = 0;
  return IRIS_OK;
}

static int mint_uuid(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1)
    return IRIS_EIO;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
  return IRIS_OK;
}

static void sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0, i;
  EVP_Digest(p, n, d, &len, EVP_sha256(), NULL);
  for (i = 0; i < len && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
  out[64] = '\0';
}

/* One target's envelope: only whitelisted fields travel. *text owned by the caller. The
 * contract's own parser checks it, so a bound the sender would refuse is refused here. */
static int build_envelope(const char *eid, const char *application, const struct checked *c,
                          json_t *doc, json_t *t, char **text, struct iris_err *err) {
  static const char *const copied[] = {"subject", "body",       "template",
                                       "context", "email_html", NULL};
  json_t *env = json_pack("{s:i, s:s, s:s, s:s, s:O, s:O, s:s}", "v", IRIS_CONTRACT_VERSION,
                          "kind", "notification", "notification_id", eid, "application",
                          application, "role", json_object_get(t, "role"), "target",
                          json_object_get(t, "target"), c->how_key, c->how);
  struct iris_envelope parsed;
  size_t i;
  int rc;
  *text = NULL;
  if (!env)
    return iris_err_set(err, IRIS_ENOMEM, "notify: envelope");
  for (i = 0; copied[i]; i++) {
    json_t *v = json_object_get(doc, copied[i]);
    if (v && !json_is_null(v))
      json_object_set(env, copied[i], v);
  }
  *text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(env);
  if (!*text)
    return iris_err_set(err, IRIS_ENOMEM, "notify: envelope");
  rc = iris_envelope_parse(*text, strlen(*text), &parsed, err);
  iris_envelope_cleanup(&parsed);
  if (rc == IRIS_OK && strlen(*text) > IRIS_SQS_MAX_BODY)
    rc = iris_err_set(err, IRIS_ETOOBIG, "envelope: over the %zu bytes of an SQS message",
                      IRIS_SQS_MAX_BODY);
  if (rc) {
    iris_free(*text);
    *text = NULL;
  }
  return rc;
}

/* Hand every target of `id` not yet on the queue to SQS, marking each as it is accepted. */
static int enqueue_pending(struct iris_notify *n, const char *id, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(id)};
  int rc = iris_db_query(n->app->db, 0,
                         "SELECT idx, envelope FROM notify_target WHERE request_id = ?"
                         " AND state = 'queued' AND enqueued = 0 ORDER BY idx",
                         p, 1, &rows, err);
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    int64_t idx = 0;
    const char *body = NULL;
    struct iris_sqs_out m = {0};
    rc = iris_db_get_i64(rows, 0, &idx, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 1, &body, NULL, err);
    if (rc)
      break;
    m.body = body;
    rc = iris_sqs_send(n->app->sqs, n->queue_url, &m, NULL, err);
    if (rc == IRIS_OK) {
      struct iris_db_param q[] = {IRIS_DB_STR(id), IRIS_DB_I64(idx)};
      rc = iris_db_exec(n->app->db, IRIS_DB_IDEMPOTENT,
                        "UPDATE notify_target SET enqueued = 1, envelope = NULL"
                        " WHERE request_id = ? AND idx = ?",
                        q, 2, NULL, err);
    }
  }
  iris_db_rows_free(rows);
  return rc == IRIS_DB_ROW ? IRIS_OK : rc;
}

/* The accepted answer: Iris's "[]" and the id. */
static int answer_accepted(struct iris_notify_answer *a, const char *id) {
  iris_free(a->body);
  iris_free(a->notification_id);
  a->status = 200;
  a->body = iris_strdup("[]");
  a->notification_id = iris_strdup(id);
  return a->body && a->notification_id ? IRIS_OK : IRIS_ENOMEM;
}

/* An earlier request with this key: its answer again (and any target still to enqueue). */
static int find_retry(struct iris_notify *n, const struct app_row *app, const char *key,
                      const char *sha, struct iris_notify_answer *a, int *found,
                      struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(app->id), IRIS_DB_STR(key)};
  char *id = NULL;
  const char *first_sha = NULL;
  int rc;
  *found = 0;
  rc = iris_db_query_one(n->app->db, IRIS_DB_IDEMPOTENT,
                         "SELECT id, request_sha256 FROM notify_request"
                         " WHERE application_id = ? AND idempotency_key = ?",
                         p, 2, &rows, err);
  if (rc == IRIS_ENOTFOUND)
    return IRIS_OK;
  if (rc == IRIS_OK)
    rc = iris_db_get_strdup(rows, 0, &id, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_str(rows, 1, &first_sha, NULL, err);
  if (rc == IRIS_OK) {
    *found = 1;
    if (strcmp(first_sha, sha) != 0) {
      rc = answer_error(a, 409, "Idempotency-Key reused",
                        "this key was used for a different request body");
    } else {
      rc = enqueue_pending(n, id, err);
      if (rc)
        rc = answer_unqueued(a, err);
      else
        rc = answer_accepted(a, id);
    }
  }
  iris_db_rows_free(rows);
  iris_free(id);
  return rc;
}

/* Record the request and its targets in one transaction. */
static int record_request(struct iris_notify *n, const struct app_row *app, const char *id,
                          const char *key, const char *sha, const struct checked *c, json_t *doc,
                          struct iris_err *err) {
  json_t *t;
  size_t i;
  int rc = iris_db_begin(n->app->db, err);
  if (rc == IRIS_OK) {
    struct iris_db_param p[] = {IRIS_DB_STR(id), IRIS_DB_I64(app->id),
                                key ? IRIS_DB_STR(key) : IRIS_DB_NULL, IRIS_DB_STR(sha),
                                IRIS_DB_I64((int64_t)json_array_size(c->targets))};
    rc = iris_db_exec(n->app->db, 0,
                      "INSERT INTO notify_request (id, application_id, idempotency_key,"
                      " request_sha256, targets) VALUES (?, ?, ?, ?, ?)",
                      p, 5, NULL, err);
  }
  json_array_foreach(c->targets, i, t) {
    char eid[64], *env = NULL;
    const char *reason = strv(t, "reason");
    if (rc)
      break;
    if (json_array_size(c->targets) == 1)
      snprintf(eid, sizeof eid, "%s", id);
    else
      snprintf(eid, sizeof eid, "%s.%zu", id, i);
    if (!reason)
      rc = build_envelope(eid, app->name, c, doc, t, &env, err);
    if (rc == IRIS_OK) {
      struct iris_db_param p[] = {IRIS_DB_STR(id),
                                  IRIS_DB_I64((int64_t)i),
                                  IRIS_DB_STR(eid),
                                  IRIS_DB_STR(strv(t, "role")),
                                  IRIS_DB_STR(strv(t, "target")),
                                  IRIS_DB_STR(reason ? "dropped" : "queued"),
                                  IRIS_DB_STR(reason),
                                  IRIS_DB_STR(env)};
      rc = iris_db_exec(n->app->db, 0,
                        "INSERT INTO notify_target (request_id, idx, envelope_id, role, target,"
                        " state, reason, envelope) VALUES (?, ?, ?, LEFT(?, 64), LEFT(?, 255), ?,"
                        " LEFT(?, 1024), ?)",
                        p, 8, NULL, err);
    }
    iris_free(env);
  }
  if (rc == IRIS_OK)
    rc = iris_db_commit(n->app->db, err);
  if (rc && iris_db_in_transaction(n->app->db))
    iris_db_rollback(n->app->db, NULL);
  return rc;
}

static int submit(struct iris_notify *n, const struct app_row *app, const char *key,
                  const char *body, size_t len, struct iris_notify_answer *a,
                  struct iris_err *err) {
  json_error_t jerr;
  json_t *doc = NULL;
  struct checked c = {0};
  char sha[65], id[37];
  int rc = IRIS_OK, found = 0;

  if ((int64_t)len > n->max_body) {
    char d[96];
    snprintf(d, sizeof d, "the body is over %" PRId64 " bytes", n->max_body);
    return answer_error(a, 413, "Request body too large", d);
  }
  if (key && (strlen(key) == 0 || strlen(key) > MAX_IDEMPOTENCY_KEY ||
              strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
                  strlen(key)))
    return answer_error(a, 400, "Invalid Idempotency-Key",
                        "1-128 characters of letters, digits and - _ . :");
  doc = json_loadb(body, len, 0, &jerr);
  if (!doc) {
    char d[200];
    snprintf(d, sizeof d, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return answer_error(a, 400, "Invalid JSON", d);
  }
  if (!json_is_object(doc)) {
    rc = answer_error(a, 400, "Invalid request", "the body must be a JSON object");
    goto out;
  }
  sha256_hex(body, len, sha);
  if (key) {
    rc = find_retry(n, app, key, sha, a, &found, err);
    if (rc || found)
      goto out;
  }
  rc = check_request(n, app, doc, &c, a, err);
  if (rc == IRIS_OK && !a->status)
    rc = check_targets(n, &c, a, err);
  if (rc == IRIS_OK && !a->status)
    rc = check_quota(n, app, &c, err);
  if (rc || a->status)
    goto out;
  rc = mint_uuid(id);
  if (rc == IRIS_OK)
    rc = record_request(n, app, id, key, sha, &c, doc, err);
  if (rc == IRIS_EINVAL || rc == IRIS_ETOOBIG) {
    /* the contract refused an envelope: a bound the sender keeps */
    rc = answer_error(a, 400, "Invalid request", err->msg);
    goto out;
  }
  if (rc == IRIS_EDUPLICATE && key) {
    /* a concurrent retry recorded it first */
    rc = find_retry(n, app, key, sha, a, &found, err);
    goto out;
  }
  if (rc) {
    rc = answer_internal(a, err, "Failed recording the notification");
    goto out;
  }
  rc = enqueue_pending(n, id, err);
  if (rc) {
    rc = answer_unqueued(a, err);
    goto out;
  }
  IRIS_LOG_INFO("notification %s from %s: %zu target(s) queued, %zu dropped", id, app->name,
                c.queued, json_array_size(c.targets) - c.queued);
  rc = answer_accepted(a, id);
out:
  if (rc && rc != IRIS_ENOMEM)
    rc = answer_internal(a, err, "Failed checking the notification");
  json_decref(c.targets);
  json_decref(doc);
  return rc;
}

/* ---- GET /v0/notifications/{id} ---------------------------------------------------------- */

/* The sender's view of one envelope: its notification row and each recipient's claim. */
static int target_status(struct iris_notify *n, json_t *t, const char *eid, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(eid)};
  json_t *recips = json_array();
  int rc, any = 0, sent = 0, moving = 0, failed = 0, dropped = 0;
  if (!recips)
    return IRIS_ENOMEM;
  rc = iris_db_query(n->app->db, IRIS_DB_IDEMPOTENT,
                     "SELECT state, last_error FROM sender_notification WHERE id = ?", p, 1, &rows,
                     err);
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    const char *st = NULL, *why = NULL;
    rc = iris_db_get_str(rows, 0, &st, NULL, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 1))
      rc = iris_db_get_str(rows, 1, &why, NULL, err);
    if (rc == IRIS_OK && strcmp(st, "rejected") == 0) {
      json_object_set_new(t, "state", json_string("refused"));
      json_object_set_new(t, "reason", json_string(why ? why : "refused by the sender"));
      iris_db_rows_free(rows);
      json_decref(recips);
      return IRIS_OK;
    }
  }
  iris_db_rows_free(rows);
  rows = NULL;
  if (rc == IRIS_OK)
    rc = iris_db_query(n->app->db, IRIS_DB_IDEMPOTENT,
                       "SELECT state, final, mode, vendor, UNIX_TIMESTAMP(updated_at), last_error"
                       " FROM sender_claim WHERE notification_id = ? ORDER BY created_at, claim_key",
                       p, 1, &rows, err);
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *st = NULL, *mode = NULL, *vendor = NULL, *why = NULL, *when = NULL;
    int64_t final = 0;
    const char *shown_state;
    json_t *r;
    rc = iris_db_get_str(rows, 0, &st, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &final, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 2))
      rc = iris_db_get_str(rows, 2, &mode, NULL, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 3))
      rc = iris_db_get_str(rows, 3, &vendor, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 4, &when, NULL, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 5))
      rc = iris_db_get_str(rows, 5, &why, NULL, err);
    if (rc)
      break;
    any = 1;
    if (strcmp(st, "sent") == 0) {
      shown_state = "sent";
      sent++;
    } else if (strcmp(st, "suppressed") == 0) {
      shown_state = "dropped";
      dropped++;
    } else if (strcmp(st, "failed") == 0 && final) {
      shown_state = "failed";
      failed++;
    } else {
      shown_state = "sending";
      moving++;
    }
    r = json_pack("{s:s}", "state", shown_state);
    if (!r) {
      rc = IRIS_ENOMEM;
      break;
    }
    if (mode)
      json_object_set_new(r, "mode", json_string(mode));
    if (vendor && strcmp(shown_state, "sent") == 0)
      json_object_set_new(r, "vendor", json_string(vendor));
    if (strcmp(shown_state, "sent") == 0)
      json_object_set_new(r, "time", json_real(strtod(when, NULL)));
    if (why && strcmp(shown_state, "sent") != 0)
      json_object_set_new(r, "reason", json_string(why));
    json_array_append_new(recips, r);
  }
  iris_db_rows_free(rows);
  if (rc == IRIS_DB_ROW)
    rc = IRIS_OK;
  if (rc) {
    json_decref(recips);
    return rc;
  }
  json_object_set_new(t, "state",
                      json_string(!any                          ? "queued"
                                  : moving                      ? "sending"
                                  : sent && !failed && !dropped ? "sent"
                                  : failed                      ? "failed"
                                  : sent                        ? "sent"
                                                                : "dropped"));
  json_object_set_new(t, "recipients", recips);
  return IRIS_OK;
}

static int status_of(struct iris_notify *n, const struct app_row *app, const char *id,
                     struct iris_notify_answer *a, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(id), IRIS_DB_I64(app->id)};
  json_t *doc = NULL, *targets = NULL;
  int64_t created = 0;
  int rc;
  if (strlen(id) > 36)
    return answer_error(a, 404, "404 Not Found", NULL);
  rc = iris_db_query(n->app->db, IRIS_DB_IDEMPOTENT,
                     "SELECT t.idx, t.envelope_id, t.role, t.target, t.state, t.enqueued, t.reason,"
                     " r.created_at FROM notify_request r JOIN notify_target t ON t.request_id = r.id"
                     " WHERE r.id = ? AND r.application_id = ? ORDER BY t.idx",
                     p, 2, &rows, err);
  if (rc == IRIS_OK && iris_db_rows_count(rows) == 0) {
    iris_db_rows_free(rows);
    return answer_error(a, 404, "404 Not Found", NULL);
  }
  targets = json_array();
  if (!targets)
    rc = IRIS_ENOMEM;
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *eid = NULL, *role = NULL, *target = NULL, *state = NULL, *why = NULL;
    int64_t enqueued = 0;
    json_t *t;
    rc = iris_db_get_str(rows, 1, &eid, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 2, &role, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 3, &target, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 4, &state, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 5, &enqueued, err);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 6))
      rc = iris_db_get_str(rows, 6, &why, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_time(rows, 7, &created, err);
    if (rc)
      break;
    t = json_pack("{s:s, s:s}", "role", role, "target", target);
    if (!t) {
      rc = IRIS_ENOMEM;
      break;
    }
    json_array_append_new(targets, t);
    if (strcmp(state, "dropped") == 0) {
      json_object_set_new(t, "state", json_string("dropped"));
      json_object_set_new(t, "reason", json_string(why ? why : ""));
    } else if (!enqueued) {
      json_object_set_new(t, "state", json_string("not_enqueued"));
      json_object_set_new(t, "reason",
                          json_string("SQS did not take it yet; retry the POST with"
                                      " its Idempotency-Key"));
    } else {
      rc = target_status(n, t, eid, err);
    }
  }
  iris_db_rows_free(rows);
  if (rc == IRIS_DB_ROW)
    rc = IRIS_OK;
  if (rc == IRIS_OK) {
    doc = json_pack("{s:s, s:I, s:o}", "id", id, "created", (json_int_t)created, "targets",
                    targets);
    targets = NULL;
    a->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    a->notification_id = iris_strdup(id);
    a->status = 200;
    if (!a->body || !a->notification_id)
      rc = IRIS_ENOMEM;
  }
  json_decref(targets);
  json_decref(doc);
  if (rc && rc != IRIS_ENOMEM)
    rc = answer_internal(a, err, "Failed reading the notification");
  return rc;
}

/* ---- the library calls ------------------------------------------------------------------- */

static int with_app(struct iris_notify *n, const char *application, struct app_row *app,
                    struct iris_notify_answer *a, int *ok, struct iris_err *err) {
  int rc = app_lookup(n->app->db, application ? application : "", app, err);
  *ok = rc == IRIS_OK;
  if (rc == IRIS_ENOTFOUND)
    return answer_error(a, 401, "Authentication failure", "Application not found");
  return rc ? answer_internal(a, err, "Failed reading the application") : IRIS_OK;
}

int iris_notify_submit(struct iris_notify *n, const char *application, const char *idempotency_key,
                       const char *body, size_t len, struct iris_notify_answer *out,
                       struct iris_err *err) {
  struct app_row app;
  int ok = 0, rc;
  memset(out, 0, sizeof *out);
  rc = with_app(n, application, &app, out, &ok, err);
  if (rc == IRIS_OK && ok)
    rc = submit(n, &app, idempotency_key, body, len, out, err);
  app_row_cleanup(&app);
  return rc;
}

int iris_notify_status(struct iris_notify *n, const char *application, const char *id,
                       struct iris_notify_answer *out, struct iris_err *err) {
  struct app_row app;
  int ok = 0, rc;
  memset(out, 0, sizeof *out);
  rc = with_app(n, application, &app, out, &ok, err);
  if (rc == IRIS_OK && ok)
    rc = status_of(n, &app, id, out, err);
  app_row_cleanup(&app);
  return rc;
}

/* ---- HTTP: authentication ------------------------------------------------------------------ */

/*
 * Iris's AuthMiddleware for a request: IRIS_OK with *app filled when the HMAC holds, or with
 * the 401 answer set (a->status).
 */
static int authenticate(struct iris_notify *n, const struct iris_apigw_request *req,
                        struct app_row *app, struct iris_notify_answer *a, struct iris_err *err) {
  const char *auth = iris_apigw_header(req, "authorization");
  const char *user = iris_apigw_header(req, "x-iris-username"), *colon;
  struct iris_sign_request sr = {req->method, req->path,     req->query,
                                 req->body,   req->body_len, user};
  char name[256];
  int rc;
  if (!auth || strncmp(auth, "hmac ", 5) != 0)
    return answer_error(a, 401, "Authentication failure",
                        "Malformed/missing HMAC authorization header");
  colon = strchr(auth + 5, ':');
  if (!colon || (size_t)(colon - (auth + 5)) >= sizeof name)
    return answer_error(a, 401, "Authentication failure", "");
  memcpy(name, auth + 5, (size_t)(colon - (auth + 5)));
  name[colon - (auth + 5)] = '\0';
  rc = app_lookup(n->app->db, name, app, err);
  if (rc == IRIS_ENOTFOUND)
    return answer_error(a, 401, "Authentication failure", "");
  if (rc)
    return answer_internal(a, err, "Failed reading the application");
  if (user && !app->allow_users)
    return answer_error(a, 401,
                        "This application does not have the power to authenticate usernames", "");
  {
    int64_t now = iris_clock_now_ms() / 1000;
    if (!iris_sign_iris_check(app->key, &sr, now, colon + 1) &&
        !iris_sign_iris_check(app->key2, &sr, now, colon + 1)) {
      IRIS_LOG_WARN("HMAC does not validate for application %s", app->name);
      return answer_error(a, 401, "Authentication failure",
                          "HMAC failed validation. Check API key/clock skew");
    }
  }
  return IRIS_OK;
}

/*
 * Refuse a POST whose signature was already used (a captured request replayed inside Iris's
 * window). Signatures are remembered for REPLAY_KEEP_SECONDS, longer than any window.
 */
static int check_replay(struct iris_notify *n, const struct iris_apigw_request *req,
                        const struct app_row *app, struct iris_notify_answer *a,
                        struct iris_err *err) {
  const char *digest = strchr(iris_apigw_header(req, "authorization"), ':') + 1;
  char digest_sha[65];
  int rc;
  sha256_hex(digest, strlen(digest), digest_sha);
  {
    /* Housekeeping rides on the POSTs, a bounded slice each: expired signatures, and
     * requests (with their targets) older than notify.keep_days — their ids are no longer
     * looked up and their Idempotency-Keys no longer honoured. */
    struct iris_db_param p[] = {IRIS_DB_I64(REPLAY_KEEP_SECONDS)};
    struct iris_db_param q[] = {IRIS_DB_I64(n->keep_days)};
    rc = iris_db_exec(n->app->db, IRIS_DB_IDEMPOTENT,
                      "DELETE FROM notify_signature WHERE seen_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
                      p, 1, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(n->app->db, IRIS_DB_IDEMPOTENT,
                        "DELETE FROM notify_request WHERE created_at < UTC_TIMESTAMP(3) - INTERVAL ? DAY"
                        " ORDER BY created_at LIMIT 100",
                        q, 1, NULL, err);
  }
  if (rc == IRIS_OK) {
    struct iris_db_param p[] = {IRIS_DB_I64(app->id), IRIS_DB_STR(digest_sha)};
    struct iris_db_exec_info info = {0};
    rc = iris_db_exec(n->app->db, 0,
                      "INSERT IGNORE INTO notify_signature (application_id, digest_sha256)"
                      " VALUES (?, ?)",
                      p, 2, &info, err);
    if (rc == IRIS_OK && info.affected_rows == 0) {
      IRIS_LOG_WARN("replayed signature from application %s refused", app->name);
      return answer_error(a, 401, "Authentication failure", "replayed signature");
    }
  }
  return rc ? answer_internal(a, err, "Failed recording the signature") : IRIS_OK;
}

/* POST /v0/notifications: a retry with a known Idempotency-Key gets its first answer (an
 * identical retry inside the window carries the same signature, and is no replay); anything
 * else must carry a signature not seen before. */
static int post_notification(struct iris_notify *n, const struct iris_apigw_request *req,
                             const struct app_row *app, struct iris_notify_answer *a,
                             struct iris_err *err) {
  const char *key = iris_apigw_header(req, "idempotency-key");
  int found = 0, rc = IRIS_OK;
  if (key && (int64_t)req->body_len <= n->max_body) {
    char sha[65];
    sha256_hex(req->body, req->body_len, sha);
    rc = find_retry(n, app, key, sha, a, &found, err);
    if (rc || found)
      return rc;
  }
  rc = check_replay(n, req, app, a, err);
  if (rc == IRIS_OK && !a->status)
    rc = submit(n, app, key, req->body, req->body_len, a, err);
  return rc;
}

/* ---- HTTP: Twilio status callbacks -------------------------------------------------------- */

static int twilio_status(struct iris_notify *n, const struct iris_apigw_request *req,
                         struct iris_notify_answer *a, struct iris_err *err) {
  struct iris_sign_params params = {0};
  struct iris_buf url;
  const char *sig = iris_apigw_header(req, "x-twilio-signature"), *sid, *status;
  int rc, ok = 0;
  size_t i;
  iris_buf_init(&url, IRIS_APIGW_MAX_PATH * 2);
  rc = iris_sign_form_parse(req->body, req->body_len, MAX_FORM_PARAMS, &params, err);
  if (rc == IRIS_ENOMEM)
    goto out;
  if (rc) {
    rc = answer_error(a, 400, "Invalid keys in payload", err->msg);
    goto out;
  }
  /* The URL Twilio called: notify.public_url when set (a custom domain), else what API
   * Gateway saw. */
  if (n->public_url)
    rc = iris_buf_appendf(&url, "%s%s", n->public_url, req->path);
  else
    rc = iris_buf_appendf(&url, "https://%s%s", req->host ? req->host : "", req->full_path);
  if (rc == IRIS_OK && req->query[0])
    rc = iris_buf_appendf(&url, "?%s", req->query);
  if (rc) {
    rc = answer_error(a, 400, "Invalid request", "URL too long");
    goto out;
  }
  for (i = 0; i < n->ntokens && !ok; i++)
    ok = iris_sign_twilio_check(n->twilio_tokens[i], iris_buf_ptr(&url), &params, sig);
  if (!ok) {
    IRIS_LOG_WARN("Twilio callback with a %s signature refused", sig ? "wrong" : "missing");
    rc = answer_error(a, 403, "Forbidden", "X-Twilio-Signature does not validate");
    goto out;
  }
  sid = iris_sign_param(&params, "MessageSid");
  if (!sid)
    sid = iris_sign_param(&params, "CallSid");
  status = iris_sign_param(&params, "MessageStatus");
  if (!status)
    status = iris_sign_param(&params, "CallStatus");
  if (!sid || !status || !*sid || !*status || strlen(sid) > 34 || strlen(status) > 30 ||
      strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") !=
          strlen(sid) ||
      strspn(status, "abcdefghijklmnopqrstuvwxyz-") != strlen(status)) {
    rc = answer_error(a, 400, "Invalid keys in payload", NULL);
    goto out;
  }
  rc = iris_db_begin(n->app->db, err);
  if (rc == IRIS_OK) {
    struct iris_db_param p[] = {IRIS_DB_STR(status), IRIS_DB_STR(sid)};
    struct iris_db_exec_info info = {0};
    rc = iris_db_exec(n->app->db, 0,
                      "UPDATE twilio_delivery_status SET status = ? WHERE twilio_sid = ?", p, 2,
                      &info, err);
    if (rc == IRIS_OK && info.affected_rows == 0)
      IRIS_LOG_WARN("no delivery status row for Twilio sid %s", sid);
  }
  if (rc == IRIS_OK && strcmp(status, "failed") == 0) {
    /* Iris's rule: a failed SMS or call is retried once, as a copy of its message, and a
     * copy is never retried again. The original's row lock makes concurrent callbacks for
     * the same message wait, so exactly one copy is made. */
    struct iris_db_param p[] = {IRIS_DB_STR(sid)};
    int64_t msg = 0, seen = 0;
    rc = iris_db_query_i64(n->app->db, 0,
                           "SELECT message_id FROM twilio_delivery_status WHERE twilio_sid = ?", p,
                           1, &msg, err);
    if (rc == IRIS_ENOTFOUND) {
      iris_db_rollback(n->app->db, NULL);
      rc = answer_error(a, 400, "No message id found for SID", NULL);
      goto out;
    }
    if (rc == IRIS_OK) {
      struct iris_db_param q[] = {IRIS_DB_I64(msg)};
      struct iris_db_rows *lock = NULL;
      rc = iris_db_query(n->app->db, 0, "SELECT id FROM message WHERE id = ? FOR UPDATE", q, 1,
                         &lock, err);
      iris_db_rows_free(lock);
    }
    if (rc == IRIS_OK) {
      /* Iris asks only "is this message a retry"; a second callback for an original that
       * was already retried adds nothing either. */
      struct iris_db_param q[] = {IRIS_DB_I64(msg), IRIS_DB_I64(msg)};
      rc = iris_db_query_i64(n->app->db, 0,
                             "SELECT COUNT(*) FROM twilio_retry WHERE retry_id = ? OR message_id = ?",
                             q, 2, &seen, err);
    }
    if (rc == IRIS_OK && seen == 0) {
      struct iris_db_param q[] = {IRIS_DB_I64(msg)};
      struct iris_db_exec_info info = {0};
      rc = iris_db_exec(n->app->db, 0,
                        "INSERT INTO message (created, incident_id, application_id, target_id,"
                        " priority_id, body) SELECT UTC_TIMESTAMP(), incident_id, application_id,"
                        " target_id, priority_id, body FROM message WHERE id = ?",
                        q, 1, &info, err);
      if (rc == IRIS_OK) {
        struct iris_db_param r[] = {IRIS_DB_I64(msg), IRIS_DB_I64((int64_t)info.insert_id)};
        rc = iris_db_exec(n->app->db, 0,
                          "INSERT INTO twilio_retry (message_id, retry_id) VALUES (?, ?)", r, 2,
                          NULL, err);
        if (rc == IRIS_OK)
          IRIS_LOG_INFO("Twilio %s failed: message %" PRId64 " retried as %" PRIu64, sid, msg,
                        info.insert_id);
      }
    }
  }
  if (rc == IRIS_OK)
    rc = iris_db_commit(n->app->db, err);
  if (rc) {
    if (iris_db_in_transaction(n->app->db))
      iris_db_rollback(n->app->db, NULL);
    if (rc != IRIS_ENOMEM)
      rc = answer_error(a, 400, "Failed to update Twilio delivery status",
                        "Failed to update Twilio delivery status");
    IRIS_LOG_ERR("Twilio status for %s: %s", sid, err->msg);
    goto out;
  }
  a->status = 204;
  a->body = iris_strdup("");
  rc = a->body ? IRIS_OK : IRIS_ENOMEM;
out:
  iris_sign_params_cleanup(&params);
  iris_buf_cleanup(&url);
  return rc;
}

/* ---- HTTP: routing ------------------------------------------------------------------------- */

int iris_notify_handle_event(struct iris_notify *n, const char *event, size_t len,
                             struct iris_buf *response, struct iris_err *err) {
  struct iris_apigw_request req;
  struct iris_notify_answer a = {0};
  struct app_row app = {0};
  int rc;
  const char *id_prefix = "/v0/notifications/";

  rc = iris_apigw_parse(event, len, (size_t)n->max_body, &req, err);
  if (rc == IRIS_ETOOBIG) {
    char d[96];
    snprintf(d, sizeof d, "the body is over %" PRId64 " bytes", n->max_body);
    rc = answer_error(&a, 413, "Request body too large", d);
  } else if (rc == IRIS_EINVAL) {
    rc = answer_error(&a, 400, "Invalid request", err->msg);
  } else if (rc) {
    return rc;
  } else if (strcmp(req.path, "/v0/notifications") == 0 && strcmp(req.method, "POST") == 0) {
    rc = authenticate(n, &req, &app, &a, err);
    if (rc == IRIS_OK && !a.status)
      rc = post_notification(n, &req, &app, &a, err);
  } else if (strncmp(req.path, id_prefix, strlen(id_prefix)) == 0 &&
             strcmp(req.method, "GET") == 0) {
    rc = authenticate(n, &req, &app, &a, err);
    if (rc == IRIS_OK && !a.status)
      rc = status_of(n, &app, req.path + strlen(id_prefix), &a, err);
  } else if ((strcmp(req.path, "/v0/twilio/messages/status") == 0 ||
              strcmp(req.path, "/v0/twilio/calls/status") == 0) &&
             strcmp(req.method, "POST") == 0) {
    rc = twilio_status(n, &req, &a, err);
  } else {
    rc = answer_error(&a, 404, "404 Not Found", NULL);
  }
  if (rc == IRIS_OK) {
    if (a.notification_id) {
      char loc[80];
      const char *h[4];
      snprintf(loc, sizeof loc, "/v0/notifications/%s", a.notification_id);
      h[0] = "X-Iris-Notification-Id";
      h[1] = a.notification_id;
      h[2] = "Location";
      h[3] = loc;
      rc = iris_apigw_respond(response, a.status, a.body, h, 2);
    } else {
      rc = iris_apigw_respond(response, a.status, a.body, NULL, 0);
    }
  }
  if (rc == IRIS_ENOMEM)
    iris_err_set(err, rc, "notify: out of memory answering a request");
  app_row_cleanup(&app);
  iris_notify_answer_cleanup(&a);
  iris_apigw_request_cleanup(&req);
  return rc;
}
