/* sender.c — per-record delivery with Iris's semantics (see sender.h). */
#include "sender.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "claim.h"
#include "clock.h"
#include "contact.h"
#include "contract.h"
#include "dispatch.h"
#include "plugin_host.h"
#include "plugin_loader.h"
#include "quota.h"
#include "record.h"
#include "recipients.h"
#include "render.h"
#include "reprioritize.h"
#include "push.h"
#include "sender_address.h"
#include "sqs_event.h"
#include "templates.h"
#include "tracking.h"
#include "utf8.h"
#include "vendor_call.h"

#define IRIS_LOG_MODULE "sender"
#include "log.h"

/* The most characters of an id from SQS or the Runtime API used as it is (bound_id). An
 * owner is two of them around a '/', within the 128 characters of sender_claim.owner. */
#define ID_MAX 60
_Static_assert(2 * ID_MAX + 1 <= 128, "an owner must fit sender_claim.owner");

/*
 * The priority chains and reprioritisation rules read for one batch, kept to serve the next
 * batches whose users are among those read, for sender.lookup_cache_ms (1000). In a burst
 * most batches page the same few people, and these two reads were two of a batch's dozen
 * round trips. A change to a contact or a rule reaches a warm sender within that time (Iris's
 * sender re-read its rules once a minute and its targets on every loop). 0 reads them for
 * every batch.
 */
struct kept_lookups {
  int64_t ttl_ms;
  struct iris_contacts *contacts; /* owned, or NULL */
  struct iris_contact_want *want; /* owned, with owned strings: what contacts answers */
  size_t nwant;
  int64_t contacts_ms;                   /* iris_clock_mono_ms() of the read */
  struct iris_reprioritize_rules *rules; /* owned, or NULL */
  char **targets;                        /* owned strings: whose rules were read */
  size_t ntargets;
  int64_t rules_ms;
};

static void kept_free_contacts(struct kept_lookups *k) {
  size_t i;
  for (i = 0; i < k->nwant; i++) {
    iris_free((char *)k->want[i].target);
    iris_free((char *)k->want[i].application);
  }
  iris_free(k->want);
  iris_contacts_free(k->contacts);
  k->want = NULL;
  k->nwant = 0;
  k->contacts = NULL;
}

static void kept_free_rules(struct kept_lookups *k) {
  size_t i;
  for (i = 0; i < k->ntargets; i++)
    iris_free(k->targets[i]);
  iris_free(k->targets);
  iris_reprioritize_rules_free(k->rules);
  k->targets = NULL;
  k->ntargets = 0;
  k->rules = NULL;
}

/* The kept priority chains when they answer every one of want[0..n) and are fresh, else NULL. */
static const struct iris_contacts *
kept_contacts_for(const struct kept_lookups *k, const struct iris_contact_want *want, size_t n) {
  size_t i, j;
  if (!k->contacts || iris_clock_mono_ms() - k->contacts_ms >= k->ttl_ms)
    return NULL;
  for (i = 0; i < n; i++) {
    for (j = 0; j < k->nwant; j++)
      if (k->want[j].priority_id == want[i].priority_id &&
          strcmp(k->want[j].target, want[i].target) == 0 &&
          strcmp(k->want[j].application, want[i].application) == 0)
        break;
    if (j == k->nwant)
      return NULL;
  }
  return k->contacts;
}

/* The kept rules when they were read for every one of targets[0..n) and are fresh, else NULL. */
static const struct iris_reprioritize_rules *kept_rules_for(const struct kept_lookups *k,
                                                            const char *const *targets, size_t n) {
  size_t i, j;
  if (!k->rules || iris_clock_mono_ms() - k->rules_ms >= k->ttl_ms)
    return NULL;
  for (i = 0; i < n; i++) {
    for (j = 0; j < k->ntargets && strcmp(k->targets[j], targets[i]) != 0; j++)
      ;
    if (j == k->ntargets)
      return NULL;
  }
  return k->rules;
}

/* Keep contacts (taken over) as the answer for want[0..n). Without memory for a full copy of
 * `want` they serve later batches only for the users copied. */
static void kept_set_contacts(struct kept_lookups *k, struct iris_contacts *contacts,
                              const struct iris_contact_want *want, size_t n) {
  size_t i;
  kept_free_contacts(k);
  k->contacts = contacts;
  k->contacts_ms = iris_clock_mono_ms();
  k->want = iris_calloc(n + 1, sizeof *k->want);
  for (i = 0; k->want && i < n; i++) {
    char *t = iris_strdup(want[i].target), *a = iris_strdup(want[i].application);
    if (!t || !a) {
      iris_free(t);
      iris_free(a);
      break;
    }
    k->want[k->nwant++] = (struct iris_contact_want){t, a, want[i].priority_id};
  }
}

/* Keep rules (taken over) as read for targets[0..n), as kept_set_contacts. */
static void kept_set_rules(struct kept_lookups *k, struct iris_reprioritize_rules *rules,
                           const char *const *targets, size_t n) {
  size_t i;
  kept_free_rules(k);
  k->rules = rules;
  k->rules_ms = iris_clock_mono_ms();
  k->targets = iris_calloc(n + 1, sizeof *k->targets);
  for (i = 0; k->targets && i < n; i++) {
    if (!(k->targets[i] = iris_strdup(targets[i])))
      break;
    k->ntargets++;
  }
}

struct iris_sender {
  struct iris_app *app;
  struct iris_plugins *plugins;
  struct iris_dispatch *dispatch;
  struct iris_templates *templates;
  struct iris_render_config rcfg;
  int64_t max_attempts, lease_s, backoff_base_s, backoff_max_s;
  int64_t max_receives;       /* the lanes' maxReceiveCount: the last receive before the DLQ */
  int64_t max_unrolled_users; /* ldap_lists.max_unrolled_users, for out-of-band lists */
  const char *fallback_mode;  /* sender.fallback_mode (Iris: email); NULL: no fallback */
  const char *sms_override;   /* sender.sms_override_template, NULL: not configured */
  int dry_run;                /* sender.dry_run: every mode goes to the dummy plugin */
  int move_lanes;             /* sender.move_to_lane: records move to their mode's lane */
  struct iris_sender_addresses *addresses; /* per-application From addresses (owned) */
  struct iris_push *push;                  /* FCM push before texts and calls (owned), or NULL */
  const char *dead_letter_url;
  const char *notifications_url; /* where soft-quota notices go, NULL: not sent */
  struct iris_quota_defaults quota;
  struct iris_quota_cache *quota_cache; /* rules and a batch's hits between flushes (owned) */
  struct iris_vendor_calls *calls; /* every send() runs in the helper process (vendor_call.h) */
  int64_t vendor_timeout_ms;       /* the longest one vendor call may take */
  int64_t deadline_margin_ms;      /* no vendor call starts with less time left than this */
  int64_t deadline_ms;             /* the current invocation's deadline (epoch ms), 0: none */
  const char *request_id;          /* the current invocation's, NULL in worker mode */
  int deferring;                   /* inside handle_batch: sent outcomes wait for flush_sent */
  size_t cur_slot;                 /* the batch's record being handled */
  struct pend **pend;              /* the batch's sent outcomes not yet recorded (owned) */
  size_t npend;
  struct fanout **ended; /* the batch's records with recipients whose recipients are all done:
                            they end after flush_sent (owned) */
  size_t nended;
  /* The batch's message rows, read in one query after its claims (handle_batch): ahead[i]
   * is the row of ahead_ids[i] (owned until load_message takes it) when ahead_state[i] is 1,
   * a row that does not exist when 2, taken or not read ahead when 0. */
  struct msgrow *ahead;
  int64_t *ahead_ids;
  int *ahead_state;
  size_t nahead;
  /* the rules of their targets and their priority chains, or NULL (borrowed from kept) */
  const struct iris_reprioritize_rules *ahead_rules;
  const struct iris_contacts *ahead_contacts;
  struct kept_lookups kept;
  /* Reprioritisation decided for the batch's fresh message claims at once (decide_ahead);
   * claim keys borrowed from the batch's slots. Owned array, nahead_decided items. */
  struct iris_reprioritize_item *ahead_decided;
  size_t nahead_decided;
  struct iris_delivery_list *collect; /* inside handle_batch: deliveries pause at their vendor
                                         call here (send_paused makes the calls), else NULL */
};

/* Deliveries paused at their vendor call (owned: each is finished or freed). */
struct delivery;
struct iris_delivery_list {
  struct delivery **v;
  size_t n;
};

struct pend;
static void pend_free(struct pend *p);
struct fanout;
static void fanout_free(struct fanout *f);

/* ---- set-up --------------------------------------------------------------------------- */

void iris_sender_free(struct iris_sender *s) {
  if (!s)
    return;
  while (s->npend) /* (flush_sent leaves none; a defensive sweep) */
    pend_free(s->pend[--s->npend]);
  iris_free(s->pend);
  while (s->nended) /* (handle_batch leaves none; a defensive sweep) */
    fanout_free(s->ended[--s->nended]);
  iris_free(s->ended);
  iris_vendor_calls_free(s->calls);
  iris_dispatch_free(s->dispatch);
  iris_plugins_free(s->plugins);
  iris_templates_free(s->templates);
  iris_sender_addresses_free(s->addresses);
  iris_push_free(s->push);
  iris_quota_cache_free(s->quota_cache);
  kept_free_contacts(&s->kept);
  kept_free_rules(&s->kept);
  iris_free(s);
}

/* sender.dry_run's vendors: the dummy plugin for every mode, recording what it would have sent
 * (its log line, and sender.dry_run_record_file when set), as Iris's debug / skipsend mode
 * replaced every vendor. A new reference (caller decrefs), NULL on allocation failure. */
static json_t *dry_run_vendors(const char *record_file) {
  const char *const *modes = iris_contract_lanes(); /* each mode's lane, then notifications */
  json_t *all = json_object();
  size_t i;
  for (i = 0; all && modes[i] && strcmp(modes[i], "notifications") != 0; i++) {
    json_t *cfg = record_file ? json_pack("{s:s}", "record_file", record_file) : json_object();
    json_t *one = cfg ? json_pack("[{s:s, s:s, s:o}]", "plugin", "dummy", "name", "dry-run",
                                  "config", cfg)
                      : NULL;
    if (!one || json_object_set_new(all, modes[i], one)) {
      json_decref(all);
      return NULL;
    }
  }
  return all;
}

/* Iris formats sms_override_template with the incident id (Python's %): exactly one %s or
 * %d, every other % doubled. */
static int override_template_ok(const char *t) {
  int slots = 0;
  for (; *t; t++) {
    if (*t != '%')
      continue;
    t++;
    if (*t == 's' || *t == 'd')
      slots++;
    else if (*t != '%')
      return 0;
  }
  return slots == 1;
}

/* The override text for an incident: the template with its %s / %d replaced. Caller frees. */
static char *override_text(const char *t, int64_t incident_id) {
  struct iris_buf b;
  int rc = IRIS_OK;
  iris_buf_init(&b, 0);
  for (; *t && rc == IRIS_OK; t++) {
    if (*t != '%') {
      rc = iris_buf_appendc(&b, *t);
      continue;
    }
    t++;
    rc = *t == '%' ? iris_buf_appendc(&b, '%') : iris_buf_appendf(&b, "%" PRId64, incident_id);
  }
  if (rc) {
    iris_buf_cleanup(&b);
    return NULL;
  }
  return iris_buf_take(&b, NULL);
}

int iris_sender_new(struct iris_app *app, struct iris_sender **out, struct iris_err *err) {
  struct iris_sender *s = NULL;
  struct iris_vendor_env env = {0};
  const char *dir = NULL;
  int64_t max_body = 40000, quota_ttl_s = 60, vendor_concurrency = 4;
  int rc;

  *out = NULL;
  if (!app->db)
    return iris_err_set(err, IRIS_EINVAL, "sender: the application has no database");
  s = iris_calloc(1, sizeof *s);
  if (!s)
    return iris_err_set(err, IRIS_ENOMEM, "sender: allocating");
  s->app = app;
  rc = iris_config_i64_or(app->cfg, "sender.max_attempts", 3, 1, 20, &s->max_attempts, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.lease_seconds", 120, 5, 43200, &s->lease_s, err);
  if (rc == IRIS_OK) /* 0: the queues have no redrive policy */
    rc = iris_config_i64_or(app->cfg, "sender.max_receives", 5, 0, 1000, &s->max_receives, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "ldap_lists.max_unrolled_users", 0, 0, 1000000000,
                            &s->max_unrolled_users, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.backoff_base_seconds", 15, 1, 3600,
                            &s->backoff_base_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.backoff_max_seconds", 900, 1, 43200,
                            &s->backoff_max_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.max_body_chars", 40000, 100, 10000000, &max_body,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.vendor_concurrency", 4, 1, 64, &vendor_concurrency,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.vendor_timeout_ms", 30000, 100, 900000,
                            &s->vendor_timeout_ms, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.deadline_margin_ms", 3000, 0, 600000,
                            &s->deadline_margin_ms, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "queues.dead_letter", NULL, &s->dead_letter_url, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "queues.notifications", NULL, &s->notifications_url, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.hard_limit", 6000, 1, 100000000, &s->quota.hard_limit,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.soft_limit", 600, 1, 100000000, &s->quota.soft_limit,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.hard_minutes", 1, 1, 10080, &s->quota.hard_minutes,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.soft_minutes", 1, 1, 10080, &s->quota.soft_minutes,
                            err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "quota.sender_app", NULL, &s->quota.sender_app, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "quota.rule_ttl_s", 60, 0, 3600, &quota_ttl_s, err);
  if (rc == IRIS_OK)
    rc = iris_config_i64_or(app->cfg, "sender.lookup_cache_ms", 1000, 0, 60000, &s->kept.ttl_ms,
                            err);
  if (rc == IRIS_OK)
    rc = iris_quota_cache_new(quota_ttl_s * 1000, &s->quota_cache, err);
  if (rc == IRIS_OK)
    rc = iris_config_bool_or(app->cfg, "oneclick.enabled", 0, &s->rcfg.oneclick, err);
  if (rc == IRIS_OK && s->rcfg.oneclick)
    rc = iris_config_get_str(app->cfg, "oneclick.endpoint", &s->rcfg.oneclick_endpoint, err);
  if (rc == IRIS_OK && s->rcfg.oneclick)
    rc = iris_config_get_str(app->cfg, "oneclick.key", &s->rcfg.oneclick_key, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "sender.fallback_mode", "email", &s->fallback_mode, err);
  if (rc == IRIS_OK && (!*s->fallback_mode || strcmp(s->fallback_mode, "none") == 0))
    s->fallback_mode = NULL;
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "sender.sms_override_template", NULL, &s->sms_override, err);
  if (rc == IRIS_OK && s->sms_override && !override_template_ok(s->sms_override))
    rc = iris_err_set(err, IRIS_ECONFIG,
                      "configuration: sender.sms_override_template must hold exactly one %%s or"
                      " %%d (the incident id), and %% only as %%%%");
  if (rc == IRIS_OK)
    rc = iris_config_bool_or(app->cfg, "sender.dry_run", 0, &s->dry_run, err);
  if (rc == IRIS_OK)
    rc = iris_config_bool_or(app->cfg, "sender.move_to_lane", 1, &s->move_lanes, err);
  if (rc == IRIS_OK)
    rc = iris_sender_addresses_new(60000, &s->addresses, err);
  if (rc == IRIS_OK)
    rc = iris_push_new(app->cfg, app->metrics, &s->push, err);
  if (rc == IRIS_OK)
    rc = iris_config_str_or(app->cfg, "plugins.dir", IRIS_PLUGIN_DEFAULT_DIR, &dir, err);
  s->rcfg.max_body = (size_t)max_body;
  if (rc == IRIS_OK)
    rc = iris_plugins_new(&s->plugins, err);
  if (rc == IRIS_OK)
    rc = iris_plugins_load_dir(s->plugins, dir, err);
  if (rc == IRIS_OK && iris_plugins_rejections(s->plugins))
    IRIS_LOG_WARN("%zu plugin(s) refused; see the log lines above",
                  iris_plugins_rejections(s->plugins));
  env.secret = iris_secrets_fetch;
  env.secret_data = app->secrets;
  env.metrics = app->metrics;
  if (rc == IRIS_OK && s->dry_run) {
    const char *record = NULL;
    json_t *dry = NULL;
    rc = iris_config_str_or(app->cfg, "sender.dry_run_record_file", NULL, &record, err);
    if (rc == IRIS_OK && !(dry = dry_run_vendors(record)))
      rc = iris_err_set(err, IRIS_ENOMEM, "sender: dry-run vendors");
    if (rc == IRIS_OK) {
      IRIS_LOG_WARN("DRY RUN (sender.dry_run): no page is delivered; every mode goes to the dummy"
                    " plugin, which only records what would have been sent");
      rc = iris_dispatch_new(s->plugins, dry, &env, &s->dispatch, err);
    }
    json_decref(dry);
  } else if (rc == IRIS_OK) {
    rc = iris_dispatch_new(s->plugins, iris_config_json(app->cfg, "vendors"), &env, &s->dispatch,
                           err);
  }
  if (rc == IRIS_OK)
    rc = iris_templates_new(60000, &s->templates, err);
  if (rc == IRIS_OK)
    rc = iris_vendor_calls_new(app->metrics, (size_t)vendor_concurrency, &s->calls, err);
  if (rc) {
    iris_sender_free(s);
    return rc;
  }
  *out = s;
  return IRIS_OK;
}

/* ---- what differs between record kinds: one table ---------------------------------------- */

/*
 * Every deliberate difference between the record kinds, as Iris's sender made it (its
 * message_send_enqueue, worker and render paths; docs/sender.md, "Record kinds"):
 *   recheck      re-read the message and its incident before sending: an inactive message or
 *                a claimed incident is suppressed (rows in message/incident only);
 *   changelog    Iris's message_changelog rows (mode changes, drops, failures) — only a message
 *                row can have them;
 *   quota        the application's quota counts it (first attempt only) and a hard breach
 *                drops it; Iris counted every message its workers sent, out-of-band ones too;
 *   call_to_sms  calls to +86 numbers become text messages with a note;
 *   body_limit   a body over sender.max_body_chars is dropped, not sent;
 *   fallback     a permanent or exhausted failure is tried once more by email (a named user's
 *                email: never for a literal destination);
 *   reprioritize a mode the priority chain resolved follows the user's reprioritisation rules.
 * Tracking copies are not counted by the quota: Iris counted them, but they are one per
 * incident, go to the plan's own tracking destination, and have no message to record a drop on.
 */
struct kind_policy {
  const char *kind;
  unsigned recheck : 1, changelog : 1, quota : 1, call_to_sms : 1, body_limit : 1, fallback : 1,
      reprioritize : 1;
};

static const struct kind_policy policies[] = {
    /* kind           recheck changelog quota call_to_sms body_limit fallback reprioritize */
    {"message", 1, 1, 1, 1, 1, 1, 1},
    {"batch", 1, 1, 1, 1, 1, 1, 1},
    {"tracking", 0, 0, 0, 1, 1, 0, 0},
    {"notification", 0, 0, 1, 1, 1, 1, 1},
};

static const struct kind_policy *policy_of(const char *kind) {
  size_t i;
  for (i = 1; i < sizeof policies / sizeof policies[0]; i++)
    if (strcmp(policies[i].kind, kind) == 0)
      return &policies[i];
  return &policies[0];
}

/* Iris's calling restriction, where the kind's policy applies it: a call to a +86 number
 * becomes a text message (the mode in `mode` changes); 1 when it did. */
static int restrict_call(const struct kind_policy *pol, char *mode, size_t mode_size,
                         const char *destination) {
  if (!pol->call_to_sms || strcmp(mode, "call") != 0 || !destination ||
      strncmp(destination, "+86", 3) != 0)
    return 0;
  snprintf(mode, mode_size, "sms");
  return 1;
}

/* Prefixed to pages that were calls to a country where automated calls are not allowed. */
#define CALL_RESTRICTION_NOTE \
  "Iris cannot place automated calls to numbers in China, so this page is a text message.\n\n"

/* The rendered body with the calling restriction's note before it. */
static int prefix_call_note(struct iris_rendered *r, struct iris_err *err) {
  char *b;
  if (!r->body)
    return IRIS_OK;
  b = iris_asprintf("%s%s", CALL_RESTRICTION_NOTE, r->body);
  if (!b)
    return iris_err_set(err, IRIS_ENOMEM, "sender: body");
  iris_free(r->body);
  r->body = b;
  return IRIS_OK;
}

/* ---- the message row -------------------------------------------------------------------- */

struct msgrow {
  int64_t id, priority_id, plan_id, incident_id, application_id;
  const int64_t *members; /* a batch: every member id (the representative included) */
  size_t nmembers;
  const char *batch_id;
  int active, sent, incident_active;
  char *destination, *mode, *body, *application, *target, *priority, *plan, *template_name,
      *incident_created, *dynamic_target;
  json_t *context;
};

static void msgrow_cleanup(struct msgrow *m) {
  iris_free(m->destination);
  iris_free(m->mode);
  iris_free(m->body);
  iris_free(m->application);
  iris_free(m->target);
  iris_free(m->priority);
  iris_free(m->plan);
  iris_free(m->template_name);
  iris_free(m->incident_created);
  iris_free(m->dynamic_target);
  json_decref(m->context);
  memset(m, 0, sizeof *m);
}

