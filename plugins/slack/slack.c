/*
 * slack.c — the "slack" vendor plugin: mode slack through chat.postMessage (bot token).
 *
 * Ported from Iris's Slack vendor: text = "[<application or Iris incident>] " + body; a body
 * that is a JSON object contributes the keys blocks, attachments, link_names, mrkdwn, parse,
 * reply_broadcast, text, thread_ts, unfurl_links and unfurl_media; incident messages carry
 * incident_id and message_id and an attachment titled "Iris incident <id>" linking to the
 * incident, with Claim and Claim All buttons (callback_id = message id) that Slack posts to
 * the Iris relay.
 *
 * Recipients. Iris posted to channel "@" + the contact, which Slack no longer routes (user
 * names are gone from the Web API). Here the destination becomes a conversation Slack takes:
 *   - a Slack ID — U…/W… (a user: the post lands in the app's direct message with them) or
 *     C…/G…/D… (a conversation), an upper-case letter and at least eight upper-case letters
 *     and digits, one a digit, with or without a leading '@' — is posted to as it is;
 *   - "#name" is posted to as it is (Slack still takes a channel's name);
 *   - an email address is looked up with users.lookupByEmail;
 *   - anything else is a name, as Iris's contacts hold them ("jdoe" or "@jdoe"): with the
 *     option email_domain, users.lookupByEmail of <name>@<email_domain>; without it, users.list
 *     page by page (cursor) until a user whose name is the contact, or, when the whole list
 *     names nobody so, the one user whose profile.display_name is (two: ambiguous, refused).
 *     Deactivated users are never picked. Names match without regard to ASCII case.
 * Every user a users.list page shows is kept (name and display name → ID) in a cache bounded
 * by user_cache_size entries, each for user_cache_ttl_s, so one walk of the list answers later
 * names without a request; an email's answer is kept the same way. A walk that read the whole
 * list without dropping an entry for room also answers "no such user" for five minutes (or
 * the TTL, if shorter) without a request; so does users_not_found for an email.
 * The lookups of one send share one budget of timeout_ms (each request's timeout is what is
 * left of it), and a walk reads at most users_list_max_pages pages of users_list_page_size
 * users: one send takes at most about twice timeout_ms, the post included.
 *
 * Results: an unknown (or deactivated, or ambiguous) user is a permanent failure saying so;
 * Slack's 429 or "ratelimited" on any call is rate-limited with Retry-After (instead of Iris
 * sleeping inside the worker); no answer, 5xx and Slack's transient errors are retryable;
 * channel_not_found / not_in_channel on the post are permanent (Iris counted them as sent, so
 * nobody was paged and nobody knew); the rest is permanent with Slack's error code. Every
 * value read from Slack is bounded: answers by the host (1 MiB), IDs by charset and length,
 * names by length, cursors by length and charset, error codes by charset.
 *
 * Options: auth_token (a secret: write it as "secretsmanager:<id>"), base_url (default
 * https://slack.com/api; Iris's form, the chat.postMessage URL itself, is taken too),
 * iris_incident_url, message_attachments (Iris's {"fallback", "pretext"}),
 * attachment_fallback, attachment_pretext, email_domain, user_cache_size, user_cache_ttl_s,
 * users_list_page_size, users_list_max_pages, timeout_ms.
 * Metrics: slack_lookups (requests to users.lookupByEmail and users.list),
 * slack_user_cache_hits (destinations answered from the cache).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"
#include "plugin_opts.h"
#include "plugin_util.h"

#define SLACK_ID_MAX 32             /* longest Slack ID read (U012A3CDE has 9 characters) */
#define SLACK_NAME_MAX 256          /* longest destination, name, display name or email, bytes */
#define SLACK_CURSOR_MAX 1024       /* longest users.list cursor, bytes */
#define SLACK_CODE_MAX 64           /* longest error code or scope list quoted from Slack */
#define SLACK_PAGE_MEMBERS_MAX 1000 /* members read from one page (Slack's own page limit) */
#define SLACK_UNKNOWN_TTL_MS 300000 /* how long "no such user" stands (capped by the TTL) */

/* ---- the user cache ----------------------------------------------------------------------- */

enum entry_kind {
  ENTRY_USER,      /* id holds the user's ID */
  ENTRY_AMBIGUOUS, /* a display name two users of one walk carry */
  ENTRY_UNKNOWN    /* users.lookupByEmail knows no such email */
};

#define NO_ENTRY ((size_t)-1)

struct cache_entry {
  char *key; /* "n:<name>", "d:<display name>" or "e:<email>", ASCII lower-cased; owned */
  char id[SLACK_ID_MAX + 1];
  enum entry_kind kind;
  int64_t expires_ms;
  uint32_t hash;
  uint32_t walk; /* the users.list walk that wrote it (0: users.lookupByEmail) */
  int ref;       /* read since the clock hand last passed it (its second chance) */
  size_t next;   /* the next entry of its hash bucket, or NO_ENTRY */
};