/* Copy column col (NULL stays NULL). */
static int col_dup(struct iris_db_rows *rows, size_t col, char **out, struct iris_err *err) {
  const char *v;
  int rc;
  *out = NULL;
  if (iris_db_is_null(rows, col))
    return IRIS_OK;
  rc = iris_db_get_str(rows, col, &v, NULL, err);
  if (rc == IRIS_OK && !(*out = iris_strdup(v)))
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: copying a column");
  return rc;
}

static int col_i64(struct iris_db_rows *rows, size_t col, int64_t *out, struct iris_err *err) {
  *out = 0;
  return iris_db_is_null(rows, col) ? IRIS_OK : iris_db_get_i64(rows, col, out, err);
}

/* The message rows' query, up to "WHERE m.id IN (" (iris_db_sql_rows adds the ids). */
static const char MESSAGE_QUERY[] =
    "SELECT m.id, m.active, m.sent IS NOT NULL, m.destination, mo.name, m.body,"
    " a.name, t.name, p.name, p.id, pl.name, pl.id, pn.template,"
    " m.incident_id, i.active, i.context,"
    " DATE_FORMAT(i.created, '%Y-%m-%d %H:%i:%s'), a.id, dt.name"
    " FROM message m JOIN application a ON a.id = m.application_id"
    " JOIN target t ON t.id = m.target_id JOIN priority p ON p.id = m.priority_id"
    " LEFT JOIN mode mo ON mo.id = m.mode_id LEFT JOIN plan pl ON pl.id = m.plan_id"
    " LEFT JOIN plan_notification pn ON pn.id = m.plan_notification_id"
    " LEFT JOIN incident i ON i.id = m.incident_id"
    " LEFT JOIN dynamic_plan_map dpm ON dpm.incident_id = m.incident_id"
    "  AND dpm.dynamic_index = pn.dynamic_index"
    " LEFT JOIN target dt ON dt.id = dpm.target_id WHERE m.id IN (";

/* The current row of a MESSAGE_QUERY result into *m (owned copies; msgrow_cleanup). */
static int msgrow_from(struct iris_db_rows *rows, struct msgrow *m, struct iris_err *err) {
  int64_t active = 0, sent = 0, iactive = 1;
  char *ctx = NULL;
  int rc;
  memset(m, 0, sizeof *m);
  if ((rc = col_i64(rows, 0, &m->id, err)) || (rc = col_i64(rows, 1, &active, err)) ||
      (rc = col_i64(rows, 2, &sent, err)) || (rc = col_dup(rows, 3, &m->destination, err)) ||
      (rc = col_dup(rows, 4, &m->mode, err)) || (rc = col_dup(rows, 5, &m->body, err)) ||
      (rc = col_dup(rows, 6, &m->application, err)) || (rc = col_dup(rows, 7, &m->target, err)) ||
      (rc = col_dup(rows, 8, &m->priority, err)) ||
      (rc = col_i64(rows, 9, &m->priority_id, err)) || (rc = col_dup(rows, 10, &m->plan, err)) ||
      (rc = col_i64(rows, 11, &m->plan_id, err)) ||
      (rc = col_dup(rows, 12, &m->template_name, err)) ||
      (rc = col_i64(rows, 13, &m->incident_id, err)) ||
      (m->incident_id && !iris_db_is_null(rows, 14) && (rc = col_i64(rows, 14, &iactive, err))) ||
      (rc = col_dup(rows, 15, &ctx, err)) || (rc = col_dup(rows, 16, &m->incident_created, err)) ||
      (rc = col_i64(rows, 17, &m->application_id, err)) ||
      (rc = col_dup(rows, 18, &m->dynamic_target, err))) {
    iris_free(ctx);
    msgrow_cleanup(m);
    return rc;
  }
  m->active = active != 0;
  m->sent = sent != 0;
  m->incident_active = iactive != 0;
  if (ctx) {
    m->context = json_loads(ctx, 0, NULL);
    if (!json_is_object(m->context)) {
      /* Iris stores JSON; an unreadable context renders as an empty one. */
      IRIS_LOG_WARN("incident %" PRId64 " has an unreadable context", m->incident_id);
      json_decref(m->context);
      m->context = NULL;
    }
    iris_free(ctx);
  }
  return IRIS_OK;
}

/*
 * Read the n message rows of ids[] in one query. out[i] gets the row of ids[i] (owned,
 * msgrow_cleanup), found[i] whether it exists. IRIS_ENOMEM and the db.h errors.
 */
static int load_messages(struct iris_db *db, const int64_t *ids, size_t n, struct msgrow *out,
                         int *found, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param *p = iris_calloc(n ? n : 1, sizeof *p);
  struct iris_buf sql;
  struct msgrow m;
  size_t i;
  int rc;

  iris_buf_init(&sql, 1 << 16);
  for (i = 0; i < n; i++) {
    found[i] = 0;
    memset(&out[i], 0, sizeof out[i]);
    if (p)
      p[i] = IRIS_DB_I64(ids[i]);
  }
  if (!p || (rc = iris_db_sql_rows(&sql, MESSAGE_QUERY, "?", ", ", n, ")")) != IRIS_OK) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: reading %zu messages", n);
    goto out;
  }
  if ((rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sql), p, n, &rows, err)))
    goto out;
  while ((rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    if ((rc = msgrow_from(rows, &m, err)))
      break;
    for (i = 0; i < n && (ids[i] != m.id || found[i]); i++)
      ;
    if (i < n) {
      out[i] = m; /* (ownership moves) */
      found[i] = 1;
    } else {
      msgrow_cleanup(&m);
    }
  }
out:
  if (rc)
    for (i = 0; i < n; i++)
      if (found[i]) {
        msgrow_cleanup(&out[i]);
        found[i] = 0;
      }
  iris_db_rows_free(rows);
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}

/* The message to deliver: the one the batch read ahead (handle_batch), else read now.
 * IRIS_ENOTFOUND when it does not exist. */
static int load_message(struct iris_sender *s, int64_t id, struct msgrow *m, struct iris_err *err) {
  int found = 0, rc;
  size_t i;
  for (i = 0; i < s->nahead; i++)
    if (s->ahead_ids[i] == id && s->ahead_state[i]) {
      found = s->ahead_state[i] == 1;
      if (found)
        *m = s->ahead[i]; /* (ownership moves) */
      else
        memset(m, 0, sizeof *m);
      s->ahead_state[i] = 0; /* read once: a repeat reads again */
      return found ? IRIS_OK : IRIS_ENOTFOUND;
    }
  rc = load_messages(s->app->db, &id, 1, m, &found, err);
  return rc ? rc : found ? IRIS_OK : IRIS_ENOTFOUND;
}

/* ---- outcome helpers ------------------------------------------------------------------ */

static void metric(struct iris_sender *s, const char *name, const char *mode, const char *vendor) {
  const char *dims[] = {"Mode", mode ? mode : "none", "Vendor", vendor ? vendor : "none", NULL};
  (void)iris_metrics_put(s->app->metrics, name, 1, IRIS_METRIC_COUNT, dims);
}

/* What one delivery ends with; recorded by settle() with the claim's final state. */
enum outcome_kind { OUTCOME_SENT, OUTCOME_FAILED, OUTCOME_SUPPRESSED };

struct outcome {
  enum outcome_kind kind;
  const struct msgrow *m; /* sent, failed: the message (a batch: every member); NULL:
                                    a notification's recipient, only the claim is recorded */
  int64_t message_id;     /* suppressed: the message, 0 if none */
  int deactivate;         /* suppressed: message.active = 0 as well */
  const char *mode, *destination;
  const struct iris_rendered *r; /* sent */
  struct iris_vendor *v;         /* sent by, or the vendor of the last failed attempt; NULL */
  const char *vendor_id;
  const char *why; /* failed, suppressed */
};

/*
 * The statements of n outcomes, inside settle_all()'s transaction, in the lock order every
 * writer of these tables follows (docs/coordinator.md, "Locks"): the claims in ascending key,
 * then the message rows in ascending id, then their status and changelog rows (only inserted),
 * then the coordinator's markers in ascending message id — so a batch's transaction and the
 * coordinator's can wait for each other but never deadlock.
 */
struct row_ref {
  int64_t id; /* the message */
  size_t out; /* its outcome */
};

static int by_claim_key(const void *a, const void *b) {
  return strcmp((*(const struct iris_claim *const *)a)->key,
                (*(const struct iris_claim *const *)b)->key);
}

static int by_message_id(const void *a, const void *b) {
  const struct row_ref *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Every outcome sent: each step one multi-row statement (claims, message rows with their
 * content and status rows, markers), in the same lock order. IRIS_ESTATE when a row did not
 * match (a claim taken over, a message gone): the caller rolls back and goes row by row. */
static int record_all_sent(struct iris_db *db, const struct iris_claim *const *ck,
                           const struct iris_claim *const *c, const struct outcome *const *o,
                           size_t n, const struct row_ref *rows, size_t nrows,
                           struct iris_err *err) {
  struct iris_claim_sent_row *cs = iris_calloc(n, sizeof *cs);
  struct iris_record_sent_row *ms = iris_calloc(nrows ? nrows : 1, sizeof *ms);
  int64_t *ids = iris_calloc(nrows ? nrows : 1, sizeof *ids);
  size_t i, k;
  int rc = IRIS_OK;

  if (!cs || !ms || !ids) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: recording outcomes");
    goto out;
  }
  for (i = 0; i < n; i++) {
    const struct outcome *oc = NULL;
    for (k = 0; k < n && !oc; k++)
      if (c[k] == ck[i])
        oc = o[k];
    cs[i].c = ck[i];
    cs[i].mode = oc->mode;
    cs[i].vendor = oc->v ? iris_vendor_name(oc->v) : NULL;
    cs[i].vendor_message_id = oc->vendor_id;
  }
  for (i = 0; i < nrows; i++) {
    const struct outcome *oc = o[rows[i].out];
    ms[i].message_id = ids[i] = rows[i].id;
    ms[i].mode = oc->mode;
    ms[i].destination = oc->destination;
    ms[i].template_id = oc->r->template_id;
    ms[i].subject = oc->r->subject;
    ms[i].body = oc->r->body;
    ms[i].batch_id = oc->m->batch_id;
    ms[i].plugin = oc->v ? iris_vendor_plugin(oc->v) : NULL;
    ms[i].vendor_message_id = oc->vendor_id;
  }
  if ((rc = iris_claim_sent_many(db, cs, n, err)) == IRIS_OK &&
      (rc = iris_record_sent_many(db, ms, nrows, err)) == IRIS_OK)
    rc = iris_record_enqueue_done_many(db, ids, nrows, err);
out:
  iris_free(cs);
  iris_free(ms);
  iris_free(ids);
  return rc;
}

static int record_outcomes(struct iris_db *db, const struct iris_claim *const *c,
                           const struct outcome *const *o, size_t n, int together,
                           struct iris_err *err) {
  const struct iris_claim **ck = iris_calloc(n ? n : 1, sizeof *ck);
  struct row_ref *rows = NULL;
  size_t i, k, nrows = 0, cap = 0;
  int rc = IRIS_OK;

  if (!ck) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: recording outcomes");
    goto out;
  }
  /* The message rows each outcome records: a batch every member, a message itself, a
   * suppression the message it names, a notification none. */
  for (i = 0; i < n; i++)
    cap += o[i]->m ? (o[i]->m->batch_id ? o[i]->m->nmembers : 1) : (o[i]->message_id ? 1 : 0);
  rows = iris_calloc(cap ? cap : 1, sizeof *rows);
  if (!rows) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: recording outcomes");
    goto out;
  }
  for (i = 0; i < n; i++) {
    size_t m = o[i]->m && o[i]->m->batch_id ? o[i]->m->nmembers : 1;
    for (k = 0; k < m; k++) {
      int64_t id = o[i]->m ? (o[i]->m->batch_id ? o[i]->m->members[k] : o[i]->m->id)
                           : o[i]->message_id;
      if (id) {
        rows[nrows].id = id;
        rows[nrows++].out = i;
      }
    }
  }
  qsort(rows, nrows, sizeof *rows, by_message_id);
  /* 1. the claims, ascending key (each outcome keeps its own: sort pointers to claims and
   *    find their outcomes by position) */
  for (i = 0; i < n; i++)
    ck[i] = c[i];
  qsort(ck, n, sizeof *ck, by_claim_key);
  for (i = 0; i < n && together; i++)
    together = o[i]->kind == OUTCOME_SENT; /* (a recipient's: its claim alone) */
  if (together) {
    rc = record_all_sent(db, ck, c, o, n, rows, nrows, err);
    goto out;
  }
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    const struct outcome *oc = NULL;
    for (k = 0; k < n && !oc; k++)
      if (c[k] == ck[i])
        oc = o[k];
    if (oc->kind == OUTCOME_SUPPRESSED)
      rc = iris_claim_suppressed(db, ck[i], oc->why, err);
    else if (oc->kind == OUTCOME_SENT)
      rc = iris_claim_sent(db, ck[i], oc->mode, oc->v ? iris_vendor_name(oc->v) : NULL,
                           oc->vendor_id, err);
    else
      rc = iris_claim_failed(db, ck[i], 1, 0, oc->why, err);
  }
  /* 2. the message rows, ascending id */
  for (i = 0; i < nrows && rc == IRIS_OK; i++) {
    const struct outcome *oc = o[rows[i].out];
    if (oc->kind == OUTCOME_SENT)
      rc = iris_record_sent(db, rows[i].id, oc->mode, oc->destination, oc->r->template_id,
                            oc->r->subject, oc->r->body, oc->m->batch_id, err);
    else if (oc->kind == OUTCOME_FAILED || oc->deactivate)
      rc = iris_record_deactivate(db, rows[i].id, err);
  }
  /* 3. status and changelog rows (inserted) */
  for (i = 0; i < nrows && rc == IRIS_OK; i++) {
    const struct outcome *oc = o[rows[i].out];
    if (oc->kind == OUTCOME_SENT && oc->v)
      rc = iris_record_status(db, rows[i].id, oc->mode, iris_vendor_plugin(oc->v), oc->vendor_id,
                              1, err);
    else if (oc->kind == OUTCOME_FAILED) {
      rc = iris_record_status(db, rows[i].id, oc->mode, NULL, NULL, 0, err);
      if (rc == IRIS_OK)
        rc = iris_record_change(db, rows[i].id, "sent-change", oc->mode, "failed", oc->why, err);
    }
  }
  /* 4. the coordinator's markers, ascending message id */
  for (i = 0; i < nrows && rc == IRIS_OK; i++)
    rc = iris_record_enqueue_done(db, rows[i].id, err);
out:
  iris_free(ck);
  iris_free(rows);
  return rc;
}

/*
 * Record n outcomes (claims c[i] with outcomes o[i]) in one transaction. A deadlock re-runs it
 * at once. A lost connection (the database restarting) must not lose a decision — least of all
 * a page the vendor already accepted, which a redelivery would send again after the lease: so
 * the transaction is re-run while the claims are surely still ours (half the lease, at most
 * 30 s), each time first asking whether the lost commit landed after all (the last claim's
 * state tells for the whole transaction).
 * With with_quota, the batch's pending quota hits are written last in the same transaction
 * (sender_quota_counter comes last in the lock order), saving the batch a commit; a quota
 * write that fails for any reason but a deadlock or a lost connection does not fail the
 * outcomes: the hits stay pending for handle_batch's own flush.
 */
static int settle_all(struct iris_sender *s, const struct iris_claim *const *c,
                      const struct outcome *const *o, size_t n, int with_quota,
                      struct iris_err *err) {
  static const char *const states[] = {"sent", "failed", "suppressed"};
  struct iris_db *db = s->app->db;
  int64_t patience_ms = (s->lease_s < 60 ? s->lease_s : 60) * 500;
  int64_t deadline = iris_clock_mono_ms() + patience_ms, pause_ms = 250;
  int rc, deadlocks = 0, lost = 0, together = n > 1, quota_in = 0;
  size_t i;

  for (;;) {
    quota_in = 0;
    rc = iris_db_begin(db, err);
    if (rc == IRIS_OK)
      rc = record_outcomes(db, c, o, n, together, err);
    if (rc == IRIS_OK && with_quota && iris_quota_pending(s->quota_cache)) {
      struct iris_err qerr = {0};
      int qrc = iris_quota_write_pending(db, s->quota_cache, &qerr);
      if (qrc == IRIS_EBUSY || qrc == IRIS_ECONN || qrc == IRIS_ENOMEM)
        rc = iris_err_set(err, qrc, "%s", qerr.msg);
      else if (qrc)
        IRIS_LOG_WARN("quota: the batch's hits could not be written with its outcomes (%s); "
                      "writing them on their own",
                      qerr.msg);
      else
        quota_in = 1;
    }
    if (rc == IRIS_OK)
      rc = iris_db_commit(db, err);
    else
      (void)iris_db_rollback(db, NULL);
    if (rc == IRIS_ESTATE && together) { /* row by row, to tell which one */
      together = 0;
      continue;
    }
    if (rc == IRIS_EBUSY && ++deadlocks < 3)
      continue;
    if (rc != IRIS_ECONN || iris_clock_mono_ms() + pause_ms > deadline)
      break;
    if (!lost++)
      IRIS_LOG_WARN("claim %s%s: recording '%s' failed (%s); retrying for up to %lld s",
                    c[n - 1]->key, n > 1 ? " and its batch" : "", states[o[n - 1]->kind], err->msg,
                    (long long)(patience_ms / 1000));
    iris_clock_sleep_ms(pause_ms);
    pause_ms = pause_ms < 2000 ? pause_ms * 2 : 2000;
    {
      struct iris_err qerr = {0};
      int landed = 0;
      if (iris_claim_in_state(db, c[n - 1], states[o[n - 1]->kind], &landed, &qerr) == IRIS_OK &&
          landed) {
        rc = IRIS_OK;
        break;
      }
    }
  }
  if (rc == IRIS_OK && quota_in)
    iris_quota_forget_pending(s->quota_cache);
  if (rc == IRIS_OK && lost)
    IRIS_LOG_INFO("claim %s%s: '%s' recorded after %d lost connection(s)", c[n - 1]->key,
                  n > 1 ? " and its batch" : "", states[o[n - 1]->kind], lost);
  for (i = 0; rc && n == 1 && i < n; i++)
    if (o[i]->kind == OUTCOME_SENT && o[i]->v)
      IRIS_LOG_ERR("claim %s: %s accepted the page but it could not be recorded (%s); after "
                   "the lease another delivery may send it again",
                   c[i]->key, iris_vendor_name(o[i]->v), err->msg);
  return rc;
}

static int settle(struct iris_sender *s, const struct iris_claim *c, const struct outcome *o,
                  struct iris_err *err) {
  return settle_all(s, &c, &o, 1, 0, err);
}

/* ---- outcomes recorded with the batch's ----------------------------------------------- */

/* A sent outcome kept for the batch's transaction, with copies of everything it records
 * (the delivery's own buffers are gone by then). */
struct pend {
  size_t slot;       /* the record (handle_batch's slot) */
  int recipient;     /* a recipient's claim (of a notification or tracking copy) */
  struct fanout *f;  /* its record (borrowed; it ends after flush_sent), or NULL */
  char *key, *owner; /* owned; c points into them */
  struct iris_claim c;
  struct msgrow m; /* only id, members, nmembers, batch_id: owned copies */
  int64_t *members;
  char *batch_id, *mode, *destination, *vendor_id; /* owned */
  struct iris_rendered r; /* owned copies of subject and body, the template id */
  struct outcome o;       /* points into the above */
};

static void pend_free(struct pend *p) {
  if (!p)
    return;
  iris_free(p->key);
  iris_free(p->owner);
  iris_free(p->members);
  iris_free(p->batch_id);
  iris_free(p->mode);
  iris_free(p->destination);
  iris_free(p->vendor_id);
  iris_rendered_cleanup(&p->r);
  iris_free(p);
}

static char *dup_or_null(const char *v, int *oom) {
  char *d = v ? iris_strdup(v) : NULL;
  if (v && !d)
    *oom = 1;
  return d;
}

/* Keep a sent outcome for the batch's transaction (handle_batch records them all at once): a
 * message's (m and r), or — m and r NULL — a recipient's of record f, of which only the claim
 * is recorded (f learns of a failure to record it: flush_sent). */