/*
 * A fixed-capacity map with CLOCK replacement: when full, the hand passes entries read since
 * it last came by (clearing their mark) and replaces the first expired or unmarked one.
 */
struct user_cache {
  struct cache_entry *v; /* owned; n used, room for cap (grown on demand) */
  size_t *buckets;       /* owned; nbuckets heads (a power of two >= cap), NO_ENTRY if empty */
  size_t n, room, cap, nbuckets, hand;
  uint64_t dropped; /* entries lost before they expired (no room): see struct slack.dir_* */
};

static uint32_t key_hash(const char *k) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *k; k++)
    h = (h ^ (unsigned char)*k) * 16777619u;
  return h;
}

static size_t cache_find(const struct user_cache *c, const char *key, uint32_t h) {
  size_t i = c->buckets ? c->buckets[h & (c->nbuckets - 1)] : NO_ENTRY;
  for (; i != NO_ENTRY; i = c->v[i].next)
    if (c->v[i].hash == h && strcmp(c->v[i].key, key) == 0)
      return i;
  return NO_ENTRY;
}

/* The live entry for key (marked as read), or NULL; borrowed until the next cache_put. */
static const struct cache_entry *cache_get(struct user_cache *c, const char *key, int64_t now) {
  size_t i = cache_find(c, key, key_hash(key));
  if (i == NO_ENTRY || c->v[i].expires_ms <= now)
    return NULL;
  c->v[i].ref = 1;
  return &c->v[i];
}

static void cache_unlink(struct user_cache *c, size_t i) {
  size_t *p = &c->buckets[c->v[i].hash & (c->nbuckets - 1)];
  while (*p != i)
    p = &c->v[*p].next;
  *p = c->v[i].next;
}

/* A slot for a new entry: a free one, or the CLOCK victim (unlinked, its key freed). */
static size_t cache_slot(struct user_cache *c, int64_t now) {
  if (c->n < c->room)
    return c->n++;
  if (c->room < c->cap) {
    size_t room = c->room ? c->room * 2 : 64;
    struct cache_entry *g;
    room = room > c->cap ? c->cap : room;
    g = realloc(c->v, room * sizeof *g);
    if (g) {
      c->v = g;
      c->room = room;
      return c->n++;
    }
    if (!c->n)
      return NO_ENTRY;
  }
  for (;;) { /* ends within two rounds: the first clears every mark */
    struct cache_entry *e = &c->v[c->hand];
    size_t i = c->hand;
    c->hand = (c->hand + 1) % c->n;
    if (e->expires_ms > now && e->ref) {
      e->ref = 0;
      continue;
    }
    if (e->expires_ms > now)
      c->dropped++;
    cache_unlink(c, i);
    free(e->key);
    e->key = NULL;
    return i;
  }
}

/*
 * Remember key → (kind, id) until expires_ms. A display name two users of the same walk
 * carry becomes ENTRY_AMBIGUOUS. Out of room or memory the entry is dropped (and counted):
 * the cache only saves requests.
 */
static void cache_put(struct user_cache *c, const char *key, enum entry_kind kind, const char *id,
                      int64_t expires_ms, uint32_t walk, int64_t now) {
  uint32_t h = key_hash(key);
  size_t i, len;
  char *copy;
  if (!c->buckets && c->cap) {
    size_t nb = 16;
    while (nb < c->cap)
      nb *= 2;
    c->buckets = malloc(nb * sizeof *c->buckets);
    if (c->buckets) {
      c->nbuckets = nb;
      for (i = 0; i < nb; i++)
        c->buckets[i] = NO_ENTRY;
    }
  }
  if (!c->buckets) {
    c->dropped++;
    return;
  }
  i = cache_find(c, key, h);
  if (i != NO_ENTRY) {
    struct cache_entry *e = &c->v[i];
    if (kind == ENTRY_USER && key[0] == 'd' && walk && e->walk == walk &&
        (e->kind == ENTRY_AMBIGUOUS || strcmp(e->id, id) != 0))
      kind = ENTRY_AMBIGUOUS;
    e->kind = kind;
    snprintf(e->id, sizeof e->id, "%s", kind == ENTRY_USER ? id : "");
    e->expires_ms = expires_ms;
    e->walk = walk;
    return;
  }
  len = strlen(key) + 1;
  copy = malloc(len);
  i = copy ? cache_slot(c, now) : NO_ENTRY;
  if (i == NO_ENTRY) {
    free(copy);
    c->dropped++;
    return;
  }
  memcpy(copy, key, len);
  c->v[i].key = copy;
  c->v[i].hash = h;
  c->v[i].kind = kind;
  snprintf(c->v[i].id, sizeof c->v[i].id, "%s", kind == ENTRY_USER ? id : "");
  c->v[i].expires_ms = expires_ms;
  c->v[i].walk = walk;
  c->v[i].ref = 0;
  c->v[i].next = c->buckets[h & (c->nbuckets - 1)];
  c->buckets[h & (c->nbuckets - 1)] = i;
}

static void cache_free(struct user_cache *c) {
  size_t i;
  for (i = 0; i < c->n; i++)
    free(c->v[i].key);
  free(c->v);
  free(c->buckets);
  memset(c, 0, sizeof *c);
}

/* ---- the instance --------------------------------------------------------------------------- */

struct slack {
  const struct iris_plugin_host *host; /* borrowed from init until destroy */
  /* the options: owned copies, released by pu_opts_free (the token wiped first) */
  char *token, *base, *incident_url, *attachments, *fallback, *pretext, *email_domain;
  long timeout_ms, cache_size, cache_ttl_s, page_size, max_pages;
  struct user_cache cache;
  uint32_t walks;         /* users.list walks begun; the newest one's number */
  uint32_t dir_walk;      /* the newest walk that read the whole list (0: none) ... */
  int64_t dir_started_ms; /* ... when it began ... */
  uint64_t dir_dropped;   /* ... and cache.dropped then: while unchanged, the cache holds it */
};

static const struct pu_opt options[] =
    {PU_SECRET("auth_token", 1, struct slack, token),
     PU_STR("base_url", 0, "https://slack.com/api", struct slack, base),
     PU_STR("iris_incident_url", 1, NULL, struct slack, incident_url),
     PU_STR("message_attachments", 0, NULL, struct slack, attachments),
     PU_STR("attachment_fallback", 0, NULL, struct slack, fallback),
     PU_STR("attachment_pretext", 0, NULL, struct slack, pretext),
     PU_STR("email_domain", 0, NULL, struct slack, email_domain),
     PU_LONG("user_cache_size", 0, 200000, 10000, struct slack, cache_size),
     PU_LONG("user_cache_ttl_s", 1, 604800, 3600, struct slack, cache_ttl_s),
     PU_LONG("users_list_page_size", 1, 1000, 200, struct slack, page_size),
     PU_LONG("users_list_max_pages", 1, 10000, 50, struct slack, max_pages),
     PU_LONG("timeout_ms", 1, PU_TIMEOUT_MAX_MS, 10000, struct slack, timeout_ms),
     PU_OPTS_END};

static void destroy(void *instance) {
  struct slack *s = instance;
  if (!s)
    return;
  cache_free(&s->cache);
  pu_opts_free(options, s);
  free(s);
}

/* No control characters (C0 and DEL) and at most max bytes. */
static int plain_text(const char *v, size_t max) {
  size_t n = 0;
  for (; *v; v++, n++)
    if ((unsigned char)*v < 0x20 || *v == 0x7f || n >= max)
      return 0;
  return 1;
}

/* Byte count for "%.*s" that keeps at most max code points of v (never half a character). */
static int shown(const char *v, size_t max) { return (int)pu_utf8_offset(v, max); }

/* An option read at init time: Iris's message_attachments {"fallback", "pretext"} fills
 * attachment_fallback / attachment_pretext where those are not set; owned copies. */
static int read_iris_attachments(struct slack *s, char *error, size_t esize) {
  static const char *const keys[] = {"fallback", "pretext"};
  char **fields[] = {&s->fallback, &s->pretext};
  json_error_t jerr;
  json_t *doc = json_loads(s->attachments, 0, &jerr);
  size_t i;
  int rc = 0;
  if (!json_is_object(doc)) {
    snprintf(error, esize,
             "option 'message_attachments' must be a JSON object like Iris's "
             "{\"fallback\": ..., \"pretext\": ...}");
    rc = -1;
  }
  for (i = 0; rc == 0 && i < 2; i++) {
    json_t *v = json_object_get(doc, keys[i]);
    if (v && !json_is_string(v) && !json_is_null(v)) {
      snprintf(error, esize, "option 'message_attachments': '%s' must be a string", keys[i]);
      rc = -1;
    } else if (json_is_string(v) && !*fields[i] && !(*fields[i] = pu_dup(json_string_value(v)))) {
      snprintf(error, esize, "out of memory reading option 'message_attachments'");
      rc = -1;
    }
  }
  json_decref(doc);
  return rc;
}

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                size_t esize) {
  static const char method[] = "/chat.postMessage";
  struct slack *s = pu_opts_instance(sizeof *s, options, c, n, error, esize);
  size_t len;
  if (!s)
    return -1;
  s->host = host;
  if (s->attachments && read_iris_attachments(s, error, esize) != 0)
    goto fail;
  if (!s->fallback && !(s->fallback = pu_dup("New Iris incident"))) {
    snprintf(error, esize, "out of memory");
    goto fail;
  }
  if (!s->pretext && !(s->pretext = pu_dup(""))) {
    snprintf(error, esize, "out of memory");
    goto fail;
  }
  /* Iris's base_url is chat.postMessage's own URL; ours is the API's base. */
  len = strlen(s->base);
  while (len && s->base[len - 1] == '/')
    s->base[--len] = '\0';
  if (len >= sizeof method - 1 && strcmp(s->base + len - (sizeof method - 1), method) == 0) {
    s->base[len - (sizeof method - 1)] = '\0';
    host->log(host->data, IRIS_PLUGIN_LOG_INFO,
              "slack %s: base_url names chat.postMessage, as Iris's did; the API's base is %s",
              name ? name : "slack", s->base);
  }
  if ((strncmp(s->base, "https://", 8) != 0 && strncmp(s->base, "http://", 7) != 0) ||
      !plain_text(s->base, 2048)) {
    snprintf(error, esize,
             "option 'base_url' must be an http(s) URL such as https://slack.com/api");
    goto fail;
  }
  if (s->email_domain) {
    const char *d = s->email_domain + (s->email_domain[0] == '@');
    if (!*d || strpbrk(d, "@ /\\") || !plain_text(d, 253)) {
      snprintf(error, esize,
               "option 'email_domain' must be a domain such as example.com, got '%.*s'",
               shown(s->email_domain, 60), s->email_domain);
      goto fail;
    }
  }
  s->cache.cap = (size_t)s->cache_size;
  *instance = s;
  return 0;
fail:
  destroy(s);
  return -1;
}