static int defer_sent(struct iris_sender *s, struct fanout *f, const struct iris_claim *c,
                      const struct msgrow *m, const char *mode, const char *destination,
                      const struct iris_rendered *r, struct iris_vendor *v, const char *vendor_id,
                      struct iris_err *err) {
  struct pend *p = iris_calloc(1, sizeof *p), **grown;
  size_t k, n = m && m->batch_id ? m->nmembers : 0;
  int oom = !p;
  if (p) {
    p->slot = s->cur_slot;
    p->recipient = !m;
    p->f = f;
    p->key = dup_or_null(c->key, &oom);
    p->owner = dup_or_null(c->owner, &oom);
    p->batch_id = dup_or_null(m ? m->batch_id : NULL, &oom);
    p->mode = dup_or_null(mode, &oom);
    p->destination = dup_or_null(destination, &oom);
    p->vendor_id = dup_or_null(vendor_id, &oom);
    p->r.subject = dup_or_null(r ? r->subject : NULL, &oom);
    p->r.body = dup_or_null(r ? r->body : NULL, &oom);
    p->r.template_id = r ? r->template_id : 0;
    p->members = n ? iris_calloc(n, sizeof *p->members) : NULL;
    oom |= n && !p->members;
    for (k = 0; !oom && k < n; k++)
      p->members[k] = m->members[k];
  }
  grown = oom ? NULL : iris_realloc(s->pend, (s->npend + 1) * sizeof *s->pend);
  if (!grown) {
    pend_free(p);
    return iris_err_set(err, IRIS_ENOMEM, "sender: keeping an outcome for the batch");
  }
  s->pend = grown;
  p->c = *c;
  p->c.key = p->key;
  p->c.owner = p->owner;
  p->c.batch_id = p->batch_id;
  if (m) {
    p->m.id = m->id;
    p->m.members = p->members;
    p->m.nmembers = n;
    p->m.batch_id = p->batch_id;
    p->o.m = &p->m;
    p->o.r = &p->r;
  }
  p->o.kind = OUTCOME_SENT;
  p->o.mode = p->mode;
  p->o.destination = p->destination;
  p->o.v = v;
  p->o.vendor_id = p->vendor_id;
  s->pend[s->npend++] = p;
  return IRIS_OK;
}

static void sent_logged(struct iris_sender *s, const struct msgrow *m, const char *mode,
                        const char *destination, struct iris_vendor *v, const char *vendor_id) {
  const char *vname = v ? iris_vendor_name(v) : NULL;
  IRIS_LOG_INFO("message %" PRId64 " sent by %s to %s as %s%s%s", m->id, vname ? vname : "-",
                destination ? destination : "-", mode,
                vendor_id && *vendor_id ? ", vendor id " : "", vendor_id ? vendor_id : "");
  metric(s, strcmp(mode, "drop") == 0 ? "dropped" : "sent", mode, vname);
}

static int settle_suppressed(struct iris_sender *s, const struct iris_claim *c, int64_t message_id,
                             const char *reason, int deactivate, struct iris_err *err) {
  struct outcome o = {.kind = OUTCOME_SUPPRESSED,
                      .message_id = message_id,
                      .deactivate = deactivate,
                      .why = reason};
  int rc = settle(s, c, &o, err);
  if (rc == IRIS_OK) {
    IRIS_LOG_INFO("message %" PRId64 " not sent: %s", message_id, reason);
    metric(s, "suppressed", NULL, NULL);
  }
  return rc;
}

/* Sent (or dropped): recorded now, or — inside a batch — with the batch's other sent
 * outcomes in one transaction at its end (flush_sent). */
static int settle_sent(struct iris_sender *s, const struct iris_claim *c, const struct msgrow *m,
                       const char *mode, const char *destination, const struct iris_rendered *r,
                       struct iris_vendor *v, const char *vendor_id, struct iris_err *err) {
  struct outcome o = {.kind = OUTCOME_SENT,
                      .m = m,
                      .mode = mode,
                      .destination = destination,
                      .r = r,
                      .v = v,
                      .vendor_id = vendor_id};
  int rc;
  if (s->deferring)
    return defer_sent(s, NULL, c, m, mode, destination, r, v, vendor_id, err);
  rc = settle(s, c, &o, err);
  if (rc == IRIS_OK)
    sent_logged(s, m, mode, destination, v, vendor_id);
  return rc;
}

/* v: the vendor of the last failed attempt, NULL if none was called. */
static int settle_failed(struct iris_sender *s, const struct iris_claim *c, const struct msgrow *m,
                         const char *mode, struct iris_vendor *v, const char *why,
                         struct iris_err *err) {
  struct outcome o = {.kind = OUTCOME_FAILED, .m = m, .mode = mode, .v = v, .why = why};
  int rc = settle(s, c, &o, err);
  if (rc == IRIS_OK) {
    IRIS_LOG_ERR("message %" PRId64 " could not be delivered: %s", m->id, why);
    metric(s, "failed", mode, v ? iris_vendor_name(v) : NULL);
  }
  return rc;
}

static int backoff_s(const struct iris_sender *s, int attempts) {
  int64_t b = s->backoff_base_s;
  int k;
  for (k = 1; k < attempts && b < s->backoff_max_s; k++)
    b *= 2;
  return (int)(b > s->backoff_max_s ? s->backoff_max_s : b);
}

/*
 * How long to wait before retrying after a vendor's retryable or rate-limited answer, in whole
 * seconds within [1, sender.backoff_max_seconds]. A plugin's retry-after is outside data: a
 * maximal value must not overflow, a decades-away one must not keep the page (and its email
 * fallback) from ever going out, a negative one must not land in the past.
 */
static int vendor_wait_s(const struct iris_sender *s, const struct iris_plugin_result *res,
                         int attempts) {
  int64_t ms = res->retry_after_ms;
  if (res->status != IRIS_PLUGIN_RATE_LIMITED && ms <= 0)
    return backoff_s(s, attempts);
  if (ms <= 0)
    return 1;
  if (ms >= s->backoff_max_s * 1000)
    return (int)s->backoff_max_s;
  return (int)((ms + 999) / 1000);
}

/* ---- one message -------------------------------------------------------------------------- */

/* After an error before any vendor call, give the claim back so the next delivery need not
 * wait out the lease (best effort: the database may be what failed). */
static void release(struct iris_sender *s, const struct iris_claim *c, int retry_after_s,
                    const char *why) {
  struct iris_err rerr = {0};
  int rc = iris_claim_release(s->app->db, c, (int64_t)retry_after_s * 1000, why, &rerr);
  if (rc && rc != IRIS_ESTATE)
    IRIS_LOG_WARN("claim %s stays held until its lease ends: %s", c->key, rerr.msg);
}

/* After the deadline stopped a delivery (IRIS_ETIMEOUT), in `claimed` or in `sending` after a
 * failed attempt (the vendor did not take the page): failed, retryable in a second, so the
 * next delivery takes it at once (best effort, as release()). */
static void give_back(struct iris_sender *s, const struct iris_claim *c, const char *why) {
  struct iris_err gerr = {0};
  int rc = iris_claim_failed(s->app->db, c, 0, 1000, why, &gerr);
  if (rc && rc != IRIS_ESTATE)
    IRIS_LOG_WARN("claim %s stays held until its lease ends: %s", c->key, gerr.msg);
}

/* Tell the quota's owner, by email through the notifications lane, that an application is
 * over its soft quota (Iris's notify_target; the election makes it once per 30 minutes). */
static void soft_quota_notice(struct iris_sender *s, const char *application,
                              const struct iris_quota_verdict *qv) {
  struct iris_err err = {0};
  struct iris_sqs_out out = {0};
  char subject[300], body[1024], id[40];
  json_t *doc;
  char *text;
  if (!s->notifications_url || !s->quota.sender_app || !s->app->sqs) {
    IRIS_LOG_WARN("application %s is over its soft quota (%lld > %lld in %lld min); no "
                  "notifications queue or quota.sender_app configured to tell %s",
                  application, (long long)qv->usage, (long long)qv->limit, (long long)qv->minutes,
                  qv->target);
    return;
  }
  snprintf(subject, sizeof subject, "Application %s exceeding message quota", application);
  snprintf(body, sizeof body,
           "Hi,\n\nYour application %s is currently exceeding its soft quota of %lld messages "
           "per %lld minutes.\n\nIf this continues, its messages will eventually be dropped "
           "on the floor and an Iris incident will be raised.\n\nRegards,\nIris",
           application, (long long)qv->limit, (long long)qv->minutes);
  snprintf(id, sizeof id, "quota-%s-%lld", application, (long long)(iris_clock_now_ms() / 1000));
  doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "kind", "notification",
                  "notification_id", id, "application", s->quota.sender_app, "target", qv->target,
                  "role", qv->target_role[0] ? qv->target_role : "user", "mode", "email",
                  "subject", subject, "body", body);
  text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  out.body = text;
  if (!text || iris_sqs_send(s->app->sqs, s->notifications_url, &out, NULL, &err))
    IRIS_LOG_ERR("could not queue the soft-quota notice for %s: %s", application,
                 text ? err.msg : "out of memory");
  iris_free(text);
}

/* Build a render request from the row. */
static struct iris_render_request render_req(const struct msgrow *m, const char *mode,
                                             const char *destination) {
  struct iris_render_request q;
  memset(&q, 0, sizeof q);
  q.mode = mode;
  q.message_id = m->id;
  q.incident_id = m->incident_id;
  q.application = m->application;
  q.target = m->target;
  q.priority = m->priority;
  q.priority_id = m->priority_id;
  q.plan = m->plan;
  q.plan_id = m->plan_id;
  q.template_name = m->template_name;
  q.incident_created = m->incident_created;
  q.dynamic_target = m->dynamic_target;
  q.context = m->context;
  if (m->template_name) {
    q.body_prefix = m->body;
  } else {
    q.body = m->body ? m->body : "";
    q.subject = NULL;
  }
  q.destination = destination;
  if (m->batch_id) {
    q.batch_id = m->batch_id;
    q.batch_count = m->nmembers;
  }
  return q;
}

/* Milliseconds left before the invocation's deadline, INT64_MAX without one. */
static int64_t time_left_ms(const struct iris_sender *s) {
  return s->deadline_ms ? s->deadline_ms - iris_clock_now_ms() : INT64_MAX;
}

/* IRIS_ETIMEOUT (the reason in err) when too little time is left to start a vendor call: the
 * caller gives the claim back (give_back) and the record is retried by a later invocation. */
static int time_for_a_call(const struct iris_sender *s, struct iris_err *err) {
  int64_t left = time_left_ms(s);
  if (left >= s->deadline_margin_ms)
    return IRIS_OK;
  return iris_err_set(err, IRIS_ETIMEOUT,
                      "the invocation's deadline is %lld ms away, below "
                      "sender.deadline_margin_ms (%lld): no vendor call started",
                      (long long)left, (long long)s->deadline_margin_ms);
}

/* The vendor call, in the helper process and bounded by sender.vendor_timeout_ms and by the
 * time left (keeping half the margin to record the outcome); timed: metric vendor_latency (ms)
 * by mode and vendor. */
/* How long a vendor call starting now may take: sender.vendor_timeout_ms, and never past the
 * invocation's deadline less half the margin (the rest is for recording its outcome). */
static int64_t call_limit_ms(const struct iris_sender *s) {
  int64_t limit = s->vendor_timeout_ms, left = time_left_ms(s) - s->deadline_margin_ms / 2;
  return left < limit ? left : limit;
}

static void timed_send(struct iris_sender *s, struct iris_vendor *v,
                       const struct iris_plugin_message *pm, struct iris_plugin_result *res) {
  const char *dims[] = {"Mode", pm->mode, "Vendor", iris_vendor_name(v), NULL};
  int64_t t0 = iris_clock_mono_ms();
  iris_vendor_calls_send(s->calls, v, pm, call_limit_ms(s), s->request_id, res);
  (void)iris_metrics_put(s->app->metrics, "vendor_latency", (double)(iris_clock_mono_ms() - t0),
                         IRIS_METRIC_MILLISECONDS, dims);
}

/*
 * The extra fields a page carries to its vendor, as Iris's SMTP vendor took them: the
 * application's own From address for the mode (application_custom_sender_address), and for
 * tracking copies (sent as no-reply) a Reply-To of the destination itself. kv has room for 2;
 * the values are borrowed (the address until the next lookup). Returns how many were set.
 */
static size_t page_extras(struct iris_sender *s, const char *application, const char *mode,
                          const char *reply_to, struct iris_plugin_kv kv[2]) {
  struct iris_err aerr = {0};
  const char *from = NULL;
  size_t n = 0;
  if (iris_sender_address(s->addresses, s->app->db, application, mode, &from, &aerr) != IRIS_OK)
    IRIS_LOG_WARN("per-application From addresses not refreshed (%s): the last ones are used",
                  aerr.msg);
  if (from) {
    kv[n].key = "from_address";
    kv[n++].value = from;
  }
  if (reply_to) {
    kv[n].key = "reply_to";
    kv[n++].value = reply_to;
  }
  return n;
}

/* One vendor attempt; fills result and the vendor used. IRIS_ENOTFOUND if no vendor. */
static int attempt(struct iris_sender *s, const struct iris_claim *c, const struct msgrow *m,
                   const char *mode, const char *destination, const struct iris_rendered *r,
                   int attempt_no, struct iris_plugin_result *res, struct iris_vendor **used,
                   struct iris_err *err) {
  struct iris_vendor *v = iris_dispatch_pick(s->dispatch, mode, attempt_no);
  struct iris_plugin_message pm;
  struct iris_plugin_kv extra[2];
  const char *dests[1] = {destination};
  char idtext[24];
  int rc;
  *used = v;
  if (!v)
    return iris_err_set(err, IRIS_ENOTFOUND, "no vendor is configured for mode %s", mode);
  rc = time_for_a_call(s, err);
  if (rc == IRIS_OK)
    rc = iris_claim_sending(s->app->db, c, mode, iris_vendor_name(v), err);
  if (rc)
    return rc;
  snprintf(idtext, sizeof idtext, "%" PRId64, m->id);
  memset(&pm, 0, sizeof pm);
  pm.struct_size = sizeof pm;
  pm.message_id = idtext;
  pm.mode = mode;
  pm.destinations = dests;
  pm.ndestinations = destination ? 1 : 0;
  pm.subject = r->subject;
  pm.body = r->body ? r->body : "";
  pm.email_html = r->email_html;
  pm.application = m->application;
  pm.priority = m->priority;
  pm.incident_id = m->incident_id;
  pm.plan = m->plan;
  pm.target = m->target;
  pm.extra = extra;
  pm.nextra = page_extras(s, m->application, mode, NULL, extra);
  timed_send(s, v, &pm, res);
  return IRIS_OK;
}

/* What fall_back() did. */
struct fallen {
  int accepted;      /* the email vendor took the page (recorded as sent, or being recorded) */
  char failure[800]; /* the failure it recorded, "" if none */
};

/* Permanent failure or attempts exhausted: Iris's email fallback, then a recorded failure.
 * failed_v: the vendor whose attempt failed, NULL if there was none. */
static int fall_back(struct iris_sender *s, const struct iris_claim *c, const struct msgrow *m,
                     const char *mode, struct iris_vendor *failed_v, const char *why, int attempts,
                     enum iris_sender_verdict *verdict, struct fallen *out, struct iris_err *err) {
  struct iris_contact email = {0};
  struct iris_rendered r = {0};
  struct iris_render_request q;
  struct iris_plugin_result res;
  struct iris_vendor *v = NULL;
  struct iris_err ferr = {0};
  const char *fb = s->fallback_mode; /* Iris: always email (sender.fallback_mode) */
  int rc;

  *verdict = IRIS_SENDER_DONE;
  memset(out, 0, sizeof *out);
  if (!policy_of(m->batch_id ? "batch" : "message")->fallback || !fb || strcmp(mode, fb) == 0 ||
      !m->target || iris_contact_for_mode(s->app->db, m->target, fb, &email, &ferr) != IRIS_OK) {
    snprintf(out->failure, sizeof out->failure, "%s", why);
    rc = settle_failed(s, c, m, mode, failed_v, why, err);
    goto out;
  }
  rc = iris_record_change(s->app->db, m->id, "mode-change", mode, fb,
                          "Changing mode due to original mode failure", err);
  q = render_req(m, fb, email.destination);
  if (rc == IRIS_OK)
    rc = iris_render(&s->rcfg, s->templates, s->app->db, &q, &r, err);
  if (rc == IRIS_OK)
    rc = attempt(s, c, m, fb, email.destination, &r, attempts, &res, &v, &ferr);
  if (rc == IRIS_ESTATE) {
    rc = IRIS_OK; /* our lease ran out and another worker took the claim: theirs now */
  } else if (rc == IRIS_ENOTFOUND) {
    snprintf(out->failure, sizeof out->failure, "%s; %s fallback: %s", why, fb, ferr.msg);
    rc = settle_failed(s, c, m, mode, failed_v, out->failure, err);
  } else if (rc == IRIS_OK && res.status == IRIS_PLUGIN_SENT) {
    out->accepted = 1;
    rc = settle_sent(s, c, m, fb, email.destination, &r, v, res.vendor_message_id, err);
  } else if (rc == IRIS_OK) {
    snprintf(out->failure, sizeof out->failure, "%s; %s fallback: %s", why, fb, res.error);
    rc = settle_failed(s, c, m, mode, failed_v, out->failure, err);
  } else if (ferr.rc) {
    iris_err_set(err, rc, "%s", ferr.msg); /* the email attempt's own infrastructure error */
  }
out:
  if (rc)
    out->failure[0] = '\0'; /* not recorded after all */
  iris_rendered_cleanup(&r);
  iris_contact_cleanup(&email);
  return rc;
}

/* "SELECT … WHERE <column> IN (?, …, ?)" for n ids: the statement assembled from placeholders
 * only, the parameters in *params. Both owned by the caller (iris_free). */
static int in_list_query(const char *head, size_t n, const int64_t *ids, char **sql,
                         struct iris_db_param **params, struct iris_err *err) {
  struct iris_buf b;
  size_t i, len = 0;
  *sql = NULL;
  *params = iris_calloc(n ? n : 1, sizeof **params);
  int rc;
  iris_buf_init(&b, 0);
  rc = iris_buf_appends(&b, head); /* a failed append latches: checked once below */
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    rc = iris_buf_appends(&b, i ? ", ?" : "?");
    if (*params)
      (*params)[i] = IRIS_DB_I64(ids[i]);
  }
  if (rc == IRIS_OK)
    rc = iris_buf_appendc(&b, ')');
  *sql = rc ? NULL : iris_buf_take(&b, &len);
  iris_buf_cleanup(&b);
  if (!*sql || !*params) {
    iris_free(*sql);
    iris_free(*params);
    *sql = NULL;
    *params = NULL;
    return iris_err_set(err, IRIS_ENOMEM, "sender: batch members");
  }
  return IRIS_OK;
}

/*
 * A batch's members, read together: *out gets the active, unsent members whose incident is
 * still open (Iris intersects a batch with the active ids), in the envelope's order. The
 * coordinator batches the messages of one aggregation key — plan, application, priority and
 * target — and mode; a batch whose members repeat an id or do not share all of those is
 * refused (IRIS_EINVAL, the reason in err): paging one member's target for the others would
 * record their messages as sent to someone else.
 */
static int batch_members(struct iris_db *db, const int64_t *ids, size_t n, int64_t **out,
                         size_t *nout, struct iris_err *err) {
  static const char head[] =
      "SELECT m.id, m.target_id, m.application_id, m.priority_id, IFNULL(m.plan_id, 0),"
      " IFNULL(m.mode_id, 0), m.active = 1 AND m.sent IS NULL AND (i.id IS NULL OR i.active = 1)"
      " FROM message m LEFT JOIN incident i ON i.id = m.incident_id WHERE m.id IN (";
  struct iris_db_rows *rows = NULL;
  struct iris_db_param *params = NULL;
  char *sql = NULL;
  int64_t key[5] = {0};
  unsigned char *live = NULL;
  size_t i, k, found = 0;
  int rc;

  *out = NULL;
  *nout = 0;
  for (i = 0; i < n; i++)
    for (k = i + 1; k < n; k++)
      if (ids[i] == ids[k])
        return iris_err_set(err, IRIS_EINVAL, "batch lists message %" PRId64 " more than once",
                            ids[i]);
  rc = in_list_query(head, n, ids, &sql, &params, err);
  if (rc == IRIS_OK)
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, sql, params, n, &rows, err);
  *out = rc ? NULL : iris_calloc(n ? n : 1, sizeof **out);
  live = rc ? NULL : iris_calloc(n ? n : 1, 1);
  if (rc == IRIS_OK && (!*out || !live))
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: batch members");
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    int64_t id = 0, row[5] = {0}, active = 0;
    size_t c;
    rc = iris_db_get_i64(rows, 0, &id, err);
    for (c = 0; c < 5 && rc == IRIS_OK; c++)
      rc = iris_db_get_i64(rows, c + 1, &row[c], err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 6, &active, err);
    if (rc)
      break;
    if (found++ == 0)
      memcpy(key, row, sizeof key);
    else if (memcmp(key, row, sizeof key) != 0)
      rc = iris_err_set(err, IRIS_EINVAL,
                        "batch mixes messages of different targets, applications, priorities, "
                        "plans or modes (message %" PRId64 " does not match the first member)",
                        id);
    for (k = 0; rc == IRIS_OK && k < n; k++)
      if (ids[k] == id && active)
        live[k] = 1;
  }
  for (k = 0; rc == IRIS_OK && k < n; k++)
    if (live[k])
      (*out)[(*nout)++] = ids[k];
  if (rc) {
    iris_free(*out);
    *out = NULL;
    *nout = 0;
  }
  iris_free(live);
  iris_db_rows_free(rows);
  iris_free(params);
  iris_free(sql);
  return rc;
}

/* Iris's target reprioritisation of a mode the priority chain resolved (reprioritize.h), for
 * the delivery claimed as c; message_id 0 for a notification. */