/* ---- what a destination is ---------------------------------------------------------------- */

/* A Slack ID whose first letter is one of `first`: then upper-case letters and digits. With
 * strict (a destination, which could also be a name), at least eight and one of them a digit. */
static int is_slack_id(const char *v, const char *first, int strict) {
  size_t n = 0;
  int digit = 0;
  if (!*v || !strchr(first, *v))
    return 0;
  for (v++; *v; v++, n++) {
    if (*v >= '0' && *v <= '9')
      digit = 1;
    else if (*v < 'A' || *v > 'Z')
      return 0;
  }
  return n + 1 <= SLACK_ID_MAX && (strict ? n >= 8 && digit : n >= 2);
}

static int is_email(const char *v) {
  const char *at = strchr(v, '@');
  return at && at > v && at[1] && !strchr(at + 1, '@') && !strpbrk(v, " \t<>,;\"") &&
         strlen(v) <= 254;
}

enum dest_kind { DEST_CONVERSATION, DEST_EMAIL, DEST_NAME, DEST_BAD };

/* What dest is; *what points into dest past a leading '@' (or at dest). */
static enum dest_kind dest_kind(const char *dest, const char **what) {
  const char *p = dest + (dest[0] == '@');
  *what = dest;
  if (!plain_text(dest, SLACK_NAME_MAX) || !*p)
    return DEST_BAD;
  if (dest[0] == '#')
    return DEST_CONVERSATION;
  *what = p;
  if (is_slack_id(p, "UWCGD", 1))
    return DEST_CONVERSATION;
  if (strchr(p, '@'))
    return is_email(p) ? DEST_EMAIL : DEST_BAD;
  return DEST_NAME;
}

/* "<kind>:" + v, ASCII lower-cased (the cache's keys). */
static void cache_key(struct pu_str *key, char kind, const char *v) {
  char head[2] = {kind, ':'};
  key->len = 0;
  pu_str_add(key, head, 2);
  for (; *v; v++) {
    char ch = (*v >= 'A' && *v <= 'Z') ? (char)(*v - 'A' + 'a') : *v;
    pu_str_add(key, &ch, 1);
  }
}

static int same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
    char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
    if (x != y)
      return 0;
  }
  return *a == *b;
}

/* ---- Slack's answers -------------------------------------------------------------------------- */

/* Slack's error codes worth another try (invalid_cursor: a users.list cursor that expired
 * during a walk; the next walk starts afresh). */
static int is_transient(const char *code) {
  static const char *const t[] = {"internal_error",
                                  "fatal_error",
                                  "service_unavailable",
                                  "request_timeout",
                                  "team_added_to_org",
                                  "invalid_cursor",
                                  NULL};
  size_t i;
  for (i = 0; t[i]; i++)
    if (strcmp(code, t[i]) == 0)
      return 1;
  return 0;
}

/* A string field of an answer if it is short and of the given charset, else NULL. */
static const char *answer_text(json_t *doc, const char *field, const char *charset, size_t max) {
  const char *v = json_string_value(json_object_get(doc, field));
  if (!v || !*v || strlen(v) > max || strspn(v, charset) != strlen(v))
    return NULL;
  return v;
}

static const char code_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_.:,";

/*
 * The result of a call that did not end in {"ok": true}: what (a method name) failed on the
 * transport, an HTTP status other than 200, an unreadable body or Slack's error code. On
 * the post, whom names the channel. Returns doc's "ok": true → 0, else -1 with r filled.
 */