static int reprioritize(struct iris_sender *s, const struct iris_claim *c, const char *target,
                        int64_t message_id, int fresh, struct iris_contact *contact,
                        struct iris_err *err) {
  struct iris_reprioritize_request rq = {c->key, target, message_id, s->ahead_rules, fresh};
  const struct iris_reprioritize_item *ahead = NULL;
  char from[64];
  int hops = 0, rc;
  size_t i;
  snprintf(from, sizeof from, "%s", contact->mode);
  for (i = 0; fresh && i < s->nahead_decided && !ahead; i++)
    if (strcmp(s->ahead_decided[i].claim_key, c->key) == 0 &&
        s->ahead_decided[i].message_id == message_id)
      ahead = &s->ahead_decided[i];
  if (ahead && ahead->from_mode_id != contact->mode_id) /* (the chain changed meanwhile) */
    ahead = NULL;
  if (ahead && !ahead->hops)
    return IRIS_OK; /* no rule, or one that did not fire: decided with the batch */
  if (ahead) {
    rc = iris_reprioritize_apply(s->app->db, ahead, contact, err);
    hops = rc == IRIS_OK && strcmp(contact->mode, ahead->mode) == 0 ? ahead->hops : 0;
  } else {
    rc = iris_reprioritize(s->app->db, &rq, contact, &hops, err);
  }
  if (rc == IRIS_OK && hops) {
    IRIS_LOG_INFO("%s: %s reprioritized from %s to %s (%d rule%s)", c->key, target, from,
                  contact->mode, hops, hops > 1 ? "s" : "");
    metric(s, "reprioritized", contact->mode, NULL);
  }
  return rc;
}

/* 4. Who and how: the message's own mode and destination; else its mode with the target's
 * contact for it, or Iris's priority chain followed by the target's reprioritisation rules;
 * else Iris's email fallback (changelog "mode-change … email"). IRIS_ENOTFOUND, the reason in
 * err, when there is no contact at all — Iris's changelog "mode-change email → invalid" is
 * written then. */
static int resolve_contact(struct iris_sender *s, const struct iris_claim *c,
                           const struct msgrow *m, int fresh, struct iris_contact *contact,
                           int *fell_back, struct iris_err *err) {
  struct iris_err cerr = {0};
  const char *old;
  int rc;

  if (m->mode && m->destination) {
    snprintf(contact->mode, sizeof contact->mode, "%s", m->mode);
    contact->destination = iris_strdup(m->destination);
    return contact->destination ? IRIS_OK : iris_err_set(err, IRIS_ENOMEM, "sender: contact");
  }
  rc = m->mode ? iris_contact_for_mode(s->app->db, m->target, m->mode, contact, &cerr)
               : iris_contact_by_priority_ahead(s->ahead_contacts, s->app->db, m->target,
                                                m->application, m->priority_id, contact, &cerr);
  if (rc == IRIS_OK && policy_of(m->batch_id ? "batch" : "message")->reprioritize)
    return reprioritize(s, c, m->target, m->id, fresh, contact, err);
  if (rc == IRIS_ENOTFOUND) {
    const char *fb = s->fallback_mode; /* Iris: email */
    old = m->mode ? m->mode : (contact->mode[0] ? contact->mode : fb ? fb : "email");
    if (fb) {
      char was[64];
      snprintf(was, sizeof was, "%s", old);
      iris_contact_cleanup(contact);
      rc = iris_contact_for_mode(s->app->db, m->target, fb, contact, &cerr);
      *fell_back = rc == IRIS_OK;
      if (rc == IRIS_OK)
        return iris_record_change(s->app->db, m->id, "mode-change", was, fb,
                                  "Changing mode due to original mode failure", err);
    }
    if (rc == IRIS_ENOTFOUND) {
      rc = iris_record_change(s->app->db, m->id, "mode-change", fb ? fb : old, "invalid",
                              "Ignore message as we failed to resolve target contact", err);
      return rc ? rc : iris_err_set(err, IRIS_ENOTFOUND, "%s", cerr.msg);
    }
  }
  if (rc)
    return iris_err_set(err, rc, "%s", cerr.msg[0] ? cerr.msg : "contact lookup failed");
  return IRIS_OK;
}

/* One record being handled: what came in, and what the delivery decided. */
struct job {
  const char *owner; /* this attempt (request id or worker pid + record) */
  const struct iris_sender_record *rec;
  long max_receives;                /* the queue's maxReceiveCount, 0 if unknown */
  int last;                         /* this is the record's last receive before SQS's
                                            redrive moves it to the dead-letter queue */
  int preclaimed;                   /* its claim was taken with the batch's (ours, no
                                            attempt yet): iris_claim_take is skipped */
  enum iris_sender_verdict verdict; /* out */
  int retry_after;                  /* out: seconds until the retry (RETRY) */
  int dead_letter;                  /* out: dead-letter the record with `reason` */
  int paused;                       /* out: paused at its vendor call (send_paused ends it) */
  char reason[700];                 /* out: why it is retried or dead-lettered */
};

static void job_reason(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void job_reason(struct job *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->reason, sizeof j->reason, fmt, ap);
  va_end(ap);
}

/* The delay before retrying after an error of our own or of the infrastructure: it grows with
 * the receive count, so an outage of the database spends the receives SQS allows slowly. */
static int error_backoff_s(const struct iris_sender *s, const struct job *j) {
  return backoff_s(s, j->rec->receive_count > 1 ? (int)j->rec->receive_count : 1);
}

/*
 * Move a record to the lane of the mode it resolved to when that differs from the lane it
 * came in on (the coordinator's lane cache is up to a minute old): the envelope is sent to
 * that lane's queue and the claim given back, so the copy there takes it. Returns 1 when moved
 * (acknowledge this record), 0 to deliver it here (same lane, no such queue, a record without
 * a lane, or the move failed — never lost). A crash between the send and the acknowledgement
 * leaves two records for one claim: the claim lets one of them through.
 */
static int move_lane(struct iris_sender *s, const struct job *j, const struct iris_claim *c,
                     const char *mode) {
  const char *lane = j->rec->lane, *want = iris_contract_lane(mode), *url = NULL;
  struct iris_sqs_out out;
  struct iris_err merr = {0};
  char path[48], why[96], *body;
  if (!s->move_lanes || !lane || strcmp(lane, "notifications") == 0 || strcmp(mode, "drop") == 0 ||
      strcmp(want, lane) == 0 || !j->rec->body)
    return 0;
  snprintf(path, sizeof path, "queues.%s", want);
  if (iris_config_str_or(s->app->cfg, path, NULL, &url, &merr) != IRIS_OK || !url)
    return 0;
  memset(&out, 0, sizeof out);
  body = iris_strndup(j->rec->body, j->rec->body_len);
  out.body = body;
  if (!body || iris_sqs_send(s->app->sqs, url, &out, NULL, &merr) != IRIS_OK) {
    iris_free(body);
    IRIS_LOG_WARN("claim %s resolved to %s but arrived on lane %s; could not move it (%s):"
                  " delivering it here",
                  c->key, mode, lane, merr.msg);
    return 0;
  }
  iris_free(body);
  snprintf(why, sizeof why, "moved from lane %s to lane %s", lane, want);
  give_back(s, c, why);
  IRIS_LOG_INFO("claim %s: %s (its mode is now %s)", c->key, why, mode);
  metric(s, "moved_lane", mode, NULL);
  return 1;
}

/*
 * Iris's SMS override: a user who opted in (a mode_template_override row of the user whose
 * SMS contact is `destination`) gets sender.sms_override_template with the incident id instead
 * of the page's text, which some carriers block, and the message's changelog says so
 * ("content-change"). Iris ended up prefixing the override to the rendered body; here it
 * replaces it. Without the template configured nothing is looked up (Iris crashed then).
 */
static int sms_override(struct iris_sender *s, const struct msgrow *m, const char *destination,
                        struct iris_rendered *r, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(destination)};
  int64_t opted = 0;
  char *text;
  int rc;
  if (!s->sms_override || !destination)
    return IRIS_OK;
  rc = iris_db_query_i64(s->app->db, IRIS_DB_IDEMPOTENT,
                         "SELECT COUNT(*) FROM mode_template_override o"
                         " JOIN target_contact tc ON tc.target_id = o.target_id"
                         " JOIN mode mo ON mo.id = tc.mode_id AND mo.name = 'sms'"
                         " WHERE tc.destination = ?",
                         p, 1, &opted, err);
  if (rc || !opted)
    return rc;
  if (!(text = override_text(s->sms_override, m->incident_id)))
    return iris_err_set(err, IRIS_ENOMEM, "sender: SMS override");
  iris_free(r->body);
  r->body = text;
  return iris_record_change(s->app->db, m->id, "content-change", "sms", "sms",
                            "Replaced SMS body to avoid being blocked by carrier", err);
}

/*
 * One delivery: a message's (deliver_message; an aggregated batch's too) or a recipient's of
 * a notification or tracking copy (deliver_recipient, f set), kept in one place so that
 * handle_batch can pause it at its vendor call and make the batch's calls together
 * (send_paused). Owned by whoever holds it; delivery_free releases what it holds.
 */
struct delivery {
  struct job *j; /* the record's job: the caller's, or own_job once paused */
  struct job own_job;
  size_t slot; /* handle_batch's record (a paused delivery) */
  int64_t id;
  const char *batch_id;
  const int64_t *members;
  size_t nmembers;
  struct iris_claim c;
  struct msgrow m;
  struct iris_contact contact;
  struct iris_rendered r;
  struct iris_render_request q;
  struct iris_plugin_result res;
  struct iris_vendor *v;
  enum iris_claim_outcome outcome;
  struct fallen fb;
  char key[160], why[700];
  int busy, attempts, restricted_call, held, accepted, fell_back;
  struct iris_err late; /* why its paused call was not made */
  int ready;            /* prepared: the next step is the vendor call */
  int attempted;        /* the call was tried: res (and v) hold its result */
  const char *mode;
  const struct kind_policy *pol;
  /* the vendor call's message (send_paused) */
  struct iris_plugin_message pm;
  struct iris_plugin_kv extra[2];
  const char *dests[1];
  char idtext[24];
  /* an aggregated batch paused at its call: its id and members, copied from the envelope */
  char batch_buf[33];
  int64_t *own_members; /* owned */
  /* a recipient of a notification or a tracking copy (deliver_recipient); f is NULL for a
   * message */
  struct fanout *f; /* its record (shared with its other recipients) */
  char *user;       /* the named user (owned copy), NULL for a literal destination */
  int literal, gave_up;
  char subject[320];
};

static void delivery_free(struct delivery *d) {
  if (!d)
    return;
  iris_free(d->own_members);
  iris_free(d->user);
  iris_rendered_cleanup(&d->r);
  iris_contact_cleanup(&d->contact);
  msgrow_cleanup(&d->m);
  iris_free(d);
}

/* Everything before the vendor call: claim, re-check, contact, render, quota. Returns with
 * d->ready set when the call is next; otherwise the outcome is decided (rc and the job's
 * verdict, for message_finish). */
static int message_prepare(struct iris_sender *s, struct delivery *d, struct iris_err *err) {
  struct job *const j = d->j;
  struct iris_claim *const c = &d->c;
  struct msgrow *const m = &d->m;
  struct iris_contact *const contact = &d->contact;
  struct iris_rendered *const r = &d->r;
  int rc = IRIS_OK;

  j->verdict = IRIS_SENDER_RETRY;
  j->retry_after = 0;
  if (d->batch_id)
    snprintf(d->key, sizeof d->key, "b:%s", d->batch_id);
  else
    snprintf(d->key, sizeof d->key, "m:%" PRId64, d->id);
  memset(c, 0, sizeof *c);
  c->key = d->key;
  c->owner = j->owner;
  c->kind = d->batch_id ? "batch" : "message";
  c->batch_id = d->batch_id;
  c->message_id = d->id;
  c->lane = j->rec->lane ? j->rec->lane : "unknown";
  c->sqs_message_id = j->rec->sqs_message_id;
  c->lease_seconds = (int)s->lease_s;
  c->due_now = j->last;

  rc = load_message(s, d->id, m, err);
  if (rc == IRIS_ENOTFOUND) {
    /* The row is gone (retention): nothing to deliver, and no claim can reference it. */
    IRIS_LOG_WARN("message %" PRId64 " does not exist; acknowledging", d->id);
    j->verdict = IRIS_SENDER_DONE;
    return IRIS_OK;
  }
  if (rc)
    return rc;
  m->batch_id = d->batch_id;
  m->members = d->members;
  m->nmembers = d->nmembers;
  if (j->preclaimed && !d->batch_id)
    d->outcome = IRIS_CLAIM_TAKEN;
  else
    rc = iris_claim_take(s->app->db, c, &d->outcome, &d->busy, &d->attempts, err);
  if (rc)
    return rc;
  if (d->outcome == IRIS_CLAIM_SETTLED) {
    IRIS_LOG_INFO("message %" PRId64 " already settled: duplicate delivery acknowledged", d->id);
    metric(s, "duplicate", NULL, NULL);
    j->verdict = IRIS_SENDER_DONE;
    return rc;
  }
  if (d->outcome == IRIS_CLAIM_BUSY) {
    j->retry_after = d->busy;
    job_reason(j, "claim %s is held by another delivery for %d s more", d->key, d->busy);
    IRIS_LOG_INFO("message %" PRId64 " is being handled elsewhere; retry in %d s", d->id, d->busy);
    return rc;
  }
  d->held = 1;
  /* 3. re-check: the incident may have been claimed since the message was queued. */
  if (d->pol->recheck && (!m->active || m->sent || !m->incident_active)) {
    snprintf(d->why, sizeof d->why, "%s",
             m->sent               ? "message already sent"
             : !m->incident_active ? "incident claimed or resolved"
                                   : "message no longer active");
    rc = settle_suppressed(s, c, d->id, d->why, !m->incident_active, err);
    j->verdict = rc ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
    return rc;
  }
  /* 4. mode and destination */
  rc = resolve_contact(s, c, m, d->attempts == 0 && j->preclaimed && !d->batch_id, contact,
                       &d->fell_back, err);
  if (rc == IRIS_ENOTFOUND) {
    /* no contact at all: suppressed with Iris's changelog (resolve_contact wrote it) */
    snprintf(d->why, sizeof d->why, "%s", err->msg);
    iris_err_clear(err);
    rc = settle_suppressed(s, c, d->id, d->why, 1, err);
    j->verdict = rc ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
    return rc;
  }
  if (rc)
    return rc;
  d->mode = contact->mode;
  /* A preference changed since the coordinator chose the lane: deliver from the mode's own
   * lane, so the record is handled by that mode's workers and vendors' concurrency caps. A
   * fallback (its changelog is written) is delivered here, as is a move that fails. */
  if (!d->fell_back && move_lane(s, j, c, d->mode)) {
    j->verdict = IRIS_SENDER_DONE;
    return rc;
  }
  /* Iris's calling restriction: calls to +86 numbers become text messages, with a note. */
  d->restricted_call = restrict_call(d->pol, contact->mode, sizeof contact->mode,
                                     contact->destination);
  if (d->restricted_call && d->pol->changelog) {
    rc = iris_record_change(s->app->db, d->id, "mode-change", "call", "sms",
                            "Changing mode due to calling restriction", err);
    if (rc)
      return rc;
  }
  /* 5. render */
  d->q = render_req(m, d->mode, contact->destination);
  rc = iris_render(&s->rcfg, s->templates, s->app->db, &d->q, r, err);
  if (rc)
    return rc;
  if (d->restricted_call && (rc = prefix_call_note(r, err)) != IRIS_OK)
    return rc;
  if (strcmp(d->mode, "sms") == 0 && m->incident_id && d->pol->changelog &&
      (rc = sms_override(s, m, contact->destination, r, err)) != IRIS_OK)
    return rc;
  if (r->failed)
    IRIS_LOG_WARN("message %" PRId64 ": %s (a safe notice is sent instead)", d->id, r->failure);
  if ((d->pol->body_limit && r->too_long) || strcmp(d->mode, "drop") == 0) {
    if (d->pol->body_limit && r->too_long) {
      snprintf(d->why, sizeof d->why, "Dropping due to excessive body length (%zu > %zu chars)",
               r->body_chars, s->rcfg.max_body ? s->rcfg.max_body : 40000);
      rc = iris_record_change(s->app->db, d->id, "mode-change", d->mode, "drop", d->why, err);
      if (rc)
        return rc;
    }
    rc = settle_sent(s, c, m, "drop", NULL, r, NULL, NULL, err);
    j->verdict = rc ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
    return rc;
  }
  /* quotas: counted once per message, on its first attempt */
  if (d->pol->quota && d->attempts == 0) {
    struct iris_quota_verdict qv;
    rc = iris_quota_check(s->app->db, &s->quota, s->quota_cache, m->application_id, m->application,
                          &qv, err);
    if (rc)
      return rc;
    if (qv.hard_breach) {
      rc = iris_record_change(s->app->db, d->id, "mode-change", d->mode, "drop",
                              "Dropping due to hard quota violation.", err);
      if (rc == IRIS_OK)
        rc = settle_sent(s, c, m, "drop", NULL, r, NULL, NULL, err);
      metric(s, "quota_hard_exceeded", d->mode, NULL);
      j->verdict = rc ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
      return rc;
    }
    if (qv.soft_breach)
      metric(s, "quota_soft_exceeded", d->mode, NULL);
    if (qv.notify_soft)
      soft_quota_notice(s, m->application, &qv);
  }
  /* 6. send; Iris pushed to the user's phones before every text and call (first try here) */
  if (s->push && d->attempts == 0 && m->target &&
      (strcmp(d->mode, "sms") == 0 || strcmp(d->mode, "call") == 0))
    (void)iris_push_page(s->push, s->app->db, m->target, r->subject, r->body, m->incident_id);
  d->ready = 1;
  return IRIS_OK;
}

/* After the vendor call (when d->attempted, rc being the attempt's) or after message_prepare
 * decided (rc being its): record, retry, fall back, or leave the record for later. Frees d. */
static int message_finish(struct iris_sender *s, struct delivery *d, int rc, struct iris_err *err) {
  struct job *const j = d->j;
  struct iris_claim *const c = &d->c;
  struct msgrow *const m = &d->m;
  struct iris_contact *const contact = &d->contact;
  struct iris_rendered *const r = &d->r;
  struct iris_plugin_result *const res = &d->res;
  struct fallen *const fb = &d->fb;

  if (!d->attempted)
    goto out;
  if (rc == IRIS_ENOTFOUND) {
    snprintf(d->why, sizeof d->why, "%s", err->msg);
    iris_err_clear(err);
    rc = fall_back(s, c, m, d->mode, NULL, d->why, d->attempts + 1, &j->verdict, fb, err);
    goto out;
  }
  if (rc == IRIS_ESTATE) {
    /* Our lease ran out and another worker took the claim: it is theirs now. */
    j->verdict = IRIS_SENDER_DONE;
    rc = IRIS_OK;
    goto out;
  }
  if (rc)
    goto out;
  d->attempts++;
  switch (res->status) {
  case IRIS_PLUGIN_SENT:
    d->accepted = 1;
    rc = settle_sent(s, c, m, d->mode, contact->destination, r, d->v, res->vendor_message_id, err);
    j->verdict = rc ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
    break;
  case IRIS_PLUGIN_RATE_LIMITED:
  case IRIS_PLUGIN_RETRYABLE:
    /* A rate-limited attempt is an attempt: it counts against sender.max_attempts too. */
    if (!j->last && d->attempts < s->max_attempts) {
      int limited = res->status == IRIS_PLUGIN_RATE_LIMITED;
      j->retry_after = vendor_wait_s(s, res, d->attempts);
      job_reason(j, "%s", res->error);
      rc = iris_claim_failed(s->app->db, c, 0, (int64_t)j->retry_after * 1000, res->error, err);
      metric(s, limited ? "rate_limited" : "retried", d->mode, iris_vendor_name(d->v));
      if (limited)
        IRIS_LOG_WARN("message %" PRId64 ": %s; retry in %d s", d->id, res->error, j->retry_after);
      else
        IRIS_LOG_WARN("message %" PRId64 ": attempt %d of %lld failed: %s; retry in %d s", d->id,
                      d->attempts, (long long)s->max_attempts, res->error, j->retry_after);
      break;
    }
    if (j->last)
      snprintf(d->why, sizeof d->why,
               "gave up on the last receive (%ld of %ld) after %d attempt(s): %s",
               j->rec->receive_count, j->max_receives, d->attempts, res->error);
    else
      snprintf(d->why, sizeof d->why, "%d attempts failed, the last: %s", d->attempts, res->error);
    rc = fall_back(s, c, m, d->mode, d->v, d->why, d->attempts, &j->verdict, fb, err);
    if (rc == IRIS_OK && j->last && fb->failure[0]) {
      j->dead_letter = 1;
      job_reason(j, "%s", fb->failure);
    }
    break;
  default:
    snprintf(d->why, sizeof d->why, "%s", res->error);
    rc = fall_back(s, c, m, d->mode, d->v, d->why, d->attempts, &j->verdict, fb, err);
    break;
  }
out:
  if (rc && rc != IRIS_ENOMEM) {
    /* Trouble of our own or of the infrastructure (database, ...): leave the record for a
     * later attempt — or, on its last receive, record the failure while we hold the claim. */
    IRIS_LOG_ERR("message %" PRId64 ": %s; %s", d->id, err->msg,
                 j->last ? "that was its last receive" : "will retry");
    job_reason(j, "%s", err->msg);
    j->verdict = IRIS_SENDER_RETRY;
    if (rc == IRIS_ETIMEOUT)
      j->retry_after = 1; /* not a fault: the next invocation takes it */
    if (!j->retry_after)
      j->retry_after = error_backoff_s(s, j);
    if (d->held && j->last && !d->accepted && !fb->accepted) {
      /* (never after a vendor accepted the page: that is not a failure) */
      struct iris_err ferr = {0};
      snprintf(d->why, sizeof d->why, "gave up on the last receive (%ld of %ld): %s",
               j->rec->receive_count, j->max_receives, err->msg);
      if (settle_failed(s, c, m,
                        d->mode   ? d->mode
                        : m->mode ? m->mode
                                  : c->lane,
                        d->v, d->why, &ferr))
        IRIS_LOG_ERR("message %" PRId64 ": the failure could not be recorded either: %s", d->id,
                     ferr.msg);
      else
        job_reason(j, "%s", d->why);
    } else if (d->held && rc == IRIS_ETIMEOUT && !d->accepted && !fb->accepted) {
      give_back(s, c, err->msg);
    } else if (d->held) {
      release(s, c, j->retry_after, err->msg);
    }
    metric(s, "errors", NULL, NULL);
    rc = IRIS_OK;
  }
  delivery_free(d);
  return rc;
}