static int api_outcome(const char *what, const char *whom, const struct pu_call *call, json_t *doc,
                       struct iris_plugin_result *r) {
  const char *code, *needed;
  char label[64];
  snprintf(label, sizeof label, "Slack %s", what);
  if (call->resp.transport != IRIS_PLUGIN_HTTP_OK || call->resp.status != 200) {
    pu_http_failure(label, &call->resp, r, NULL);
    return -1;
  }
  if (!json_is_object(doc)) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "%s answered HTTP 200 with an unreadable body", label);
    return -1;
  }
  if (json_is_true(json_object_get(doc, "ok")))
    return 0;
  code = answer_text(doc, "error", code_chars, SLACK_CODE_MAX);
  code = code ? code : "unknown_error";
  needed = answer_text(doc, "needed", code_chars, SLACK_CODE_MAX);
  if (strcmp(code, "ratelimited") == 0) {
    r->status = IRIS_PLUGIN_RATE_LIMITED;
    r->retry_after_ms = pu_retry_after_ms(&call->resp, 1000);
  } else {
    r->status = is_transient(code) ? IRIS_PLUGIN_RETRYABLE : IRIS_PLUGIN_PERMANENT;
  }
  if (whom)
    snprintf(r->error, sizeof r->error, "Slack refused the post to %.*s: %s", shown(whom, 100),
             whom, code);
  else
    snprintf(r->error, sizeof r->error, "%s failed: %s%s%s%s", label, code,
             needed ? " (the token needs the scope " : "", needed ? needed : "",
             needed ? ")" : "");
  return -1;
}

/* One GET of a Slack Web API method within what is left of the budget; the answer parsed
 * into *doc (caller releases; NULL when unreadable). Returns -1 (r filled) when the budget
 * is spent or no request could be built. */
static int api_get(struct slack *s, struct pu_call *call, int64_t deadline, json_t **doc,
                   struct iris_plugin_result *r) {
  int64_t left = deadline - s->host->now_ms(s->host->data);
  *doc = NULL;
  if (left <= 0) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error,
             "looking the Slack user up took longer than timeout_ms (%ld ms)", s->timeout_ms);
    return -1;
  }
  s->host->metric(s->host->data, "slack_lookups", 1, "Count");
  if (pu_call_bearer(call, s->host, "GET", NULL, s->token,
                     left < s->timeout_ms ? (long)left : s->timeout_ms) == 0 &&
      call->resp.body)
    *doc = json_loadb(call->resp.body, call->resp.body_len, 0, NULL);
  return 0;
}

/* ---- resolving a destination to a user ID ------------------------------------------------------ */

/*
 * The cache's answer for v as a name ('n') or an email ('e'), its key left in key: 0 when it
 * holds the user (the ID appended to channel), 1 when it does not (*e: the entry it holds
 * instead, ENTRY_UNKNOWN, or NULL), -1 out of memory (r filled).
 */
static int cached_user(struct slack *s, char kind, const char *v, int64_t now, struct pu_str *key,
                       const struct cache_entry **e, struct pu_str *channel,
                       struct iris_plugin_result *r) {
  cache_key(key, kind, v);
  if (key->oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory looking the Slack user up");
    return -1;
  }
  *e = cache_get(&s->cache, key->p, now);
  if (!*e || (*e)->kind != ENTRY_USER)
    return 1;
  s->host->metric(s->host->data, "slack_user_cache_hits", 1, "Count");
  pu_str_adds(channel, (*e)->id);
  return 0;
}

static int64_t unknown_until(const struct slack *s, int64_t now) {
  int64_t ttl = (int64_t)s->cache_ttl_s * 1000;
  return now + (ttl < SLACK_UNKNOWN_TTL_MS ? ttl : SLACK_UNKNOWN_TTL_MS);
}

/* email → user ID through users.lookupByEmail (and the cache). */
static int lookup_email(struct slack *s, const char *email, int64_t deadline,
                        struct pu_str *channel, struct iris_plugin_result *r) {
  struct pu_call call = {0};
  struct pu_str key = {0};
  const struct cache_entry *e;
  json_t *doc = NULL, *user;
  const char *id, *code;
  int64_t now = s->host->now_ms(s->host->data);
  int rc = cached_user(s, 'e', email, now, &key, &e, channel, r);
  if (rc != 1)
    goto out;
  rc = -1;
  if (e) {
    s->host->metric(s->host->data, "slack_user_cache_hits", 1, "Count");
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error,
             "Slack has no user with the email %.*s (users.lookupByEmail: users_not_found, "
             "remembered)",
             shown(email, 120), email);
    goto out;
  }
  pu_str_adds(&call.url, s->base);
  pu_str_adds(&call.url, "/users.lookupByEmail?email=");
  pu_str_add_form(&call.url, email);
  if (api_get(s, &call, deadline, &doc, r) != 0)
    goto out;
  code = json_is_object(doc) ? json_string_value(json_object_get(doc, "error")) : NULL;
  if (call.resp.status == 200 && code &&
      (strcmp(code, "users_not_found") == 0 || strcmp(code, "user_not_found") == 0)) {
    cache_put(&s->cache, key.p, ENTRY_UNKNOWN, NULL, unknown_until(s, now), 0, now);
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error,
             "Slack has no user with the email %.*s (users.lookupByEmail: %s)", shown(email, 120),
             email, code);
    goto out;
  }
  if (api_outcome("users.lookupByEmail", NULL, &call, doc, r) != 0)
    goto out;
  user = json_object_get(doc, "user");
  id = json_string_value(json_object_get(user, "id"));
  if (!id || !is_slack_id(id, "UW", 0)) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error,
             "Slack users.lookupByEmail answered without a readable user ID");
    goto out;
  }
  if (json_is_true(json_object_get(user, "deleted"))) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "the Slack user %s (%.*s) is deactivated", id,
             shown(email, 120), email);
    goto out;
  }
  cache_put(&s->cache, key.p, ENTRY_USER, id, now + (int64_t)s->cache_ttl_s * 1000, 0, now);
  pu_str_adds(channel, id);
  rc = 0;
out:
  json_decref(doc);
  pu_call_cleanup(&call);
  pu_str_free(&key);
  return rc;
}

/* What a walk of users.list found for one name. */
struct walk_match {
  char by_name[SLACK_ID_MAX + 1];    /* the user whose name it is, or "" */
  char by_display[SLACK_ID_MAX + 1]; /* the first user whose display name it is, or "" */
  int ambiguous;                     /* another user has that display name too */
  size_t users;                      /* users read */
};

/* A users.list page's members: cached, and matched against name. */
static void read_members(struct slack *s, json_t *members, const char *name, uint32_t walk,
                         int64_t now, struct walk_match *m) {
  struct pu_str key = {0};
  size_t i;
  for (i = 0; i < json_array_size(members) && i < SLACK_PAGE_MEMBERS_MAX; i++) {
    json_t *u = json_array_get(members, i);
    const char *id = json_string_value(json_object_get(u, "id"));
    const char *login = json_string_value(json_object_get(u, "name"));
    const char *display = json_string_value(
        json_object_get(json_object_get(u, "profile"), "display_name"));
    int64_t until = now + (int64_t)s->cache_ttl_s * 1000;
    if (!id || !is_slack_id(id, "UW", 0) || json_is_true(json_object_get(u, "deleted")))
      continue;
    m->users++;
    if (login && *login && plain_text(login, SLACK_NAME_MAX)) {
      cache_key(&key, 'n', login);
      if (!key.oom)
        cache_put(&s->cache, key.p, ENTRY_USER, id, until, walk, now);
      if (same_name(login, name) && !m->by_name[0])
        snprintf(m->by_name, sizeof m->by_name, "%s", id);
    }
    if (display && *display && plain_text(display, SLACK_NAME_MAX)) {
      cache_key(&key, 'd', display);
      if (!key.oom)
        cache_put(&s->cache, key.p, ENTRY_USER, id, until, walk, now);
      if (same_name(display, name)) {
        if (!m->by_display[0])
          snprintf(m->by_display, sizeof m->by_display, "%s", id);
        else if (strcmp(m->by_display, id) != 0)
          m->ambiguous = 1;
      }
    }
    if (key.oom) { /* the cache only saves requests: start the next key afresh */
      pu_str_free(&key);
      s->cache.dropped++;
    }
  }
  pu_str_free(&key);
}

/* The outcome for name once the whole list was read (or the cache holds it whole). */
static int name_found(const char *name, const char *id, int ambiguous, size_t users,
                      struct pu_str *channel, struct iris_plugin_result *r) {
  if (ambiguous) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error,
             "Slack user '%.*s' is ambiguous: no user has that name and several have it as "
             "their display name (write the user's ID or email in the contact)",
             shown(name, 100), name);
    return -1;
  }
  if (!id || !*id) {
    r->status = IRIS_PLUGIN_PERMANENT;
    if (users)
      snprintf(r->error, sizeof r->error,
               "no Slack user is named '%.*s' (users.list, %zu active users read)",
               shown(name, 100), name, users);
    else
      snprintf(r->error, sizeof r->error,
               "no Slack user is named '%.*s' (users.list, read whole within the last %d s)",
               shown(name, 100), name, SLACK_UNKNOWN_TTL_MS / 1000);
    return -1;
  }
  pu_str_adds(channel, id);
  return 0;
}

/* A cursor as Slack gives it: printable ASCII, bounded. */
static const char *read_cursor(json_t *doc) {
  const char *c = json_string_value(
      json_object_get(json_object_get(doc, "response_metadata"), "next_cursor"));
  const char *p;
  if (!c || strlen(c) > SLACK_CURSOR_MAX)
    return c ? NULL : "";
  for (p = c; *p; p++)
    if (*p <= ' ' || *p > '~')
      return NULL;
  return c;
}