/* Pause d at its vendor call in the batch's list (s->collect), to be finished by send_paused;
 * 0 when there is no room (it goes on now). */
static int pause_delivery(struct iris_sender *s, struct delivery *d) {
  struct iris_delivery_list *l = s->collect;
  struct delivery **grown = iris_realloc(l->v, (l->n + 1) * sizeof *l->v);
  if (!grown)
    return 0;
  l->v = grown;
  d->slot = s->cur_slot;
  l->v[l->n++] = d;
  return 1;
}

/* A paused aggregated batch outlives its envelope and member list (handle_one frees them):
 * d keeps copies. 0 when there is no memory for them (it is then not paused). */
static int keep_batch(struct delivery *d) {
  if (!d->batch_id)
    return 1;
  if (!(d->own_members = iris_calloc(d->nmembers ? d->nmembers : 1, sizeof *d->own_members)))
    return 0;
  memcpy(d->own_members, d->members, d->nmembers * sizeof *d->own_members);
  snprintf(d->batch_buf, sizeof d->batch_buf, "%s", d->batch_id);
  d->batch_id = d->c.batch_id = d->m.batch_id = d->batch_buf;
  d->members = d->m.members = d->own_members;
  return 1;
}

/* Deliver one message (or an aggregated batch represented by it) — handle_batch may pause it
 * at its vendor call (s->collect): the job is then marked paused and send_paused finishes it. */
static int deliver_message(struct iris_sender *s, struct job *j, int64_t id, const char *batch_id,
                           const int64_t *members, size_t nmembers, struct iris_err *err) {
  struct delivery *d = iris_calloc(1, sizeof *d);
  int rc;
  if (!d)
    return iris_err_set(err, IRIS_ENOMEM, "sender: message %" PRId64, id);
  d->j = j;
  d->id = id;
  d->batch_id = batch_id;
  d->members = members;
  d->nmembers = nmembers;
  d->pol = policy_of(batch_id ? "batch" : "message");
  rc = message_prepare(s, d, err);
  if (rc == IRIS_OK && d->ready && s->collect && keep_batch(d) && pause_delivery(s, d)) {
    d->own_job = *j;
    d->j = &d->own_job;
    d->c.owner = d->j->owner;
    j->paused = 1;
    return IRIS_OK;
  }
  if (rc == IRIS_OK && d->ready) {
    rc = attempt(s, &d->c, &d->m, d->mode, d->contact.destination, &d->r, d->attempts, &d->res,
                 &d->v, err);
    d->attempted = 1;
  }
  return message_finish(s, d, rc, err);
}

/*
 * Move a record to the dead-letter queue with attributes `reason`, `lane` and `receive_count`:
 * a bad envelope at once (metric "rejected"), a delivery given up on its last receive (metric
 * "dead_lettered"). Without a dead-letter queue configured, or when the send fails, the
 * verdict stays RETRY and the queue's redrive policy takes it there; the reason is logged.
 */
static int dead_letter(struct iris_sender *s, const struct iris_sender_record *rec, int gave_up,
                       const char *reason, enum iris_sender_verdict *verdict) {
  struct iris_err err = {0};
  char count[24];
  struct iris_sqs_attr attrs[] = {{"reason", "String", reason},
                                  {"lane", "String", rec->lane ? rec->lane : "unknown"},
                                  {"receive_count", "Number", count}};
  struct iris_sqs_out out = {0};
  const char *id = rec->sqs_message_id ? rec->sqs_message_id : "-";
  char *body = iris_strndup(rec->body ? rec->body : "", rec->body_len);
  snprintf(count, sizeof count, "%ld", rec->receive_count);
  if (gave_up)
    IRIS_LOG_ERR("record %s: giving up on receive %ld, for the dead-letter queue: %s", id,
                 rec->receive_count, reason);
  else
    IRIS_LOG_ERR("record %s refused: %s", id, reason);
  metric(s, gave_up ? "dead_lettered" : "rejected", rec->lane, NULL);
  *verdict = IRIS_SENDER_RETRY; /* without a dead-letter queue, SQS's redrive gets it there */
  if (!body)
    return IRIS_ENOMEM;
  if (s->dead_letter_url && s->app->sqs &&
      iris_sqs_check_body(body, strlen(body), &err) == IRIS_OK) {
    out.body = body;
    out.attrs = attrs;
    out.nattrs = 3;
    if (iris_sqs_send(s->app->sqs, s->dead_letter_url, &out, NULL, &err) == IRIS_OK)
      *verdict = IRIS_SENDER_DONE;
    else
      IRIS_LOG_ERR("could not dead-letter record %s: %s", id, err.msg);
  }
  iris_free(body);
  return IRIS_OK;
}

/* ---- out-of-band notifications ------------------------------------------------------------ */

struct oob {
  const char *id, *application, *target, *role, *priority, *mode, *category, *subject, *body,
      *template_name, *email_html;
  json_t *context;
  int64_t application_id, priority_id, mode_id, category_id;
  const char *claim_key; /* tracking: "t:<incident>"; NULL: derived from id and recipient */
  int tracking;          /* a plan's tracking copy: no notification row, subject as rendered */
};

static const char *nstr(json_t *n, const char *k) {
  return json_string_value(json_object_get(n, k));
}

/* Look up one id by name; 0 when absent. */
static int id_of(struct iris_db *db, const char *sql, const char *a, const char *b, int64_t *out,
                 struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(a), IRIS_DB_STR(b)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, sql, p, b ? 2 : 1, &rows, err);
  *out = 0;
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW)
    rc = iris_db_get_i64(rows, 0, out, err);
  iris_db_rows_free(rows);
  return rc;
}

static void sha256_hex(const char *s, char out[65]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;
  EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
  for (i = 0; i < n && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
  out[64] = '\0';
}

/*
 * A record with recipients (a notification, a plan's tracking copy) while they are delivered:
 * its job, the tallies, and what its end writes. Inside a batch, a recipient that reaches its
 * vendor call pauses there like a message (send_paused makes the batch's calls together), and
 * the record ends once its last paused recipient finished (fanout_finish). Owned by the
 * record's delivery function until a recipient pauses, then by the paused recipients: the
 * one that finishes last ends the record and frees it.
 */
struct fanout {
  struct job job; /* the record's (a copy once a recipient paused) */
  size_t slot;    /* handle_batch's record */
  size_t pending; /* recipients paused at their vendor call */
  int issued;     /* every recipient was started: the record may end */
  int sent_ok;    /* recipients sent (or dropped by their mode) */
  int failed;     /* recipients not delivered (suppressed, failed for good) */
  int min_retry;  /* the shortest wait (s) of a recipient to retry, 0: none */
  int rc;         /* the first error of ours a recipient met: the record is retried */
  struct iris_err err;
  /* What is sent: strings borrowed from the record's envelope (handle_batch keeps it until
   * the batch ends) or from t. */
  struct oob n;
  size_t total;           /* the notification's recipients */
  struct iris_tracking t; /* a tracking copy's row (owned), when n.tracking */
  int64_t incident;       /* a tracking copy's incident */
  char tid[40], tkey[40]; /* a tracking copy's n.id and n.claim_key */
};

static void fanout_free(struct fanout *f) {
  if (!f)
    return;
  if (f->n.tracking)
    iris_tracking_cleanup(&f->t);
  iris_free(f);
}

/* A recipient's end: its error (the first one counts) and its wait to retry, if any. */
static void fanout_note(struct fanout *f, int rc, const struct iris_err *err, int wait) {
  if (rc && !f->rc) {
    f->rc = rc;
    f->err = *err;
  }
  if (wait && (!f->min_retry || wait < f->min_retry))
    f->min_retry = wait;
}

/* The vendor call's message of recipient d: every field borrowed from d and its record. */
static void recipient_call(struct iris_sender *s, struct delivery *d) {
  const struct oob *n = &d->f->n;
  d->dests[0] = d->contact.destination;
  memset(&d->pm, 0, sizeof d->pm);
  d->pm.struct_size = sizeof d->pm;
  d->pm.message_id = n->id;
  d->pm.mode = d->contact.mode;
  d->pm.destinations = d->dests;
  d->pm.ndestinations = d->contact.destination ? 1 : 0;
  d->pm.subject = d->r.subject;
  d->pm.body = d->r.body;
  d->pm.email_html = d->r.email_html;
  d->pm.application = n->application;
  d->pm.priority = n->priority;
  d->pm.target = d->user;
  d->pm.extra = d->extra;
  d->pm.nextra = page_extras(s, n->application, d->contact.mode,
                             n->tracking ? d->contact.destination : NULL, d->extra);
}

/*
 * A recipient up to its vendor call: claim, contact (reprioritised, email when none), render,
 * Iris's limits. Returns with d->ready set when the call is next; otherwise the recipient's
 * outcome is recorded (or it waits: d->busy) and counted on its record.
 */
static int recipient_prepare(struct iris_sender *s, struct delivery *d, struct iris_err *err) {
  struct fanout *const f = d->f;
  struct job *const j = &f->job;
  const struct oob *const n = &f->n;
  struct iris_claim *const c = &d->c;
  struct iris_contact *const contact = &d->contact;
  struct iris_render_request *const q = &d->q;
  struct iris_err cerr = {0};
  char hash[65], drop_why[320];
  const char *literal = d->literal ? n->tracking ? f->t.destination : n->target : NULL;
  enum iris_claim_outcome outcome;
  int rc = IRIS_OK;

  d->pol = policy_of(n->tracking ? "tracking" : "notification");
  sha256_hex(literal ? literal : d->user, hash);
  if (n->claim_key)
    snprintf(d->key, sizeof d->key, "%s", n->claim_key);
  else
    snprintf(d->key, sizeof d->key, "n:%s:%s", n->id, hash);
  memset(c, 0, sizeof *c);
  c->key = d->key;
  c->owner = j->owner;
  c->kind = n->tracking ? "tracking" : "notification";
  c->lane = j->rec->lane ? j->rec->lane : "notifications";
  c->sqs_message_id = j->rec->sqs_message_id;
  c->lease_seconds = (int)s->lease_s;
  c->due_now = j->last;
  /* the claim row references the notification; a tracking copy's may have been taken with
   * the batch's */
  if (n->tracking && j->preclaimed)
    outcome = IRIS_CLAIM_TAKEN;
  else if ((rc = iris_claim_take(s->app->db, c, &outcome, &d->busy, &d->attempts, err)) != 0)
    return rc;
  if (outcome == IRIS_CLAIM_SETTLED)
    return IRIS_OK;
  if (outcome == IRIS_CLAIM_BUSY) {
    fanout_note(f, IRIS_OK, NULL, d->busy);
    job_reason(j, "claim %s is held by another delivery for %d s more", c->key, d->busy);
    return IRIS_OK;
  }
  d->held = 1;
  if (!n->tracking) {
    struct iris_db_param p[] = {IRIS_DB_STR(n->id), IRIS_DB_STR(d->key)};
    rc = iris_db_exec(s->app->db, 0,
                      "UPDATE sender_claim SET notification_id = ? WHERE claim_key = ?", p, 2,
                      NULL, err);
    if (rc)
      return rc;
  }
  /* who, and how */
  if (literal) {
    snprintf(contact->mode, sizeof contact->mode, "%s", n->mode);
    contact->destination = iris_strdup(literal);
    rc = contact->destination ? IRIS_OK : iris_err_set(err, IRIS_ENOMEM, "sender: contact");
  } else if (n->mode) {
    rc = iris_contact_for_mode(s->app->db, d->user, n->mode, contact, &cerr);
  } else if (n->priority) {
    rc = iris_contact_by_priority(s->app->db, d->user, n->application, n->priority_id, contact,
                                  &cerr);
  } else {
    int64_t mode_id = 0;
    char mode_name[64] = "";
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_STR(d->user), IRIS_DB_I64(n->category_id)};
    rc = iris_db_query(s->app->db, IRIS_DB_IDEMPOTENT,
                       "SELECT m.name, m.id FROM notification_category nc JOIN target u ON u.name = ?"
                       " LEFT JOIN category_override co ON co.category_id = nc.id AND co.user_id = u.id"
                       " JOIN mode m ON m.id = COALESCE(co.mode_id, nc.mode_id) WHERE nc.id = ?",
                       p, 2, &rows, err);
    if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
      const char *mn;
      rc = iris_db_get_str(rows, 0, &mn, NULL, err);
      if (rc == IRIS_OK) {
        snprintf(mode_name, sizeof mode_name, "%s", mn);
        rc = iris_db_get_i64(rows, 1, &mode_id, err);
      }
    }
    iris_db_rows_free(rows);
    if (rc == IRIS_OK)
      rc = mode_name[0] ? iris_contact_for_mode(s->app->db, d->user, mode_name, contact, &cerr)
                        : iris_err_set(&cerr, IRIS_ENOTFOUND, "no mode for the category");
  }
  /* Iris reprioritised every resolved contact of a named user: by priority, an explicit mode
   * or a category alike. */
  if (rc == IRIS_OK && !literal && d->pol->reprioritize)
    rc = reprioritize(s, c, d->user, 0, 0, contact, err);
  if (rc == IRIS_ENOTFOUND && !literal && d->pol->fallback && s->fallback_mode) {
    iris_contact_cleanup(contact);
    rc = iris_contact_for_mode(s->app->db, d->user, s->fallback_mode, contact, &cerr);
  }
  if (rc == IRIS_ENOTFOUND) {
    rc = iris_claim_suppressed(s->app->db, c, cerr.msg, err);
    f->failed++;
    return rc;
  }
  if (rc)
    return rc;
  d->mode = contact->mode;
  d->restricted_call = restrict_call(d->pol, contact->mode, sizeof contact->mode,
                                     contact->destination);
  /* what: Iris prefixes the subject with the application */
  if (n->tracking)
    snprintf(d->subject, sizeof d->subject, "%s", n->subject ? n->subject : "");
  else
    snprintf(d->subject, sizeof d->subject, "[%s] %s", n->application,
             n->subject ? n->subject : "");
  memset(q, 0, sizeof *q);
  q->mode = contact->mode;
  q->application = n->application;
  q->target = d->user;
  q->template_name = n->template_name;
  q->context = n->context;
  q->subject = d->subject;
  q->body = n->body ? n->body : "";
  q->email_html = n->email_html;
  q->destination = contact->destination;
  rc = iris_render(&s->rcfg, s->templates, s->app->db, q, &d->r, err);
  if (rc == IRIS_OK && d->restricted_call)
    rc = prefix_call_note(&d->r, err);
  if (rc)
    return rc;
  if (strcmp(contact->mode, "drop") == 0) {
    rc = iris_claim_sent(s->app->db, c, "drop", NULL, NULL, err);
    f->sent_ok++;
    return rc;
  }
  /* Iris's limits for what it sent out of band too: the body size, then the quota (counted
   * once per recipient, on the first attempt); a drop is recorded on the recipient's claim. */
  drop_why[0] = '\0';
  if (d->pol->body_limit && d->r.too_long)
    snprintf(drop_why, sizeof drop_why, "Dropping due to excessive body length (%zu > %zu chars)",
             d->r.body_chars, s->rcfg.max_body ? s->rcfg.max_body : 40000);
  if (!drop_why[0] && d->pol->quota && d->attempts == 0 && n->application_id) {
    struct iris_quota_verdict qv;
    rc = iris_quota_check(s->app->db, &s->quota, s->quota_cache, n->application_id, n->application,
                          &qv, err);
    if (rc)
      return rc;
    if (qv.hard_breach) {
      snprintf(drop_why, sizeof drop_why, "Dropping due to hard quota violation.");
      metric(s, "quota_hard_exceeded", contact->mode, NULL);
    } else if (qv.soft_breach) {
      metric(s, "quota_soft_exceeded", contact->mode, NULL);
    }
    if (qv.notify_soft)
      soft_quota_notice(s, n->application, &qv);
  }
  if (drop_why[0]) {
    IRIS_LOG_WARN("%s to %s not sent: %s", c->key,
                  contact->destination ? contact->destination : "-", drop_why);
    rc = iris_claim_suppressed(s->app->db, c, drop_why, err);
    metric(s, "dropped", contact->mode, NULL);
    f->failed++;
    return rc;
  }
  d->ready = 1;
  return IRIS_OK;
}

/*
 * A recipient's vendor calls, from the one that is next (have_result 0) or from the result
 * of the one send_paused made (have_result 1: d->res and d->v): sent, retried later, or —
 * permanent or out of attempts — Iris's email fallback once, then a recorded failure. The
 * outcome is counted on the record.
 */
static int recipient_calls(struct iris_sender *s, struct delivery *d, int have_result,
                           struct iris_err *err) {
  struct fanout *const f = d->f;
  struct job *const j = &f->job;
  struct iris_claim *const c = &d->c;
  struct iris_plugin_result *const res = &d->res;
  struct iris_err cerr = {0};
  int rc = IRIS_OK;

  for (;;) {
    if (!have_result) {
      d->v = iris_dispatch_pick(s->dispatch, d->contact.mode, d->attempts);
      if (!d->v) {
        memset(res, 0, sizeof *res);
        res->status = IRIS_PLUGIN_PERMANENT;
        snprintf(res->error, sizeof res->error, "no vendor is configured for mode %s",
                 d->contact.mode);
      } else {
        rc = time_for_a_call(s, err);
        if (rc == IRIS_OK)
          rc = iris_claim_sending(s->app->db, c, d->contact.mode, iris_vendor_name(d->v), err);
        if (rc)
          return rc;
        recipient_call(s, d);
        timed_send(s, d->v, &d->pm, res);
        d->attempts++;
      }
    }
    have_result = 0;
    if (res->status == IRIS_PLUGIN_SENT && s->deferring) { /* recorded with the batch's */
      f->sent_ok++;
      return defer_sent(s, f, c, NULL, d->contact.mode, d->contact.destination, NULL, d->v,
                        res->vendor_message_id, err);
    }
    if (res->status == IRIS_PLUGIN_SENT) {
      struct outcome o = {.kind = OUTCOME_SENT,
                          .mode = d->contact.mode,
                          .v = d->v,
                          .vendor_id = res->vendor_message_id};
      rc = settle(s, c, &o, err);
      if (rc == IRIS_OK)
        metric(s, "sent", d->contact.mode, iris_vendor_name(d->v));
      f->sent_ok++;
      return rc;
    }
    if (!j->last && d->attempts < s->max_attempts &&
        (res->status == IRIS_PLUGIN_RATE_LIMITED || res->status == IRIS_PLUGIN_RETRYABLE)) {
      int wait = vendor_wait_s(s, res, d->attempts);
      rc = iris_claim_failed(s->app->db, c, 0, (int64_t)wait * 1000, res->error, err);
      metric(s, res->status == IRIS_PLUGIN_RATE_LIMITED ? "rate_limited" : "retried",
             d->contact.mode, iris_vendor_name(d->v));
      job_reason(j, "%s", res->error);
      fanout_note(f, IRIS_OK, NULL, wait);
      return rc;
    }
    if (j->last &&
        (res->status == IRIS_PLUGIN_RATE_LIMITED || res->status == IRIS_PLUGIN_RETRYABLE))
      d->gave_up = 1;
    /* permanent or exhausted: fall back once (Iris: to email), as Iris does for named users */
    if (d->pol->fallback && s->fallback_mode && strcmp(d->contact.mode, s->fallback_mode) != 0 &&
        !d->literal && d->user) {
      struct iris_contact email = {0};
      if (iris_contact_for_mode(s->app->db, d->user, s->fallback_mode, &email, &cerr) == IRIS_OK) {
        iris_contact_cleanup(&d->contact);
        d->contact = email;
        iris_rendered_cleanup(&d->r);
        d->q.mode = d->contact.mode;
        d->q.destination = d->contact.destination;
        rc = iris_render(&s->rcfg, s->templates, s->app->db, &d->q, &d->r, err);
        if (rc)
          return rc;
        continue;
      }
    }
    {
      char why[700];
      struct outcome o = {.kind = OUTCOME_FAILED, .mode = d->contact.mode, .v = d->v, .why = why};
      if (d->gave_up)
        snprintf(why, sizeof why,
                 "gave up on the last receive (%ld of %ld) after %d attempt(s): %s",
                 j->rec->receive_count, j->max_receives, d->attempts, res->error);
      else
        snprintf(why, sizeof why, "%s", res->error);
      rc = settle(s, c, &o, err);
      if (rc == IRIS_OK && d->gave_up) {
        j->dead_letter = 1;
        job_reason(j, "%s", why);
      }
    }
    if (rc == IRIS_OK)
      metric(s, "failed", d->contact.mode, d->v ? iris_vendor_name(d->v) : NULL);
    f->failed++;
    return rc;
  }
}