/* name → user ID through the cache, or users.list page by page. */
static int lookup_name(struct slack *s, const char *name, int64_t deadline, struct pu_str *channel,
                       struct iris_plugin_result *r) {
  struct walk_match m = {{0}, {0}, 0, 0};
  struct pu_str key = {0}, cursor = {0};
  const struct cache_entry *e;
  json_t *doc = NULL;
  int64_t now = s->host->now_ms(s->host->data), started = now;
  uint32_t walk;
  long page;
  int rc = cached_user(s, 'n', name, now, &key, &e, channel, r);
  if (rc != 1)
    goto out;
  rc = -1;
  /* The last walk read the whole list and the cache still holds all of it: it has the
   * answer, known or not. */
  if (s->dir_walk && now - s->dir_started_ms < unknown_until(s, 0) &&
      s->cache.dropped == s->dir_dropped) {
    cache_key(&key, 'd', name);
    e = key.oom ? NULL : cache_get(&s->cache, key.p, now);
    if (e && e->walk != s->dir_walk)
      e = NULL;
    s->host->metric(s->host->data, "slack_user_cache_hits", 1, "Count");
    rc = name_found(name, e ? e->id : NULL, e && e->kind == ENTRY_AMBIGUOUS, 0, channel, r);
    goto out;
  }
  walk = ++s->walks ? s->walks : ++s->walks; /* 0 means "not from a walk" */
  {
    uint64_t dropped = s->cache.dropped;
    for (page = 0;; page++) {
      struct pu_call call = {0};
      const char *next;
      char limit[32];
      if (page == s->max_pages) {
        r->status = IRIS_PLUGIN_PERMANENT;
        snprintf(r->error, sizeof r->error,
                 "no Slack user named '%.*s' in the first %ld pages of users.list (%zu users; "
                 "raise users_list_max_pages, or set email_domain)",
                 shown(name, 100), name, s->max_pages, m.users);
        goto out;
      }
      snprintf(limit, sizeof limit, "%ld", s->page_size);
      pu_str_adds(&call.url, s->base);
      pu_str_adds(&call.url, "/users.list?limit=");
      pu_str_adds(&call.url, limit);
      if (cursor.len) {
        pu_str_adds(&call.url, "&cursor=");
        pu_str_add_form(&call.url, cursor.p);
      }
      if (api_get(s, &call, deadline, &doc, r) != 0 ||
          api_outcome("users.list", NULL, &call, doc, r) != 0) {
        pu_call_cleanup(&call);
        goto out;
      }
      pu_call_cleanup(&call);
      now = s->host->now_ms(s->host->data);
      read_members(s, json_object_get(doc, "members"), name, walk, now, &m);
      if (m.by_name[0]) { /* names are unique: no need to read on */
        pu_str_adds(channel, m.by_name);
        rc = 0;
        goto out;
      }
      if (!(next = read_cursor(doc))) {
        r->status = IRIS_PLUGIN_RETRYABLE;
        snprintf(r->error, sizeof r->error, "Slack users.list answered an unreadable cursor");
        goto out;
      }
      if (!*next)
        break;
      cursor.len = 0;
      pu_str_adds(&cursor, next);
      json_decref(doc);
      doc = NULL;
      if (cursor.oom) {
        r->status = IRIS_PLUGIN_RETRYABLE;
        snprintf(r->error, sizeof r->error, "out of memory reading users.list");
        goto out;
      }
    }
    s->dir_walk = walk;
    s->dir_started_ms = started;
    s->dir_dropped = dropped;
  }
  rc = name_found(name, m.by_display, m.ambiguous, m.users, channel, r);
out:
  json_decref(doc);
  pu_str_free(&key);
  pu_str_free(&cursor);
  return rc;
}

/* ---- sending ---------------------------------------------------------------------------------- */

/* The claim attachment Iris puts on incident messages. */
static json_t *claim_attachment(const struct slack *s, const struct iris_plugin_message *m) {
  char id[24], title[64];
  struct pu_str link = {0};
  json_t *a;
  snprintf(id, sizeof id, "%lld", (long long)m->incident_id);
  snprintf(title, sizeof title, "Iris incident %s", id);
  pu_str_adds(&link, s->incident_url);
  pu_str_adds(&link, "/");
  pu_str_adds(&link, id);
  a = link.oom
          ? NULL
          : json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[{s:s, s:s, s:s, s:s}, "
                      "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}]}",
                      "fallback", s->fallback, "pretext", s->pretext, "title", title, "title_link",
                      link.p, "callback_id", m->message_id ? m->message_id : "", "color", "danger",
                      "attachment_type", "default", "mrkdwn_in", "pretext", "actions", "name",
                      "claim", "text", "Claim Incident", "type", "button", "value", "claimed",
                      "name", "claim all", "text", "Claim All", "style", "danger", "type",
                      "button", "value", "claimed all", "confirm", "title", "Are you sure?",
                      "text", "This will claim all active incidents targeting you.", "ok_text",
                      "Yes", "dismiss_text", "No");
  pu_str_free(&link);
  return a;
}