/* A recipient's end (rc its code): a claim we still hold after an error of ours goes back
 * (a deadline at once, else after the backoff). Frees d; returns rc. */
static int recipient_close(struct iris_sender *s, struct delivery *d, int rc,
                           const struct iris_err *err) {
  if (rc == IRIS_ETIMEOUT && d->held)
    give_back(s, &d->c, err->msg);
  else if (rc && rc != IRIS_ENOMEM && d->held)
    release(s, &d->c, error_backoff_s(s, &d->f->job), err->msg);
  delivery_free(d);
  return rc;
}

/* One recipient of record f: a named user, or the record's literal destination (user NULL).
 * Inside a batch it may pause at its vendor call (f->pending counts it; send_paused resumes
 * it with recipient_resume). An error of ours is returned (and the claim given back). */
static int deliver_recipient(struct iris_sender *s, struct fanout *f, const char *user,
                             struct iris_err *err) {
  struct delivery *d = iris_calloc(1, sizeof *d);
  int rc;
  if (!d || (user && !(d->user = iris_strdup(user)))) {
    iris_free(d);
    return iris_err_set(err, IRIS_ENOMEM, "sender: a recipient of %s", f->n.id);
  }
  d->f = f;
  d->j = &f->job;
  d->literal = !user;
  rc = recipient_prepare(s, d, err);
  if (rc == IRIS_OK && d->ready && s->collect && pause_delivery(s, d)) {
    f->pending++;
    return IRIS_OK;
  }
  if (rc == IRIS_OK && d->ready)
    rc = recipient_calls(s, d, 0, err);
  return recipient_close(s, d, rc, err);
}

/* A paused recipient after send_paused: drc is the call's code (0: it was made, and d->res
 * holds its result; IRIS_ENOTFOUND: no vendor for the mode; else why it was not made).
 * Frees d; its record's error is noted on the record. */
static int recipient_resume(struct iris_sender *s, struct delivery *d, int drc,
                            struct iris_err *err) {
  struct fanout *f = d->f;
  int rc = drc;
  if (drc == IRIS_ENOTFOUND) {
    memset(&d->res, 0, sizeof d->res);
    d->res.status = IRIS_PLUGIN_PERMANENT;
    snprintf(d->res.error, sizeof d->res.error, "no vendor is configured for mode %s", d->mode);
    d->v = NULL;
    iris_err_clear(err);
    rc = recipient_calls(s, d, 1, err);
  } else if (drc == IRIS_OK) {
    d->attempts++;
    rc = recipient_calls(s, d, 1, err);
  }
  rc = recipient_close(s, d, rc, err);
  fanout_note(f, rc, err, 0);
  f->pending--;
  return rc;
}

/* The end of record f once every recipient finished: the notification's row (its recipients'
 * tallies and state) or the tracking copy's, and the record's verdict on f->job. IRIS_ENOMEM
 * or IRIS_OK (an error of ours retries the record). */
static int fanout_finish(struct iris_sender *s, struct fanout *f) {
  struct job *const j = &f->job;
  struct iris_err err = f->err;
  int rc = f->rc;
  if (rc == IRIS_OK && f->n.tracking) {
    rc = iris_tracking_settle(s->app->db, f->incident, &err);
    if (rc == IRIS_OK && (f->sent_ok || f->failed))
      IRIS_LOG_INFO("tracking of incident %" PRId64 " (plan %s) to %s by %s: %s", f->incident,
                    f->t.plan, f->t.destination, f->t.mode, f->sent_ok ? "sent" : "not delivered");
  } else if (rc == IRIS_OK) {
    struct iris_db_param p[] = {IRIS_DB_I64((int64_t)(f->total ? f->total : 1)),
                                IRIS_DB_STR(f->n.id), IRIS_DB_STR(f->n.id),
                                IRIS_DB_I64(f->min_retry ? 1 : 0), IRIS_DB_STR(f->n.id)};
    rc = iris_db_exec(s->app->db, 0,
                      "UPDATE sender_notification SET recipients_total = ?,"
                      " recipients_sent = (SELECT COUNT(*) FROM sender_claim WHERE notification_id = ?"
                      "  AND state = 'sent'),"
                      " recipients_failed = (SELECT COUNT(*) FROM sender_claim WHERE notification_id = ?"
                      "  AND (state = 'suppressed' OR (state = 'failed' AND final = 1))),"
                      " state = IF(? = 1, 'sending', IF(recipients_failed > 0, 'failed', 'done')),"
                      " finished_at = IF(state IN ('done','failed'), UTC_TIMESTAMP(3), NULL),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                      p, 5, NULL, &err);
    if (rc == IRIS_OK)
      IRIS_LOG_INFO("notification %s: %d sent, %d not delivered%s", f->n.id, f->sent_ok, f->failed,
                    f->min_retry ? ", some retried later" : "");
  }
  if (rc == IRIS_OK) {
    j->verdict = f->min_retry ? IRIS_SENDER_RETRY : IRIS_SENDER_DONE;
    j->retry_after = f->min_retry;
    return IRIS_OK;
  }
  if (rc == IRIS_ENOMEM)
    return rc;
  if (f->n.tracking)
    IRIS_LOG_ERR("tracking of incident %" PRId64 ": %s; will retry", f->incident, err.msg);
  else
    IRIS_LOG_ERR("notification %s: %s; will retry", f->n.id, err.msg);
  job_reason(j, "%s", err.msg);
  j->verdict = IRIS_SENDER_RETRY;
  j->retry_after = rc == IRIS_ETIMEOUT ? 1 : error_backoff_s(s, j);
  return IRIS_OK;
}

/* Free record f before it ended (the batch is retried): its recipients' sent outcomes still
 * waiting for flush_sent forget it first. */
static void fanout_drop(struct iris_sender *s, struct fanout *f) {
  size_t i;
  for (i = 0; i < s->npend; i++)
    if (s->pend[i]->f == f)
      s->pend[i]->f = NULL;
  fanout_free(f);
}

/* Record f's recipients are all done inside a batch: it ends after the batch's sent outcomes
 * are recorded (finish_ended), since its end counts them. IRIS_ENOMEM (f is not kept). */
static int fanout_ended(struct iris_sender *s, struct fanout *f) {
  struct fanout **grown = iris_realloc(s->ended, (s->nended + 1) * sizeof *s->ended);
  if (!grown)
    return IRIS_ENOMEM;
  s->ended = grown;
  s->ended[s->nended++] = f;
  return IRIS_OK;
}

/*
 * After the record's delivery function started every recipient. Outside a batch the record
 * ends now (its verdict copied to the caller's job j, f freed). Inside a batch it ends after
 * the batch's calls and its sent outcomes are recorded (j->paused; f then belongs to its
 * paused recipients, or to the batch's ended records).
 */
static int fanout_close(struct iris_sender *s, struct fanout *f, struct job *j,
                        struct iris_err *err) {
  int rc;
  f->issued = 1;
  f->slot = s->cur_slot;
  if (f->pending || (s->deferring && fanout_ended(s, f) == IRIS_OK)) {
    j->paused = 1;
    return IRIS_OK;
  }
  if (s->deferring) { /* (no room to keep it: the batch is retried) */
    fanout_drop(s, f);
    return iris_err_set(err, IRIS_ENOMEM, "sender: keeping a record for the batch's end");
  }
  rc = fanout_finish(s, f);
  *j = f->job;
  fanout_free(f);
  return rc;
}

/*
 * A notification id seen before: the same content is a redelivery (go on; the recipients'
 * claims make it idempotent); different content is a reused id, refused — *reason filled, the
 * refusal counted on the notification (migration 0015) — rather than merged into the first.
 */
static int check_reuse(struct iris_sender *s, const struct job *j, const char *id,
                       const char *hash, char *reason, size_t reason_size, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(id)};
  const char *first = NULL, *first_sqs = NULL;
  int rc = iris_db_query_one(s->app->db, IRIS_DB_IDEMPOTENT,
                             "SELECT payload_sha256, IFNULL(sqs_message_id, '-')"
                             " FROM sender_notification WHERE id = ?",
                             p, 1, &rows, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_str(rows, 0, &first, NULL, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_str(rows, 1, &first_sqs, NULL, err);
  if (rc == IRIS_OK && strcmp(first, hash) != 0) {
    struct iris_db_param q[] = {IRIS_DB_STR(reason), IRIS_DB_STR(id)};
    snprintf(reason, reason_size,
             "notification_id %s was already used for a different notification (first seen in "
             "SQS message %s; this one is %s): refused, nothing sent",
             id, first_sqs, j->rec->sqs_message_id ? j->rec->sqs_message_id : "-");
    rc = iris_db_exec(s->app->db, 0,
                      "UPDATE sender_notification SET conflicts = conflicts + 1,"
                      " last_conflict = LEFT(?, 1024), updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                      q, 2, NULL, err);
  }
  iris_db_rows_free(rows);
  return rc;
}

static int deliver_notification(struct iris_sender *s, struct job *j, json_t *doc,
                                struct iris_err *err) {
  struct oob n;
  struct iris_recipients who = {0};
  struct fanout *f = NULL;
  char hash[65], reason[1024] = "";
  char *payload = NULL;
  int rc, literal;
  size_t i;

  memset(&n, 0, sizeof n);
  n.id = nstr(doc, "notification_id");
  n.application = nstr(doc, "application");
  n.target = nstr(doc, "target");
  n.role = nstr(doc, "role");
  n.priority = nstr(doc, "priority");
  n.mode = nstr(doc, "mode");
  n.category = nstr(doc, "category");
  n.subject = nstr(doc, "subject");
  n.body = nstr(doc, "body");
  n.template_name = nstr(doc, "template");
  n.email_html = nstr(doc, "email_html");
  n.context = json_object_get(doc, "context");
  j->verdict = IRIS_SENDER_RETRY;
  j->retry_after = 0;
  rc = id_of(s->app->db, "SELECT id FROM application WHERE name = ?", n.application, NULL,
             &n.application_id, err);
  if (rc == IRIS_OK && n.priority)
    rc = id_of(s->app->db, "SELECT id FROM priority WHERE name = ?", n.priority, NULL,
               &n.priority_id, err);
  if (rc == IRIS_OK && n.mode)
    rc = id_of(s->app->db, "SELECT id FROM mode WHERE name = ?", n.mode, NULL, &n.mode_id, err);
  if (rc == IRIS_OK && n.category)
    rc = id_of(s->app->db,
               "SELECT nc.id FROM notification_category nc JOIN application a"
               " ON a.id = nc.application_id WHERE a.name = ? AND nc.name = ?",
               n.application, n.category, &n.category_id, err);
  if (rc)
    goto out;
  if (!n.application_id)
    snprintf(reason, sizeof reason, "INVALID application: %s", n.application);
  else if (n.priority && !n.priority_id)
    snprintf(reason, sizeof reason, "unknown priority %s", n.priority);
  else if (n.mode && !n.mode_id)
    snprintf(reason, sizeof reason, "unknown mode %s", n.mode);
  else if (n.category && !n.category_id)
    snprintf(reason, sizeof reason, "unknown category %s of %s", n.category, n.application);
  else if (strcmp(n.role, "literal_target") == 0 && !n.mode)
    snprintf(reason, sizeof reason, "role literal_target needs a mode");
  if (reason[0]) {
    rc = dead_letter(s, j->rec, 0, reason, &j->verdict);
    goto out;
  }
  payload = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!payload) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: notification payload");
    goto out;
  }
  sha256_hex(payload, hash);
  {
    struct iris_db_exec_info info = {0};
    struct iris_db_param p[] = {IRIS_DB_STR(n.id),
                                IRIS_DB_I64(n.application_id),
                                IRIS_DB_STR(n.target),
                                IRIS_DB_STR(n.role),
                                n.priority_id ? IRIS_DB_I64(n.priority_id) : IRIS_DB_NULL,
                                n.mode_id ? IRIS_DB_I64(n.mode_id) : IRIS_DB_NULL,
                                n.category_id ? IRIS_DB_I64(n.category_id) : IRIS_DB_NULL,
                                IRIS_DB_STR(n.template_name),
                                IRIS_DB_STR(n.subject),
                                IRIS_DB_STR(hash),
                                IRIS_DB_STR(j->rec->sqs_message_id)};
    rc = iris_db_exec(s->app->db, 0,
                      "INSERT IGNORE INTO sender_notification (id, application_id, target, role,"
                      " priority_id, mode_id, category_id, template, subject, payload_sha256,"
                      " sqs_message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, LEFT(?, 255), ?, ?)",
                      p, 11, &info, err);
    if (rc == IRIS_OK && info.affected_rows == 0)
      rc = check_reuse(s, j, n.id, hash, reason, sizeof reason, err);
    if (rc)
      goto out;
    if (reason[0]) {
      rc = dead_letter(s, j->rec, 0, reason, &j->verdict);
      goto out;
    }
  }
  literal = strcmp(n.role, "literal_target") == 0;
  if (!literal) {
    struct iris_err xerr = {0};
    {
      struct iris_recipients_opts ro = {s->app->oncall, s->max_unrolled_users};
      rc = iris_recipients_expand(s->app->db, &ro, n.role, n.target, &who, &xerr);
    }
    if (rc == IRIS_EINVAL || rc == IRIS_ENOTFOUND || rc == IRIS_EUNSUPPORTED ||
        (rc == IRIS_OK && who.n == 0)) {
      snprintf(reason, sizeof reason, "INVALID role:target (%s:%s): %s", n.role, n.target,
               rc ? xerr.msg : "nobody to notify");
      {
        struct iris_db_param p[] = {IRIS_DB_STR(reason), IRIS_DB_STR(n.id)};
        rc = iris_db_exec(s->app->db, 0,
                          "UPDATE sender_notification SET state = 'rejected', last_error = ?,"
                          " finished_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          p, 2, NULL, err);
      }
      if (rc == IRIS_OK)
        rc = dead_letter(s, j->rec, 0, reason, &j->verdict);
      goto out;
    }
    if (rc) {
      iris_err_set(err, rc, "%s", xerr.msg);
      goto out;
    }
  }
  /* The recipients: each may pause at its vendor call inside a batch; the record ends when
   * the last one finished (fanout_close). */
  if (!(f = iris_calloc(1, sizeof *f))) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: notification %s", n.id);
    goto out;
  }
  f->job = *j;
  f->n = n;
  f->total = literal ? 1 : who.n;
  if (literal)
    rc = deliver_recipient(s, f, NULL, err);
  for (i = 0; !literal && i < who.n && rc == IRIS_OK; i++)
    rc = deliver_recipient(s, f, who.names[i], err);
  fanout_note(f, rc, err, 0);
  rc = fanout_close(s, f, j, err);
  iris_free(payload);
  iris_recipients_cleanup(&who);
  return rc;
out:
  iris_free(payload);
  iris_recipients_cleanup(&who);
  if (rc && rc != IRIS_ENOMEM) {
    IRIS_LOG_ERR("notification %s: %s; will retry", n.id ? n.id : "-", err->msg);
    job_reason(j, "%s", err->msg);
    j->verdict = IRIS_SENDER_RETRY;
    j->retry_after = rc == IRIS_ETIMEOUT ? 1 : error_backoff_s(s, j);
    return IRIS_OK;
  }
  return rc;
}

/* A plan's tracking copy of a new incident (tracking.h): rendered from the plan, delivered to
 * the plan's tracking destination like a literal-target notification, outcome on the row. */
static int deliver_tracking(struct iris_sender *s, struct job *j, int64_t incident,
                            struct iris_err *err) {
  struct iris_tracking t;
  struct iris_err lerr = {0};
  struct fanout *f;
  int rc;

  j->verdict = IRIS_SENDER_RETRY;
  j->retry_after = 0;
  rc = iris_tracking_load(s->app->db, incident, &t, &lerr);
  if (rc == IRIS_ENOTFOUND) {
    IRIS_LOG_WARN("tracking of incident %" PRId64 ": %s; nothing to send", incident, lerr.msg);
    j->verdict = IRIS_SENDER_DONE;
    return IRIS_OK;
  }
  if (rc == IRIS_ENOMEM)
    return iris_err_set(err, rc, "%s", lerr.msg);
  if (rc) {
    IRIS_LOG_ERR("tracking of incident %" PRId64 ": %s; will retry", incident, lerr.msg);
    job_reason(j, "%s", lerr.msg);
    j->retry_after = error_backoff_s(s, j);
    return IRIS_OK;
  }
  if (!(f = iris_calloc(1, sizeof *f))) {
    iris_tracking_cleanup(&t);
    return iris_err_set(err, IRIS_ENOMEM, "sender: tracking of incident %" PRId64, incident);
  }
  f->job = *j;
  f->t = t; /* (owned by f from here) */
  f->incident = incident;
  snprintf(f->tid, sizeof f->tid, "tracking-%" PRId64, incident);
  snprintf(f->tkey, sizeof f->tkey, "t:%" PRId64, incident);
  f->n.id = f->tid;
  f->n.claim_key = f->tkey;
  f->n.tracking = 1;
  f->n.application = f->t.application;
  f->n.mode = f->t.mode;
  f->n.subject = f->t.subject;
  f->n.body = f->t.body;
  f->n.email_html = f->t.email_html;
  f->total = 1;
  rc = deliver_recipient(s, f, NULL, err);
  fanout_note(f, rc, err, 0);
  return fanout_close(s, f, j, err);
}

/*
 * A batch the coordinator cannot have made (batch_members): its claim is recorded as failed
 * for good with the reason, so a redelivery is acknowledged as settled, nothing is sent, and
 * the record goes to the dead-letter queue with the reason.
 */
static int refuse_batch(struct iris_sender *s, struct job *j, const struct iris_envelope *env,
                        const char *why) {
  struct iris_claim c;
  struct iris_err cerr = {0};
  enum iris_claim_outcome outcome = IRIS_CLAIM_BUSY;
  char key[40], reason[700];
  snprintf(key, sizeof key, "b:%s", env->batch_id);
  snprintf(reason, sizeof reason, "batch %s refused: %s", env->batch_id, why);
  memset(&c, 0, sizeof c);
  c.key = key;
  c.owner = j->owner;
  c.kind = "batch";
  c.batch_id = env->batch_id;
  c.lane = j->rec->lane ? j->rec->lane : "unknown";
  c.sqs_message_id = j->rec->sqs_message_id;
  c.lease_seconds = (int)s->lease_s;
  c.due_now = 1;
  if (iris_claim_take(s->app->db, &c, &outcome, NULL, NULL, &cerr) == IRIS_OK &&
      outcome == IRIS_CLAIM_TAKEN &&
      iris_claim_failed(s->app->db, &c, 1, 0, reason, &cerr) == IRIS_OK)
    IRIS_LOG_ERR("%s", reason);
  else if (cerr.rc)
    IRIS_LOG_ERR("%s (and its claim could not be recorded: %s)", reason, cerr.msg);
  return dead_letter(s, j->rec, 0, reason, &j->verdict);
}

/* A record's verdict once its delivery ended (rc its code). The last receive: a retry would
 * only reach the dead-letter queue through SQS's redrive, silently. Whatever could be recorded
 * is (the delivery functions did that); the record goes there now with its reason. */
static int job_close(struct iris_sender *s, struct job *j, int rc,
                     enum iris_sender_verdict *verdict, int *retry_after_s) {
  if (rc == IRIS_OK && (j->dead_letter || (j->last && j->verdict == IRIS_SENDER_RETRY))) {
    if (!j->reason[0])
      job_reason(j, "no outcome after %ld receives", j->rec->receive_count);
    rc = dead_letter(s, j->rec, 1, j->reason, &j->verdict);
    if (j->verdict == IRIS_SENDER_RETRY)
      j->retry_after =
          1; /* no dead-letter queue of our own: the redrive takes it on the next receive */
  }
  *verdict = j->verdict;
  *retry_after_s = j->retry_after;
  return rc;
}

/* One record. When its delivery paused (only inside handle_batch) its envelope is moved to
 * *keep (its recipients borrow from it) and *kept set; the caller cleans it up after the
 * batch's calls. keep may be NULL outside a batch. */
static int handle_one(struct iris_sender *s, const char *owner,
                      const struct iris_sender_record *rec, int preclaimed,
                      struct iris_envelope *keep, int *kept, enum iris_sender_verdict *verdict,
                      int *retry_after_s, struct iris_err *err) {
  struct iris_envelope env;
  struct iris_err perr = {0};
  struct job j;
  int rc;
  *verdict = IRIS_SENDER_RETRY;
  *retry_after_s = 0;
  rc = iris_envelope_parse(rec->body ? rec->body : "", rec->body_len, &env, &perr);
  if (rc == IRIS_ENOMEM)
    return iris_err_set(err, rc, "%s", perr.msg);
  if (rc)
    return dead_letter(s, rec, 0, perr.msg, verdict);
  memset(&j, 0, sizeof j);
  j.owner = owner;
  j.rec = rec;
  j.max_receives = (long)s->max_receives;
  j.last = s->max_receives > 0 && rec->receive_count >= s->max_receives;
  j.preclaimed = preclaimed;
  j.verdict = IRIS_SENDER_RETRY;
  switch (env.kind) {
  case IRIS_ENV_MESSAGE: {
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, env.message_id);
    iris_log_set_message_id(idtext);
    rc = deliver_message(s, &j, env.message_id, NULL, NULL, 0, err);
    break;
  }
  case IRIS_ENV_BATCH: {
    int64_t *live = NULL;
    size_t nlive = 0;
    iris_log_set_message_id(env.batch_id);
    rc = batch_members(s->app->db, env.message_ids, env.nmessage_ids, &live, &nlive, err);
    if (rc == IRIS_ENOMEM)
      break;
    if (rc == IRIS_EINVAL) {
      rc = refuse_batch(s, &j, &env, err->msg);
      iris_err_clear(err);
    } else if (rc) {
      IRIS_LOG_ERR("batch %s: %s; will retry", env.batch_id, err->msg);
      job_reason(&j, "%s", err->msg);
      j.retry_after = error_backoff_s(s, &j);
      rc = IRIS_OK;
    } else if (nlive == 0) {
      IRIS_LOG_INFO("batch %s: no member is still active (claimed incidents); nothing to send",
                    env.batch_id);
      j.verdict = IRIS_SENDER_DONE;
    } else if (nlive == 1) {
      /* As Iris: a batch down to one message is sent as that message. */
      rc = deliver_message(s, &j, live[0], NULL, NULL, 0, err);
    } else {
      rc = deliver_message(s, &j, live[0], env.batch_id, live, nlive, err);
    }
    iris_free(live);
    break;
  }
  case IRIS_ENV_TRACKING: rc = deliver_tracking(s, &j, env.incident_id, err); break;
  case IRIS_ENV_NOTIFICATION:
    iris_log_set_message_id(nstr(env.notification, "notification_id"));
    rc = deliver_notification(s, &j, env.notification, err);
    break;
  }
  if (!j.paused)
    rc = job_close(s, &j, rc, verdict, retry_after_s);
  iris_log_set_message_id(NULL);
  if (j.paused && keep) {
    *keep = env; /* (a batch's id is copied by its delivery: nothing points into env itself) */
    *kept = 1;
  } else {
    iris_envelope_cleanup(&env);
  }
  return rc;
}

int iris_sender_handle(struct iris_sender *s, const char *owner,
                       const struct iris_sender_record *rec, enum iris_sender_verdict *verdict,
                       int *retry_after_s, struct iris_err *err) {
  int rc = handle_one(s, owner, rec, 0, NULL, NULL, verdict, retry_after_s, err);
  struct iris_err qerr = {0};
  iris_quota_flush(s->app->db, s->quota_cache, &qerr); /* (logged there) */
  return rc;
}

/* ---- one SQS batch: the Lambda event and worker mode ---------------------------------------- */

/* One record of a batch being handled. */
struct slot {
  struct iris_sender_record r;      /* borrowed from the event or the receive */
  const char *answer_id;            /* the messageId as SQS gave it (borrowed): the answer */
  char mid[ID_MAX + 1];             /* the messageId bounded (bound_id): r.sqs_message_id */
  char owner[256];                  /* this attempt: request id (or worker pid) + record */
  char key[48];                     /* its claim key when it can be claimed with the batch */
  int whole;                        /* a batch or notification envelope: a repeat is its body */
  size_t same_as;                   /* 1 + the index of an earlier record it repeats, 0 */
  int preclaimed;                   /* claimed with the batch (iris_claim_take_many) */
  struct iris_envelope env;         /* its envelope while its delivery is paused (owned) */
  int kept;                         /* env holds it */
  enum iris_sender_verdict verdict; /* out */
  int retry;                        /* out: seconds until it is visible again (RETRY) */
};

/*
 * An id SQS or the Runtime API hands us, bounded for our own use: the claims' columns
 * (sqs_message_id is 128 ASCII characters, owner 128), the owners compared against them, and
 * the logs. Such ids are UUIDs; one of at most ID_MAX printable ASCII characters is
 * kept as it is. Any other becomes its first characters ('?' for a byte that is not printable
 * ASCII), '~' and 16 hex digits of the whole id's SHA-256, ID_MAX characters in all, so
 * that two different ids stay apart. A longer id written as it is would be cut by the column
 * and no longer match the owner that holds the claim. out: ID_MAX + 1 bytes.
 */
static const char *bound_id(const char *id, char out[ID_MAX + 1]) {
  size_t n = strlen(id), i, keep = ID_MAX - 17;
  char hash[65];
  int plain = n <= ID_MAX;
  for (i = 0; plain && i < n; i++)
    plain = iris_ascii_graphic(id[i]);
  if (plain) {
    memcpy(out, id, n + 1);
    return out;
  }
  for (i = 0; i < keep && i < n; i++)
    out[i] = iris_ascii_graphic(id[i]) ? id[i] : '?';
  sha256_hex(id, hash);
  snprintf(out + i, ID_MAX + 1 - i, "~%.16s", hash);
  return out;
}

/* The claim a record's envelope can be claimed by with its batch — a message or a tracking
 * copy (the others' keys need their data: a batch's representative, a notification's
 * recipients) — into c (keys in sl->key); 0 when there is none. A valid batch or notification
 * envelope is marked `whole`: another record of the same batch with the same body repeats it
 * (an SQS duplicate), as a message repeats one with the same key. */
static int batch_claim(struct iris_sender *s, struct slot *sl, struct iris_claim *c) {
  struct iris_envelope env;
  struct iris_err ignored = {0};
  int ok = 0;
  memset(c, 0, sizeof *c);
  sl->key[0] = '\0';
  sl->whole = 0;
  if (iris_envelope_parse(sl->r.body ? sl->r.body : "", sl->r.body_len, &env, &ignored))
    return 0;
  if (env.kind == IRIS_ENV_BATCH || env.kind == IRIS_ENV_NOTIFICATION) {
    sl->whole = 1;
  } else if (env.kind == IRIS_ENV_MESSAGE) {
    snprintf(sl->key, sizeof sl->key, "m:%" PRId64, env.message_id);
    c->kind = "message";
    c->message_id = env.message_id;
    ok = 1;
  } else if (env.kind == IRIS_ENV_TRACKING) {
    snprintf(sl->key, sizeof sl->key, "t:%" PRId64, env.incident_id);
    c->kind = "tracking";
    ok = 1;
  }
  iris_envelope_cleanup(&env);
  c->key = sl->key;
  c->owner = sl->owner;
  c->lane = sl->r.lane ? sl->r.lane : "unknown";
  c->sqs_message_id = sl->r.sqs_message_id;
  c->lease_seconds = (int)s->lease_s;
  return ok;
}

/*
 * Record the batch's sent outcomes (defer_sent) in one transaction. If that fails, each is
 * recorded on its own (settle_all's patience with a lost connection included), so one record
 * the database refuses does not fail the others; a record whose outcome could not be recorded
 * is retried (its claim stays `sending`: after the lease it is taken over and counted — the
 * window documented in docs/sender.md), and on its last receive dead-lettered with the reason.
 */
static void flush_sent(struct iris_sender *s, struct slot *slots) {
  const struct iris_claim **c = NULL;
  const struct outcome **o = NULL;
  struct iris_err err = {0};
  size_t i, n = s->npend;
  int rc = IRIS_OK;

  if (!n)
    return;
  c = iris_calloc(n, sizeof *c);
  o = iris_calloc(n, sizeof *o);
  if (c && o) {
    for (i = 0; i < n; i++) {
      c[i] = &s->pend[i]->c;
      o[i] = &s->pend[i]->o;
    }
    rc = settle_all(s, c, o, n, 1, &err);
  }
  for (i = 0; i < n; i++) {
    struct pend *p = s->pend[i];
    struct slot *sl = &slots[p->slot];
    if (p->recipient && (!c || !o || (rc && settle_all(s, &c[i], &o[i], 1, 0, &err) != IRIS_OK))) {
      /* a recipient: its record is retried when it ends (finish_ended) */
      if (!c || !o)
        iris_err_set(&err, IRIS_ENOMEM, "sender: recording the batch's outcomes");
      IRIS_LOG_ERR("claim %s: recording its outcome failed: %s", p->key, err.msg);
      if (p->f)
        fanout_note(p->f, err.rc ? err.rc : IRIS_EDB, &err, 0);
      metric(s, "errors", NULL, NULL);
    } else if (p->recipient) {
      const char *vname = p->o.v ? iris_vendor_name(p->o.v) : NULL;
      IRIS_LOG_INFO("%s sent by %s to %s as %s", p->key, vname ? vname : "-",
                    p->destination ? p->destination : "-", p->mode);
      metric(s, "sent", p->mode, vname);
    } else if (!c || !o || (rc && settle_all(s, &c[i], &o[i], 1, 0, &err) != IRIS_OK)) {
      sl->verdict = IRIS_SENDER_RETRY;
      sl->retry = backoff_s(s, sl->r.receive_count > 1 ? (int)sl->r.receive_count : 1);
      IRIS_LOG_ERR("message %" PRId64 ": recording its outcome failed: %s; will retry", p->m.id,
                   c && o ? err.msg : "out of memory");
      metric(s, "errors", NULL, NULL);
      if (s->max_receives > 0 && sl->r.receive_count >= s->max_receives) {
        char reason[700];
        snprintf(reason, sizeof reason, "gave up on the last receive (%ld of %lld): %s",
                 sl->r.receive_count, (long long)s->max_receives,
                 c && o ? err.msg : "out of memory");
        (void)dead_letter(s, &sl->r, 1, reason, &sl->verdict);
      }
    } else {
      sent_logged(s, &p->m, p->mode, p->destination, p->o.v, p->vendor_id);
    }
    pend_free(p);
  }
  s->npend = 0;
  iris_free(c);
  iris_free(o);
}

/* The batch's records with recipients, once its sent outcomes are recorded (flush_sent): each
 * ends (fanout_finish) and gets its verdict. Returns IRIS_ENOMEM or IRIS_OK. */
static int finish_ended(struct iris_sender *s, struct slot *slots) {
  size_t i;
  int rc = IRIS_OK;
  for (i = 0; i < s->nended; i++) {
    struct fanout *f = s->ended[i];
    struct slot *sl = &slots[f->slot];
    int frc = rc == IRIS_OK ? fanout_finish(s, f) : rc;
    if (frc == IRIS_ENOMEM)
      rc = frc;
    else if (job_close(s, &f->job, frc, &sl->verdict, &sl->retry) == IRIS_ENOMEM)
      rc = IRIS_ENOMEM;
    fanout_free(f);
  }
  s->nended = 0;
  return rc;
}

/* Records not started for lack of time: said once per batch. */
static void log_deferred(struct iris_sender *s, size_t deferred) {
  if (!deferred)
    return;
  IRIS_LOG_WARN("%zu record(s) not started: the invocation's deadline is %lld ms away (margin "
                "sender.deadline_margin_ms %lld); reported as batch item failures",
                deferred, (long long)time_left_ms(s), (long long)s->deadline_margin_ms);
  metric(s, "deferred", NULL, NULL);
}

static int by_delivery_key(const void *a, const void *b) {
  return strcmp((*(struct delivery *const *)a)->key, (*(struct delivery *const *)b)->key);
}

/* The vendor call's message of message delivery d: every field borrowed from d. */
static void message_call(struct iris_sender *s, struct delivery *d) {
  struct iris_plugin_message *pm = &d->pm;
  d->dests[0] = d->contact.destination;
  pm->struct_size = sizeof *pm;
  pm->message_id = d->idtext;
  pm->mode = d->mode;
  pm->destinations = d->dests;
  pm->ndestinations = d->contact.destination ? 1 : 0;
  pm->subject = d->r.subject;
  pm->body = d->r.body ? d->r.body : "";
  pm->email_html = d->r.email_html;
  pm->application = d->m.application;
  pm->priority = d->m.priority;
  pm->incident_id = d->m.incident_id;
  pm->plan = d->m.plan;
  pm->target = d->m.target;
  pm->extra = d->extra;
  pm->nextra = page_extras(s, d->m.application, d->mode, NULL, d->extra);
}

/*
 * Make the vendor calls of the deliveries the batch paused, then finish each (as
 * deliver_message or deliver_recipient would have, one by one; a record with recipients ends
 * after the batch's sent outcomes are recorded): their claims go to `sending` in one statement and
 * one commit (instead of one per record), then the calls are made, each bounded by the time
 * left. With too little time left, none is started and each claim is given back. Sets the
 * slots' verdicts; returns IRIS_ENOMEM or IRIS_OK.
 */
static int send_paused(struct iris_sender *s, struct slot *slots, struct iris_delivery_list *l) {
  struct iris_claim_sending_row *rows = NULL;
  struct delivery **calls = NULL;
  struct iris_err terr = {0}, cerr = {0};
  struct iris_vendor_call *vcalls = NULL;
  size_t *vidx = NULL;
  int *ok = NULL, *code = NULL, *late = NULL;
  size_t i, k, n = l->n, ncalls = 0, nv = 0, deferred = 0;
  int rc = IRIS_OK, trc, crc = IRIS_OK;

  if (!n)
    return IRIS_OK;
  qsort(l->v, n, sizeof *l->v, by_delivery_key);
  rows = iris_calloc(n, sizeof *rows);
  calls = iris_calloc(n, sizeof *calls);
  ok = iris_calloc(n, sizeof *ok);
  code = iris_calloc(n, sizeof *code);
  late = iris_calloc(n, sizeof *late);
  vcalls = iris_calloc(n, sizeof *vcalls);
  vidx = iris_calloc(n, sizeof *vidx);
  if (!rows || !calls || !ok || !code || !late || !vcalls || !vidx) {
    /* (each is freed by handle_batch, not sent; the records are retried) */
    rc = iris_err_set(&cerr, IRIS_ENOMEM, "sender: the batch's vendor calls");
    goto out;
  }
  trc = time_for_a_call(s, &terr);
  for (i = 0; rc == IRIS_OK && i < n; i++) {
    struct delivery *d = l->v[i];
    if (!d->f)
      snprintf(d->idtext, sizeof d->idtext, "%" PRId64, d->m.id);
    d->attempted = 1;
    d->v = iris_dispatch_pick(s->dispatch, d->mode, d->attempts);
    if (!d->v)
      code[i] = iris_err_set(&cerr, IRIS_ENOTFOUND, "no vendor is configured for mode %s", d->mode);
    else if (trc)
      code[i] = trc;
    else {
      rows[ncalls].c = &d->c;
      rows[ncalls].mode = d->mode;
      rows[ncalls].vendor = iris_vendor_name(d->v);
      calls[ncalls++] = d;
    }
  }
  if (ncalls) {
    crc = iris_claim_sending_many(s->app->db, rows, ncalls, ok, &cerr);
    if (crc == IRIS_ENOMEM)
      rc = crc;
    else if (crc) {
      /* One by one, so that a claim the database refuses does not hold back the others. */
      IRIS_LOG_WARN("the batch's claims could not go to sending together (%s); one by one",
                    cerr.msg);
      for (i = 0; i < ncalls; i++) {
        late[i] = iris_claim_sending(s->app->db, rows[i].c, rows[i].mode, rows[i].vendor,
                                     &calls[i]->late);
        ok[i] = late[i] == IRIS_OK || late[i] == IRIS_ESTATE;
      }
      crc = IRIS_OK;
    }
  }
  for (i = 0, nv = 0; i < ncalls; i++) {
    struct delivery *d = calls[i];
    struct iris_plugin_message *pm = &d->pm;
    if (crc || !ok[i] || late[i])
      continue;
    if (d->f)
      recipient_call(s, d);
    else
      message_call(s, d);
    vcalls[nv].v = d->v;
    vcalls[nv].msg = pm;
    vcalls[nv].timeout_ms = call_limit_ms(s);
    vcalls[nv].res = &d->res;
    vidx[nv++] = i;
  }
  /* The calls, together (sender.vendor_concurrency at once); none starts once the time
   * left is below the margin. */
  {
    int64_t left = time_left_ms(s) - s->deadline_margin_ms;
    iris_vendor_calls_send_many(s->calls, vcalls, nv,
                                s->deadline_ms ? iris_clock_mono_ms() + (left > 0 ? left : 0) : 0,
                                s->request_id);
  }
  for (k = 0; k < nv; k++) {
    struct delivery *d = calls[vidx[k]];
    struct iris_err uerr = {0};
    if (vcalls[k].started) {
      const char *dims[] = {"Mode", d->mode, "Vendor", iris_vendor_name(d->v), NULL};
      (void)iris_metrics_put(s->app->metrics, "vendor_latency", (double)vcalls[k].elapsed_ms,
                             IRIS_METRIC_MILLISECONDS, dims);
      continue;
    }
    /* The earlier calls took the time: this one was not made, and its claim goes back from
     * `sending` (no call was made) so that its retry does not count a possible duplicate. */
    late[vidx[k]] = iris_err_set(&d->late, IRIS_ETIMEOUT,
                                 "the invocation's deadline is %lld ms away, below "
                                 "sender.deadline_margin_ms (%lld): no vendor call started",
                                 (long long)time_left_ms(s), (long long)s->deadline_margin_ms);
    if (iris_claim_unsend(s->app->db, &d->c, &uerr))
      IRIS_LOG_WARN("claim %s: %s", d->key, uerr.msg);
  }
  iris_log_set_message_id(NULL);
  for (i = 0; i < n; i++) { /* finish in the batch's order of keys (as they were sorted) */
    struct delivery *d = l->v[i];
    struct iris_err err = {0};
    struct job job = d->own_job;
    struct fanout *f = d->f;
    struct slot *sl = &slots[f ? f->slot : d->slot];
    int drc = code[i];
    for (k = 0; k < ncalls && calls[k] != d; k++)
      ;
    if (k < ncalls && crc) {
      drc = crc;
      err = cerr;
    } else if (k < ncalls && late[k]) {
      drc = late[k];
      err = d->late;
    } else if (k < ncalls && !ok[k]) {
      drc = iris_err_set(&err, IRIS_ESTATE, "claim %s: no longer held by %s", d->key, d->c.owner);
    } else if (drc == IRIS_ENOTFOUND) {
      iris_err_set(&err, drc, "no vendor is configured for mode %s", d->mode);
    } else if (drc == trc && drc) {
      err = terr;
    } else if (drc) {
      iris_err_set(&err, drc, "sender: the batch's vendor calls");
    }
    if (drc == IRIS_ETIMEOUT)
      deferred++;
    if (f) { /* a recipient: its record ends with its last paused recipient */
      iris_log_set_message_id(f->n.id);
      l->v[i] = NULL;
      if (recipient_resume(s, d, drc, &err) == IRIS_ENOMEM) /* (frees d) */
        rc = IRIS_ENOMEM;
      if (f->pending == 0 && f->issued && fanout_ended(s, f) != IRIS_OK) {
        rc = IRIS_ENOMEM; /* (the record is retried) */
        fanout_drop(s, f);
      }
      iris_log_set_message_id(NULL);
      continue;
    }
    d->j = &job;
    s->cur_slot = d->slot; /* (where its sent outcome is recorded: flush_sent) */
    iris_log_set_message_id(d->idtext[0] ? d->idtext : NULL);
    drc = message_finish(s, d, drc, &err); /* (frees d) */
    l->v[i] = NULL;
    if (drc == IRIS_ENOMEM)
      rc = drc;
    drc = job_close(s, &job, drc, &sl->verdict, &sl->retry);
    if (drc == IRIS_ENOMEM)
      rc = drc;
    iris_log_set_message_id(NULL);
  }
  l->n = 0;
  log_deferred(s, deferred);
out:
  iris_free(rows);
  iris_free(calls);
  iris_free(ok);
  iris_free(code);
  iris_free(late);
  iris_free(vcalls);
  iris_free(vidx);
  return rc;
}

/* Drop what the batch read ahead and nobody took. */
static void forget_ahead(struct iris_sender *s) {
  size_t i;
  for (i = 0; i < s->nahead; i++)
    if (s->ahead_state[i] == 1)
      msgrow_cleanup(&s->ahead[i]);
  iris_free(s->ahead);
  iris_free(s->ahead_ids);
  iris_free(s->ahead_state);
  s->ahead_rules = NULL; /* (both kept for later batches: kept_lookups) */
  s->ahead_contacts = NULL;
  iris_free(s->ahead_decided);
  s->ahead_decided = NULL;
  s->nahead_decided = 0;
  s->ahead = NULL;
  s->ahead_ids = NULL;
  s->ahead_state = NULL;
  s->nahead = 0;
}

/* Read the message rows of the batch's n message claims in one query, for load_message. A
 * failure only costs the round trips saved: each record then reads its own. */