/* The chat.postMessage body: Iris's text, the JSON body's keys, the claim attachment. */
static json_t *post_payload(const struct slack *s, const struct iris_plugin_message *m,
                            const char *channel, struct iris_plugin_result *r) {
  static const char *const copied[] = {"blocks",       "attachments", "link_names",
                                       "mrkdwn",       "parse",       "reply_broadcast",
                                       "text",         "thread_ts",   "unfurl_links",
                                       "unfurl_media", NULL};
  const char *body = m->body ? m->body : "";
  struct pu_str text = {0};
  json_t *payload = json_object(), *attachments, *claim;
  size_t i;
  if (payload && body[0] == '{') {
    json_error_t jerr;
    json_t *custom = json_loads(body, 0, &jerr);
    if (!json_is_object(custom)) {
      json_decref(custom);
      json_decref(payload);
      r->status = IRIS_PLUGIN_PERMANENT;
      snprintf(r->error, sizeof r->error, "the body starts with '{' but is not a JSON object: %s",
               jerr.text);
      return NULL;
    }
    for (i = 0; copied[i]; i++)
      if (json_object_get(custom, copied[i]))
        json_object_set(payload, copied[i], json_object_get(custom, copied[i]));
    json_decref(custom);
  } else if (payload) {
    json_object_set_new(payload, "text", json_string(body));
  }
  pu_str_adds(&text, "[");
  pu_str_adds(&text, m->application ? m->application : "Iris incident");
  pu_str_adds(&text, "] ");
  if (json_is_string(json_object_get(payload, "text")))
    pu_str_adds(&text, json_string_value(json_object_get(payload, "text")));
  if (payload && !text.oom && json_object_set_new(payload, "text", json_string(text.p)) == 0 &&
      json_object_set_new(payload, "channel", json_string(channel)) == 0 && m->incident_id) {
    json_object_set_new(payload, "incident_id", json_integer(m->incident_id));
    if (m->message_id)
      json_object_set_new(payload, "message_id", json_string(m->message_id));
    attachments = json_object_get(payload, "attachments");
    if (!json_is_array(attachments)) {
      attachments = json_array();
      json_object_set_new(payload, "attachments", attachments);
    }
    claim = claim_attachment(s, m);
    if (!claim || json_array_append_new(attachments, claim) != 0) {
      json_decref(payload);
      payload = NULL;
    }
  }
  if (!payload || text.oom || !json_object_get(payload, "channel")) {
    json_decref(payload);
    payload = NULL;
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Slack request");
  }
  pu_str_free(&text);
  return payload;
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct slack *s = instance;
  struct pu_call call = {0};
  struct pu_str channel = {0}, email = {0};
  json_t *payload = NULL, *answer = NULL;
  const char *dest = m->ndestinations && m->destinations[0] ? m->destinations[0] : "", *what;
  int64_t deadline = s->host->now_ms(s->host->data) + s->timeout_ms;
  int rc = -1;

  switch (dest_kind(dest, &what)) {
  case DEST_CONVERSATION:
    pu_str_adds(&channel, what);
    rc = 0;
    break;
  case DEST_EMAIL: rc = lookup_email(s, what, deadline, &channel, r); break;
  case DEST_NAME:
    if (s->email_domain) {
      pu_str_adds(&email, what);
      pu_str_adds(&email, "@");
      pu_str_adds(&email, s->email_domain + (s->email_domain[0] == '@'));
      rc = email.oom ? -1 : lookup_email(s, email.p, deadline, &channel, r);
      if (email.oom) {
        r->status = IRIS_PLUGIN_RETRYABLE;
        snprintf(r->error, sizeof r->error, "out of memory looking the Slack user up");
      }
    } else {
      rc = lookup_name(s, what, deadline, &channel, r);
    }
    break;
  case DEST_BAD:
    r->status = IRIS_PLUGIN_PERMANENT;
    if (*dest)
      snprintf(r->error, sizeof r->error,
               "'%.*s' is no Slack user ID, conversation ID, #channel, email or user name",
               shown(dest, 100), dest);
    else
      snprintf(r->error, sizeof r->error, "no Slack channel or user to post to");
    break;
  }
  if (rc != 0)
    goto out;
  if (channel.oom) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Slack request");
    goto out;
  }
  if (!(payload = post_payload(s, m, channel.p, r)))
    goto out;
  call.body = json_dumps(payload, JSON_COMPACT);
  pu_str_adds(&call.url, s->base);
  pu_str_adds(&call.url, "/chat.postMessage");
  if (!call.body) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the Slack request");
    goto out;
  }
  if (pu_call_bearer(&call, s->host, "POST", "application/json; charset=utf-8", s->token,
                     s->timeout_ms) == 0 &&
      call.resp.body)
    answer = json_loadb(call.resp.body, call.resp.body_len, 0, NULL);
  if (api_outcome("chat.postMessage", channel.p, &call, answer, r) == 0) {
    const char *where = answer_text(answer, "channel", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                                    SLACK_ID_MAX);
    const char *ts = answer_text(answer, "ts", "0123456789.", 32);
    r->status = IRIS_PLUGIN_SENT;
    snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s/%s", where ? where : "",
             ts ? ts : "");
  }
out:
  json_decref(answer);
  json_decref(payload);
  pu_call_cleanup(&call);
  pu_str_free(&channel);
  pu_str_free(&email);
}

PU_MODE_OPS(slack_ops, "slack", init, send_msg, destroy, NULL);
PU_PLUGIN_ENTRY("slack", "1.1.0", &slack_ops)