static void read_ahead(struct iris_sender *s, const struct iris_claim *c, size_t n) {
  struct iris_err err = {0};
  size_t i, k = 0;
  forget_ahead(s);
  for (i = 0; i < n; i++)
    k += strcmp(c[i].kind, "message") == 0;
  if (k < 2)
    return;
  s->ahead = iris_calloc(k, sizeof *s->ahead);
  s->ahead_ids = iris_calloc(k, sizeof *s->ahead_ids);
  s->ahead_state = iris_calloc(k, sizeof *s->ahead_state);
  if (!s->ahead || !s->ahead_ids || !s->ahead_state) {
    forget_ahead(s);
    return;
  }
  for (i = 0; i < n; i++)
    if (strcmp(c[i].kind, "message") == 0)
      s->ahead_ids[s->nahead++] = c[i].message_id;
  if (load_messages(s->app->db, s->ahead_ids, s->nahead, s->ahead, s->ahead_state, &err)) {
    IRIS_LOG_WARN("reading the batch's %zu messages at once failed (%s); one by one", k, err.msg);
    forget_ahead(s);
    return;
  }
  for (i = 0; i < s->nahead; i++)
    s->ahead_state[i] = s->ahead_state[i] ? 1 : 2;
  { /* the priority chains and reprioritization rules of the users whose mode the priority
     * chain picks */
    const char **targets = iris_calloc(s->nahead, sizeof *targets);
    struct iris_contact_want *want = iris_calloc(s->nahead, sizeof *want);
    size_t nt = 0, nw = 0;
    for (i = 0; targets && want && i < s->nahead; i++) {
      const struct msgrow *m = &s->ahead[i];
      size_t t;
      if (s->ahead_state[i] != 1 || m->mode || !m->target || !m->application)
        continue;
      for (t = 0; t < nt && strcmp(targets[t], m->target) != 0; t++)
        ;
      if (t == nt)
        targets[nt++] = m->target;
      for (t = 0; t < nw && (want[t].priority_id != m->priority_id ||
                             strcmp(want[t].target, m->target) != 0 ||
                             strcmp(want[t].application, m->application) != 0);
           t++)
        ;
      if (t == nw)
        want[nw++] = (struct iris_contact_want){m->target, m->application, m->priority_id};
    }
    if (nw && !(s->ahead_contacts = kept_contacts_for(&s->kept, want, nw))) {
      struct iris_contacts *read = NULL;
      if (iris_contacts_read(s->app->db, want, nw, &read, &err))
        IRIS_LOG_WARN("reading the batch's contacts failed (%s); one by one", err.msg);
      else
        kept_set_contacts(&s->kept, read, want, nw);
      s->ahead_contacts = read;
    }
    if (nt && !(s->ahead_rules = kept_rules_for(&s->kept, targets, nt))) {
      struct iris_reprioritize_rules *read = NULL;
      if (iris_reprioritize_rules_read(s->app->db, targets, nt, &read, &err))
        IRIS_LOG_WARN("reading the batch's reprioritization rules failed (%s); one by one",
                      err.msg);
      else
        kept_set_rules(&s->kept, read, targets, nt);
      s->ahead_rules = read;
    }
    iris_free(targets);
    iris_free(want);
  }
}

/* The row read ahead for claim c if its reprioritisation can be decided with the batch's
 * (reprioritize.h): a fresh message claim (not a batch's) the priority chain resolves, still
 * to be sent and active; else NULL. Borrowed from s->ahead. */
static const struct msgrow *decidable_row(const struct iris_sender *s, const struct iris_claim *c) {
  size_t k;
  if (strcmp(c->kind, "message") != 0 || c->batch_id)
    return NULL;
  for (k = 0; k < s->nahead; k++)
    if (s->ahead_ids[k] == c->message_id && s->ahead_state[k] == 1) {
      const struct msgrow *m = &s->ahead[k];
      return !m->mode && m->target && m->application && m->active && !m->sent && m->incident_active
                 ? m
                 : NULL;
    }
  return NULL;
}

/* Whether a delivery of the batch will ask for a decision: one decidable_row whose user has a
 * rule among those read ahead. */
static int any_ruled(const struct iris_sender *s, const struct iris_claim *c, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    const struct msgrow *m = decidable_row(s, &c[i]);
    if (m && iris_reprioritize_rules_has(s->ahead_rules, m->target) == 1)
      return 1;
  }
  return 0;
}

/* The items (caller's, n of them) of the batch's claims whose reprioritisation can be decided
 * together: each taken claim with a decidable_row and its user's contact found; returns how
 * many were filled. taken NULL: as if every claim were taken. */
static size_t decidable(struct iris_sender *s, const struct iris_claim *c, const int *taken,
                        size_t n, struct iris_reprioritize_item *items) {
  size_t i, ni = 0;
  for (i = 0; i < n; i++) {
    const struct msgrow *m = (taken && !taken[i]) ? NULL : decidable_row(s, &c[i]);
    struct iris_contact contact = {0};
    struct iris_err cerr = {0};
    if (!m)
      continue;
    if (iris_contact_by_priority_ahead(s->ahead_contacts, s->app->db, m->target, m->application,
                                       m->priority_id, &contact, &cerr) == IRIS_OK) {
      items[ni].claim_key = c[i].key;
      items[ni].target = m->target;
      items[ni].message_id = m->id;
      snprintf(items[ni].mode, sizeof items[ni].mode, "%s", contact.mode);
      items[ni].mode_id = contact.mode_id;
      ni++;
    }
    iris_contact_cleanup(&contact);
  }
  return ni;
}

/* Reprioritisation of the batch's fresh message claims decided together (one transaction,
 * reprioritize.h) for the deliveries that will ask for it (decidable()). Each delivery then
 * finds its decision in s->ahead_decided; a failure here only costs the round trips saved
 * (each decides alone, as before). */
static void decide_ahead(struct iris_sender *s, const struct iris_claim *c, const int *taken,
                         size_t n) {
  struct iris_err err = {0};
  struct iris_reprioritize_item *items;
  size_t ni;
  if (!s->ahead_rules || !policy_of("message")->reprioritize ||
      !(items = iris_calloc(n + 1, sizeof *items)))
    return;
  ni = decidable(s, c, taken, n, items);
  if (ni && iris_reprioritize_decide_many(s->app->db, s->ahead_rules, items, ni, &err)) {
    IRIS_LOG_WARN("deciding the batch's reprioritization at once failed (%s); one by one", err.msg);
    ni = 0;
  }
  if (!ni) {
    iris_free(items);
    return;
  }
  s->ahead_decided = items;
  s->nahead_decided = ni;
}

/*
 * Take the batch's n claims (one statement) and decide their reprioritisation (decide_ahead).
 * When a fresh delivery's user has a rule, both are one transaction and one durable commit
 * instead of two: claims first, then the counters and messages, the lock order of every
 * writer (docs/coordinator.md). If anything in it fails, it is rolled back and both are done
 * apart, as without rules; a commit whose outcome is unknown is safe to redo that way (claims
 * that landed are found ours, decisions that landed are read back per delivery). Returns
 * iris_claim_take_many's code.
 */
static int take_claims(struct iris_sender *s, const struct iris_claim *c, size_t n, int *taken,
                       struct iris_err *err) {
  struct iris_reprioritize_item *items = NULL;
  struct iris_db *db = s->app->db;
  int rc;

  if (s->ahead_rules && policy_of("message")->reprioritize && any_ruled(s, c, n) &&
      (items = iris_calloc(n + 1, sizeof *items)) != NULL) {
    struct iris_err terr = {0};
    size_t ni = 0;
    rc = iris_db_begin(db, &terr);
    if (rc == IRIS_OK)
      rc = iris_claim_take_many(db, c, n, taken, &terr);
    if (rc == IRIS_OK && (ni = decidable(s, c, taken, n, items)) > 0)
      rc = iris_reprioritize_decide_many_in_txn(db, s->ahead_rules, items, ni, &terr);
    if (rc == IRIS_OK)
      rc = iris_db_commit(db, &terr);
    else
      (void)iris_db_rollback(db, NULL);
    if (rc == IRIS_OK) {
      if (ni) {
        s->ahead_decided = items;
        s->nahead_decided = ni;
      } else {
        iris_free(items);
      }
      return IRIS_OK;
    }
    iris_free(items);
    IRIS_LOG_WARN("taking the batch's claims and deciding its reprioritization in one "
                  "transaction failed (%s); apart",
                  terr.msg);
  }
  rc = iris_claim_take_many(db, c, n, taken, err);
  if (rc != IRIS_ENOMEM)
    decide_ahead(s, c, taken, n);
  return rc;
}

/* Whether record a repeats the earlier record b of its batch (batch_claim ran on both): the
 * same claim key, or for a batch or notification envelope the same body. */
static int repeats(const struct slot *a, const struct slot *b) {
  if (a->key[0])
    return strcmp(a->key, b->key) == 0;
  return a->whole && b->whole && a->r.body_len == b->r.body_len &&
         memcmp(a->r.body, b->r.body, a->r.body_len) == 0;
}

/*
 * Handle the n records of one SQS batch (the same path for Lambda events and worker mode):
 * the claims of its messages and tracking copies taken together in one statement, then each
 * record prepared up to its vendor calls, the calls made together (send_paused), the sent
 * outcomes recorded together (flush_sent), and the records with recipients ended
 * (finish_ended); a record repeating an earlier one's claim key gets that one's verdict.
 * With less than sender.deadline_margin_ms left before the invocation's deadline, no further
 * record is started and the claims taken for it are given back. Sets every slot's verdict;
 * returns IRIS_ENOMEM (the verdicts left RETRY) or IRIS_OK.
 */
static int handle_batch(struct iris_sender *s, struct slot *slots, size_t n, struct iris_err *err) {
  struct iris_delivery_list paused = {0};
  struct iris_claim *claims = iris_calloc(n ? n : 1, sizeof *claims);
  struct iris_claim *unique = iris_calloc(n ? n : 1, sizeof *unique);
  int *taken = iris_calloc(n ? n : 1, sizeof *taken);
  size_t *slot_of = iris_calloc(n ? n : 1, sizeof *slot_of);
  size_t i, k, nu = 0, deferred = 0;
  int rc = IRIS_OK;

  for (i = 0; i < n; i++) {
    slots[i].verdict = IRIS_SENDER_RETRY;
    slots[i].retry = 0;
  }
  if (!claims || !unique || !taken || !slot_of) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: the batch's claims");
    goto out;
  }
  s->deferring = 1;
  for (i = 0; i < n; i++) {
    int claimable = batch_claim(s, &slots[i], &claims[i]);
    for (k = 0; k < i && !slots[i].same_as; k++)
      if (repeats(&slots[i], &slots[k]))
        slots[i].same_as = k + 1;
    if (claimable && !slots[i].same_as) {
      unique[nu] = claims[i];
      slot_of[nu++] = i;
    }
  }
  if (nu) {
    struct iris_err cerr = {0};
    /* The batch's rows are read before its claims are taken: reads need no claim, and the
     * rules read tell whether the claims can share a commit with the reprioritisation. A
     * message's state is read once either way, before its vendor call. */
    read_ahead(s, unique, nu);
    if (take_claims(s, unique, nu, taken, &cerr) == IRIS_ENOMEM) {
      rc = iris_err_set(err, IRIS_ENOMEM, "%s", cerr.msg);
      goto out;
    } else if (cerr.rc) { /* each record meets the trouble by itself, with its own outcome */
      IRIS_LOG_WARN("the batch's claims could not be taken together: %s", cerr.msg);
    }
    for (k = 0; k < nu; k++)
      slots[slot_of[k]].preclaimed = taken[k];
  }
  s->collect = &paused;
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    struct slot *sl = &slots[i];
    struct iris_err rerr = {0};
    if (sl->same_as)
      continue;
    if (time_left_ms(s) < s->deadline_margin_ms) {
      /* Not started: its claim (if taken with the batch) is given back, untouched. */
      if (sl->preclaimed)
        release(s, &claims[i], 1, "the invocation's deadline came before it was started");
      sl->retry = 1;
      deferred++;
      continue;
    }
    s->cur_slot = i;
    rc = handle_one(s, sl->owner, &sl->r, sl->preclaimed, &sl->env, &sl->kept, &sl->verdict,
                    &sl->retry, &rerr);
    if (rc)
      rc = iris_err_set(err, rc, "%s", rerr.msg);
  }
  s->collect = NULL;
  if (rc == IRIS_OK)
    rc = send_paused(s, slots, &paused);
  flush_sent(s, slots); /* before the repeats below copy the verdicts */
  if (rc == IRIS_OK && finish_ended(s, slots) == IRIS_ENOMEM)
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: ending the batch's records");
  for (i = 0; i < n; i++)
    if (slots[i].same_as) {
      const struct slot *first = &slots[slots[i].same_as - 1];
      slots[i].verdict = first->verdict;
      slots[i].retry = first->retry;
      if (first->verdict == IRIS_SENDER_DONE) {
        IRIS_LOG_INFO("record %s repeats record %s (%s) of the same batch: duplicate delivery"
                      " acknowledged",
                      slots[i].r.sqs_message_id, first->r.sqs_message_id,
                      first->key[0] ? first->key : "the same envelope");
        metric(s, "duplicate", NULL, NULL);
      }
    }
  log_deferred(s, deferred);
out:
  s->collect = NULL;
  /* (nothing left after the flush above; after an error, what there is — first, as the
   * outcomes may name records freed below) */
  flush_sent(s, slots);
  for (i = 0; i < paused.n; i++) { /* (after an error: not sent, the records are retried) */
    struct fanout *f = paused.v[i] ? paused.v[i]->f : NULL;
    delivery_free(paused.v[i]);
    if (f && --f->pending == 0 && f->issued)
      fanout_free(f);
  }
  iris_free(paused.v);
  while (s->nended) /* (after an error: the records are retried) */
    fanout_free(s->ended[--s->nended]);
  for (i = 0; i < n; i++)
    if (slots[i].kept) {
      iris_envelope_cleanup(&slots[i].env);
      slots[i].kept = 0;
    }
  forget_ahead(s);
  {
    struct iris_err qerr = {0};
    iris_quota_flush(s->app->db, s->quota_cache, &qerr); /* (logged there) */
  }
  s->deferring = 0;
  iris_free(claims);
  iris_free(unique);
  iris_free(taken);
  iris_free(slot_of);
  return rc;
}

static void set_visibility(struct iris_sender *s, const char *url, const char *receipt,
                           int seconds) {
  struct iris_err err = {0};
  if (!url || !receipt || !s->app->sqs)
    return;
  if (seconds > 43200)
    seconds = 43200;
  if (iris_sqs_change_visibility(s->app->sqs, url, receipt, seconds, &err))
    IRIS_LOG_WARN("could not delay the retry: %s", err.msg);
}

int iris_sender_handle_event(struct iris_sender *s, const char *request_id, int64_t deadline_ms,
                             const char *event, size_t len, struct iris_buf *response,
                             struct iris_err *err) {
  struct iris_sqs_event ev;
  json_t *failures = NULL;
  struct slot *slots = NULL;
  char *text = NULL, rid[ID_MAX + 1];
  size_t i, n = 0;
  const char *who = request_id ? bound_id(request_id, rid) : "worker"; /* owners' first part */
  int rc = iris_sqs_event_read(event, len, iris_config_json(s->app->cfg, "queues"),
                               s->app->aws.region, &ev, err);

  if (rc)
    return rc;
  failures = json_array();
  slots = iris_calloc(ev.n + 1, sizeof *slots);
  if (!failures || !slots) {
    json_decref(failures);
    iris_sqs_event_cleanup(&ev);
    iris_free(slots);
    return iris_err_set(err, IRIS_ENOMEM, "sender: allocating the response");
  }
  s->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
  s->request_id = request_id;
  for (i = 0; i < ev.n; i++) {
    const struct iris_sqs_event_record *e = &ev.records[i];
    struct iris_sender_record *r = &slots[n].r;
    if (!e->message_id) {
      /* It cannot be named in the answer, and leaving it out would acknowledge it: an empty
       * itemIdentifier makes Lambda retry the whole batch (the others' claims keep that from
       * sending anything twice). */
      IRIS_LOG_ERR("record %zu of the event has no messageId: the whole batch is reported "
                   "failed so that it is not lost",
                   i);
      metric(s, "unidentified_record", NULL, NULL);
      json_array_append_new(failures, json_pack("{s:s}", "itemIdentifier", ""));
      continue;
    }
    if (!e->queue_url) {
      /* A queue this function is not configured for: no lane, no backoff, no dead-letter
       * attribution — a configuration error, reported on every record until it is fixed. */
      IRIS_LOG_ERR("record %s comes from %s, which is no configured queue (queues.<lane> URLs "
                   "are matched by region, account and name); left on its queue",
                   e->message_id, e->arn ? e->arn : "(no eventSourceARN)");
      metric(s, "unmatched_queue", NULL, NULL);
      json_array_append_new(failures, json_pack("{s:s}", "itemIdentifier", e->message_id));
      continue;
    }
    slots[n].answer_id = e->message_id;
    r->sqs_message_id = bound_id(e->message_id, slots[n].mid);
    r->receipt_handle = e->receipt_handle;
    r->body = e->body;
    r->body_len = e->body_len;
    r->receive_count = e->receive_count;
    r->queue_url = e->queue_url;
    r->lane = e->lane;
    snprintf(slots[n].owner, sizeof slots[n].owner, "%s/%s", who, r->sqs_message_id);
    n++;
  }
  rc = handle_batch(s, slots, n, err);
  for (i = 0; i < n; i++)
    if (rc || slots[i].verdict == IRIS_SENDER_RETRY) {
      set_visibility(s, slots[i].r.queue_url, slots[i].r.receipt_handle,
                     slots[i].retry > 0 ? slots[i].retry : 1);
      json_array_append_new(failures, json_pack("{s:s}", "itemIdentifier", slots[i].answer_id));
    }
  s->deadline_ms = 0;
  s->request_id = NULL;
  iris_metrics_flush(s->app->metrics);
  {
    json_t *answer = json_pack("{s:o}", "batchItemFailures", failures); /* takes failures */
    text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
  }
  if (!text)
    rc = iris_err_set(err, IRIS_ENOMEM, "sender: building the response");
  else
    rc = iris_buf_appends(response, text);
  iris_free(text);
  iris_free(slots);
  iris_sqs_event_cleanup(&ev);
  return rc;
}

int iris_sender_work(struct iris_sender *s, const char *const *lanes, size_t nlanes,
                     volatile int *stop, int max_idle_polls, struct iris_err *err) {
  int idle = 0;
  if (!s->app->sqs)
    return iris_err_set(err, IRIS_EINVAL, "sender worker: no SQS client configured");
  while (!(stop && *stop)) {
    size_t l, got = 0;
    for (l = 0; l < nlanes; l++) {
      char path[80];
      const char *url = NULL;
      struct iris_sqs_received msgs;
      struct iris_err rerr = {0};
      struct slot *slots;
      size_t i;
      snprintf(path, sizeof path, "queues.%s", lanes[l]);
      if (iris_config_get_str(s->app->cfg, path, &url, err))
        return err->rc;
      if (iris_sqs_receive(s->app->sqs, url, 10, nlanes > 1 ? 1 : 10, -1, &msgs, &rerr)) {
        IRIS_LOG_ERR("receive from %s: %s", lanes[l], rerr.msg);
        iris_clock_sleep_ms(1000);
        continue;
      }
      got += msgs.n;
      slots = iris_calloc(msgs.n + 1, sizeof *slots);
      if (!slots) {
        iris_sqs_received_cleanup(&msgs);
        return iris_err_set(err, IRIS_ENOMEM, "sender worker: a batch");
      }
      for (i = 0; i < msgs.n; i++) {
        struct iris_sender_record *r = &slots[i].r;
        r->sqs_message_id = bound_id(msgs.msgs[i].message_id, slots[i].mid);
        r->receipt_handle = msgs.msgs[i].receipt_handle;
        r->body = msgs.msgs[i].body;
        r->body_len = msgs.msgs[i].body_len;
        r->receive_count = msgs.msgs[i].receive_count;
        r->queue_url = url;
        r->lane = lanes[l];
        snprintf(slots[i].owner, sizeof slots[i].owner, "worker-%ld/%s", (long)getpid(),
                 r->sqs_message_id);
      }
      /* The same pipeline as a Lambda event; an out-of-memory leaves every record RETRY. */
      if (handle_batch(s, slots, msgs.n, &rerr))
        IRIS_LOG_ERR("batch from %s: %s", lanes[l], rerr.msg);
      for (i = 0; i < msgs.n; i++) {
        if (slots[i].verdict == IRIS_SENDER_DONE) {
          if (iris_sqs_delete(s->app->sqs, url, slots[i].r.receipt_handle, &rerr))
            IRIS_LOG_ERR("delete %s: %s", slots[i].r.sqs_message_id, rerr.msg);
        } else {
          set_visibility(s, url, slots[i].r.receipt_handle,
                         slots[i].retry > 0 ? slots[i].retry : 1);
        }
      }
      iris_free(slots);
      iris_sqs_received_cleanup(&msgs);
    }
    iris_metrics_flush(s->app->metrics);
    idle = got ? 0 : idle + 1;
    if (max_idle_polls > 0 && idle >= max_idle_polls)
      break;
  }
  return IRIS_OK;
}
