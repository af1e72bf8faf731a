/* escalate.c — incidents to messages (see escalate.h and db/migrations/0010). */
#include "escalate.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "recipients.h"
#include "utf8.h"

#define IRIS_LOG_MODULE "escalate"
#include "log.h"

#define PAGE 500          /* rows read per query of a pass */
#define RETRY_LOOKUP_S 60 /* a failed lookup with nobody to fall back to is retried after this */
#define RECHECK_S 15      /* a last step with unsettled messages is checked again after this */
#define MAX_PLANS 4096    /* plan cache bound (plans are immutable; the cache is reset past it) */
#define BUSY_RETRIES 3    /* replays of a transaction rolled back by a deadlock or lock wait */
#define ROWS 100          /* rows per multi-row statement */
#define GROUP 100         /* new incidents per transaction (replayed one by one on failure) */

/* ---- caches ------------------------------------------------------------------------------ */

struct pn {                               /* one plan notification */
  int64_t id, priority_id, dynamic_index; /* dynamic_index -1 unless dynamic */
  int step, optional, repeat, wait;
  char *role, *target; /* owned; NULL for a dynamic notification */
};

struct plan { /* one plan version, cached for the invocation */
  int64_t id, creator_id;
  int step_count;
  char *creator;         /* owned; NULL: nobody to fall back to */
  char *tracking_type;   /* owned; NULL: no tracking copies */
  json_t *tracking_apps; /* owned: tracking_template (object keyed by application) */
  struct pn *pns;        /* owned */
  size_t npns;
  struct plan *next;
};

struct who {           /* one (role, target) lookup, cached for a tick */
  char *role, *target; /* owned */
  int rc;              /* IRIS_OK or the lookup's failure */
  char *why;           /* owned; the failure, "" if none */
  int64_t *ids;        /* owned: active user targets, parallel to names */
  char **names;        /* owned */
  size_t n;
  struct who *next;
};

/* ---- the writes of one transaction --------------------------------------------------------
 * Rounds, step changes and escalation rows are queued while a transaction is built and written
 * by flush() just before its commit: a group of new incidents costs a handful of multi-row
 * statements (ROWS rows each) instead of several statements per incident, and the tables are
 * written in the lock order of docs/coordinator.md (incident, sender_escalation, message,
 * message_changelog, sender_enqueue, sender_tracking) whatever order the rounds were made in. */

struct mrow { /* one message to create */
  int64_t plan_id, pn_id, incident_id, application_id, target_id, priority_id;
  char *body;                        /* owned; NULL: empty */
  char *chg_old, *chg_new, *chg_why; /* owned; set: a 'target-change' changelog row */
  int64_t id;                        /* set by flush() */
};

struct erow { /* one new sender_escalation row */
  int64_t incident_id, pn_id, step, rounds, max_rounds, wait_s, delay, messages;
  const char *state; /* static */
  char *why;         /* owned; NULL: none */
};

struct srow { /* one incident moving from step `from` to `to` */
  int64_t incident_id, from, to;
};

struct trow { /* one tracking copy to create */
  int64_t incident_id;
  const struct plan *pl;   /* borrowed from the plan cache */
  const char *application; /* borrowed from the caller's list */
};

struct writes {
  struct mrow *msg;
  size_t nmsg, msgcap;
  struct erow *esc;
  size_t nesc, esccap;
  struct srow *step;
  size_t nstep, stepcap;
  struct trow *trk;
  size_t ntrk, trkcap;
  int tracking_made; /* tracking rows the last flush created */
};

struct iris_escalate {
  struct iris_db *db;                   /* borrowed */
  struct iris_recipients_opts who_opts; /* Oncall client (borrowed) and the list cap */
  const struct iris_lease_fence *fence; /* borrowed */
  struct plan *plans;
  size_t nplans;
  struct who *who;
  int64_t low_priority; /* id of priority 'low', 0 when there is none */
  int64_t id_step;      /* @@auto_increment_increment: distance of ids in one INSERT */
  struct writes w;      /* owned: the current transaction's queued writes */
  int adopted;          /* the adoption pass finished in this invocation */
  int64_t adopt_after;  /* incidents up to this id were looked at by the adoption pass */
  int64_t adopt_top;    /* the highest incident id when this invocation's pass began; -1:
                           the pass has not begun (sender_mark 'adopted_through' moves to it) */
};

struct incident {
  int64_t id, plan_id, application_id;
  int current_step;
  const char *application; /* borrowed; set for new incidents (tracking copies) */
};

static void free_plan(struct plan *p) {
  size_t i;
  for (i = 0; i < p->npns; i++) {
    iris_free(p->pns[i].role);
    iris_free(p->pns[i].target);
  }
  iris_free(p->pns);
  iris_free(p->creator);
  iris_free(p->tracking_type);
  json_decref(p->tracking_apps);
  iris_free(p);
}

static void free_plans(struct iris_escalate *e) {
  while (e->plans) {
    struct plan *p = e->plans;
    e->plans = p->next;
    free_plan(p);
  }
  e->nplans = 0;
}

static void free_who(struct iris_escalate *e) {
  while (e->who) {
    struct who *w = e->who;
    size_t i;
    e->who = w->next;
    for (i = 0; i < w->n; i++)
      iris_free(w->names[i]);
    iris_free(w->names);
    iris_free(w->ids);
    iris_free(w->role);
    iris_free(w->target);
    iris_free(w->why);
    iris_free(w);
  }
}

/* Room for `need` items of `size` bytes in `arr` (capacity *cap, at least doubled when it
 * grows): returns `arr` or its reallocation (the caller's new owned array), NULL when out of
 * memory (`arr` is then unchanged and still owned by the caller). */
static void *grow(void *arr, size_t *cap, size_t need, size_t size) {
  size_t want = *cap * 2 > need ? *cap * 2 : need + 16;
  void *bigger;
  if (need <= *cap)
    return arr;
  bigger = iris_realloc(arr, want * size);
  if (bigger)
    *cap = want;
  return bigger;
}

static void clear_writes(struct writes *w) {
  size_t i;
  for (i = 0; i < w->nmsg; i++) {
    iris_free(w->msg[i].body);
    iris_free(w->msg[i].chg_old);
    iris_free(w->msg[i].chg_new);
    iris_free(w->msg[i].chg_why);
  }
  for (i = 0; i < w->nesc; i++)
    iris_free(w->esc[i].why);
  w->nmsg = w->nesc = w->nstep = w->ntrk = 0;
}

static void free_writes(struct writes *w) {
  clear_writes(w);
  iris_free(w->msg);
  iris_free(w->esc);
  iris_free(w->step);
  iris_free(w->trk);
  memset(w, 0, sizeof *w);
}

int iris_escalate_new(struct iris_db *db, const struct iris_escalate_opts *opts,
                      struct iris_escalate **out, struct iris_err *err) {
  struct iris_escalate *e = iris_calloc(1, sizeof *e);
  *out = NULL;
  if (!e)
    return iris_err_set(err, IRIS_ENOMEM, "escalate: handle");
  e->db = db;
  e->who_opts.oncall = opts ? opts->oncall : NULL;
  e->who_opts.max_unrolled_users = opts ? opts->max_unrolled_users : 0;
  e->fence = opts ? opts->fence : NULL;
  e->low_priority = -1;
  e->adopt_top = -1;
  e->id_step = 0;
  *out = e;
  return IRIS_OK;
}

void iris_escalate_free(struct iris_escalate *e) {
  if (!e)
    return;
  free_plans(e);
  free_who(e);
  free_writes(&e->w);
  iris_free(e);
}

static int get_int(struct iris_db_rows *rows, size_t col, int *out, struct iris_err *err) {
  int64_t v = 0;
  int rc = iris_db_is_null(rows, col) ? IRIS_OK : iris_db_get_i64(rows, col, &v, err);
  *out = (int)v;
  return rc;
}

/* Load one plan (its row and notifications) into the cache. */
static int load_plan(struct iris_escalate *e, int64_t id, struct plan **out, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(id)};
  struct plan *pl = iris_calloc(1, sizeof *pl);
  char *tmpl = NULL;
  size_t k = 0;
  int rc;
  if (!pl)
    return iris_err_set(err, IRIS_ENOMEM, "escalate: plan %" PRId64, id);
  pl->id = id;
  rc = iris_db_query_one(e->db, IRIS_DB_IDEMPOTENT,
                         "SELECT p.step_count, p.user_id, t.name, p.tracking_type, p.tracking_key,"
                         " p.tracking_template FROM plan p LEFT JOIN target t ON t.id = p.user_id"
                         " AND t.active = 1 WHERE p.id = ?",
                         p, 1, &rows, err);
  if (rc == IRIS_ENOTFOUND)
    rc = iris_err_set(err, IRIS_ENOTFOUND, "plan %" PRId64 " does not exist", id);
  if (rc)
    goto out;
  if ((rc = get_int(rows, 0, &pl->step_count, err)) ||
      (rc = (iris_db_is_null(rows, 1) ? IRIS_OK
                                      : iris_db_get_i64(rows, 1, &pl->creator_id, err))) ||
      (rc = iris_db_get_strdup(rows, 2, &pl->creator, err)) ||
      (rc = iris_db_get_strdup(rows, 3, &pl->tracking_type, err)) ||
      (rc = iris_db_get_strdup(rows, 5, &tmpl, err)))
    goto out;
  {
    /* Tracking needs a type, a destination and a JSON template (Iris skips 'call'). */
    const char *key = NULL;
    int usable = pl->tracking_type && *pl->tracking_type && !iris_db_is_null(rows, 4) &&
                 iris_db_get_str(rows, 4, &key, NULL, NULL) == IRIS_OK && key && *key && tmpl;
    if (usable)
      pl->tracking_apps = json_loads(tmpl, 0, NULL);
    if (!usable || !json_is_object(pl->tracking_apps)) {
      json_decref(pl->tracking_apps);
      pl->tracking_apps = NULL;
      iris_free(pl->tracking_type);
      pl->tracking_type = NULL;
    }
  }
  iris_db_rows_free(rows);
  rows = NULL;
  rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                     "SELECT pn.id, pn.step, pn.priority_id, pn.optional, pn.repeat, pn.wait,"
                     " pn.dynamic_index, r.name, t.name, (pn.role_id IS NULL AND pn.target_id IS NULL)"
                     " FROM plan_notification pn LEFT JOIN target_role r ON r.id = pn.role_id"
                     " LEFT JOIN target t ON t.id = pn.target_id WHERE pn.plan_id = ?"
                     " ORDER BY pn.step, pn.id",
                     p, 1, &rows, err);
  if (rc)
    goto out;
  pl->pns = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *pl->pns);
  if (!pl->pns) {
    rc = iris_err_set(err, IRIS_ENOMEM, "escalate: notifications of plan %" PRId64, id);
    goto out;
  }
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    struct pn *n = &pl->pns[k++];
    int dynamic = 0;
    pl->npns = k;
    n->dynamic_index = -1;
    if ((rc = iris_db_get_i64(rows, 0, &n->id, err)) || (rc = get_int(rows, 1, &n->step, err)) ||
        (rc = iris_db_get_i64(rows, 2, &n->priority_id, err)) ||
        (rc = get_int(rows, 3, &n->optional, err)) || (rc = get_int(rows, 4, &n->repeat, err)) ||
        (rc = get_int(rows, 5, &n->wait, err)) || (rc = get_int(rows, 9, &dynamic, err)))
      break;
    if (dynamic && !iris_db_is_null(rows, 6))
      rc = iris_db_get_i64(rows, 6, &n->dynamic_index, err);
    if (rc == IRIS_OK && !dynamic && (rc = iris_db_get_strdup(rows, 7, &n->role, err)) == IRIS_OK)
      rc = iris_db_get_strdup(rows, 8, &n->target, err);
  }
out:
  iris_free(tmpl);
  iris_db_rows_free(rows);
  if (rc) {
    free_plan(pl);
    return rc;
  }
  *out = pl;
  return IRIS_OK;
}

static int get_plan(struct iris_escalate *e, int64_t id, struct plan **out, struct iris_err *err) {
  struct plan *p;
  int rc;
  for (p = e->plans; p; p = p->next)
    if (p->id == id) {
      *out = p;
      return IRIS_OK;
    }
  if (e->nplans >= MAX_PLANS)
    free_plans(e);
  rc = load_plan(e, id, &p, err);
  if (rc)
    return rc;
  p->next = e->plans;
  e->plans = p;
  e->nplans++;
  *out = p;
  return IRIS_OK;
}

/* Is rc a failure worth retrying (the lookup service was unreachable or broken)? Unknown
 * roles and targets, and "nobody", are answers. */
static int transient(int rc) {
  return rc != IRIS_OK && rc != IRIS_ENOTFOUND && rc != IRIS_EINVAL && rc != IRIS_EUNSUPPORTED;
}

/* The users a (role, target) names, looked up once per tick. *out is borrowed (until the
 * tick ends). Only IRIS_ENOMEM and database failures are returned; a failed lookup is an
 * answer (w->rc, w->why). */
static int who_for(struct iris_escalate *e, const char *role, const char *target, struct who **out,
                   struct iris_err *err) {
  struct iris_recipients r = {0};
  struct iris_err lerr = {0};
  struct who *w;
  size_t i;
  int rc = IRIS_OK;
  for (w = e->who; w; w = w->next)
    if (strcmp(w->role, role) == 0 && strcmp(w->target, target) == 0) {
      *out = w;
      return IRIS_OK;
    }
  w = iris_calloc(1, sizeof *w);
  if (!w || !(w->role = iris_strdup(role)) || !(w->target = iris_strdup(target))) {
    if (w) {
      iris_free(w->role);
      iris_free(w);
    }
    return iris_err_set(err, IRIS_ENOMEM, "escalate: lookup");
  }
  w->next = e->who;
  e->who = w;
  w->rc = iris_recipients_expand(e->db, &e->who_opts, role, target, &r, &lerr);
  if (w->rc == IRIS_ENOMEM)
    rc = iris_err_set(err, IRIS_ENOMEM, "%s", lerr.msg);
  else if (w->rc == IRIS_OK && r.n) {
    w->ids = iris_calloc(r.n, sizeof *w->ids);
    w->names = iris_calloc(r.n, sizeof *w->names);
    if (!w->ids || !w->names)
      rc = iris_err_set(err, IRIS_ENOMEM, "escalate: lookup");
    for (i = 0; i < r.n && rc == IRIS_OK; i++) {
      /* Iris looked the name up among all active targets whatever their type (a user and a
       * list may share a name, so it could pick the wrong one); a page only goes to an
       * active user. */
      struct iris_db_rows *rows = NULL;
      struct iris_db_param p[] = {IRIS_DB_STR(r.names[i])};
      rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                         "SELECT t.id FROM target t JOIN target_type tt ON tt.id = t.type_id"
                         " WHERE t.name = ? AND tt.name = 'user' AND t.active = 1",
                         p, 1, &rows, err);
      if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW &&
          iris_db_get_i64(rows, 0, &w->ids[w->n], err) == IRIS_OK) {
        w->names[w->n] = r.names[i];
        r.names[i] = NULL; /* moved */
        w->n++;
      } else if (rc == IRIS_OK) {
        IRIS_LOG_WARN("%s of %s names '%s', who is not an active user; skipped", role, target,
                      r.names[i]);
      }
      iris_db_rows_free(rows);
    }
  }
  if (rc == IRIS_OK && !(w->why = iris_strdup(w->rc ? lerr.msg : "")))
    rc = iris_err_set(err, IRIS_ENOMEM, "escalate: lookup");
  if (rc == IRIS_OK && w->rc)
    IRIS_LOG_WARN("%s of %s: %s (this tick's rounds fall back to the plans' creators)", role,
                  target, w->why);
  iris_recipients_cleanup(&r);
  *out = w;
  return rc;
}

/* ---- one round ----------------------------------------------------------------------------- */

struct round {
  int paged;   /* messages created */
  int counted; /* the round counts (else it is retried) */
  int lookup_failed;
  char why[400]; /* the lookup problem, for the row's last_error */
};

/* Queue messages of one notification for `count` users (ids); written by flush(). */
static int insert_messages(struct iris_escalate *e, const struct incident *inc, const struct pn *n,
                           const int64_t *ids, size_t count, int64_t priority_id, const char *body,
                           struct round *r, struct iris_err *err) {
  size_t k;
  struct mrow *room = grow(e->w.msg, &e->w.msgcap, e->w.nmsg + count, sizeof *room);
  if (!room)
    return iris_err_set(err, IRIS_ENOMEM, "escalate: message rows");
  e->w.msg = room;
  for (k = 0; k < count; k++) {
    struct mrow *m = &e->w.msg[e->w.nmsg];
    memset(m, 0, sizeof *m);
    m->plan_id = inc->plan_id;
    m->pn_id = n->id;
    m->incident_id = inc->id;
    m->application_id = inc->application_id;
    m->target_id = ids[k];
    m->priority_id = priority_id;
    if (body && !(m->body = iris_strdup(body)))
      return iris_err_set(err, IRIS_ENOMEM, "escalate: message body");
    e->w.nmsg++;
  }
  r->paged += (int)count;
  return IRIS_OK;
}

/* The role and target of a dynamic notification, from the incident's dynamic_plan_map. */
static int dynamic_target(struct iris_escalate *e, const struct incident *inc, const struct pn *n,
                          char **role, char **target, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(inc->id), IRIS_DB_I64(n->dynamic_index)};
  int rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                         "SELECT r.name, t.name FROM dynamic_plan_map d"
                         " JOIN target_role r ON r.id = d.role_id JOIN target t ON t.id = d.target_id"
                         " WHERE d.incident_id = ? AND d.dynamic_index = ?",
                         p, 2, &rows, err);
  *role = *target = NULL;
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW &&
      (rc = iris_db_get_strdup(rows, 0, role, err)) == IRIS_OK)
    rc = iris_db_get_strdup(rows, 1, target, err);
  iris_db_rows_free(rows);
  return rc;
}

/* Create one round of notification `n` for incident `inc` (inside its transaction). */
static int create_round(struct iris_escalate *e, const struct incident *inc, const struct plan *pl,
                        const struct pn *n, struct round *r, struct iris_err *err) {
  char *dyn_role = NULL, *dyn_target = NULL;
  const char *role = n->role, *target = n->target;
  struct who *w = NULL;
  int rc = IRIS_OK, lookup_rc;
  const char *why;

  r->counted = 1;
  r->why[0] = '\0';
  if (n->dynamic_index >= 0) {
    rc = dynamic_target(e, inc, n, &dyn_role, &dyn_target, err);
    role = dyn_role;
    target = dyn_target;
  }
  if (rc)
    goto out;
  if (role && target) {
    rc = who_for(e, role, target, &w, err);
    if (rc)
      goto out;
    if (w->rc == IRIS_OK && w->n) {
      rc = insert_messages(e, inc, n, w->ids, w->n, n->priority_id, NULL, r, err);
      goto out;
    }
    lookup_rc = w->rc;
    why = w->rc ? w->why : "";
  } else {
    lookup_rc = IRIS_ENOTFOUND;
    why = n->dynamic_index >= 0 ? "the incident names no target for this dynamic slot"
                                : "the notification has no role or target";
  }
  snprintf(r->why, sizeof r->why, "%s", why);
  r->lookup_failed = lookup_rc != IRIS_OK;
  if (lookup_rc != IRIS_OK && !w) /* lookups say so once per tick (who_for) */
    IRIS_LOG_WARN("incident %" PRId64 ": %s", inc->id, why);
  if (n->optional)
    goto out; /* Iris: an optional notification that names nobody is simply done */
  if (pl->creator && e->low_priority > 0) {
    /* Iris: page the plan's creator at priority low, saying why. A dynamic slot the
     * incident left empty has no role or target to name: the slot is named instead. */
    char body[900], what[600];
    if (role && target)
      snprintf(what, sizeof what, "%s of %s", role, target);
    else if (n->dynamic_index >= 0)
      snprintf(what, sizeof what, "dynamic target %" PRId64 " of this incident", n->dynamic_index);
    else
      snprintf(what, sizeof what, "the target of this notification");
    snprintf(body, sizeof body,
             "You are receiving this as you created this plan and we can't resolve %s at "
             "this time%s%s.\n\n",
             what, *why ? ": " : "", why);
    /* Names and Oncall's words may hold what Iris's columns cannot (message is latin1,
     * message_changelog utf8mb3): narrowed here, or MySQL would refuse the incident's whole
     * transaction on every tick. */
    char *latin = iris_utf8_narrow_dup(body, strlen(body), 0xFF);
    rc = latin ? insert_messages(e, inc, n, &pl->creator_id, 1, e->low_priority, latin, r, err)
               : iris_err_set(err, IRIS_ENOMEM, "escalate: creator note");
    iris_free(latin);
    if (rc == IRIS_OK) {
      struct mrow *m = &e->w.msg[e->w.nmsg - 1];
      const char *reason = *why ? why
                                : "Changing target to plan owner as we failed resolving"
                                  " original target";
      char old[600];
      if (role && target)
        snprintf(old, sizeof old, "%s|%s", role, target);
      else
        snprintf(old, sizeof old, "%s", what);
      if (!(m->chg_old = iris_utf8_narrow_dup(old, strlen(old), 0xFFFF)) ||
          !(m->chg_new = iris_utf8_narrow_dup(pl->creator, strlen(pl->creator), 0xFFFF)) ||
          !(m->chg_why = iris_utf8_narrow_dup(reason, strlen(reason), 0xFFFF)))
        rc = iris_err_set(err, IRIS_ENOMEM, "escalate: changelog row");
    }
  } else if (transient(lookup_rc)) {
    r->counted = 0; /* nobody paged at all: try the lookup again soon */
    IRIS_LOG_ERR("incident %" PRId64 ": nobody to page for %s of %s (plan %" PRId64
                 " has no active creator); retrying in %d s",
                 inc->id, role ? role : "", target ? target : "", pl->id, RETRY_LOOKUP_S);
  } else {
    IRIS_LOG_ERR("incident %" PRId64 ": %s of %s names nobody and plan %" PRId64
                 " has no active creator to page",
                 inc->id, role ? role : "", target ? target : "", pl->id);
  }
out:
  iris_free(dyn_role);
  iris_free(dyn_target);
  return rc;
}

/* Write a notification's row after a round (insert or guarded update). `prev_rounds` < 0:
 * first round (insert). */
static int save_row(struct iris_escalate *e, const struct incident *inc, const struct pn *n,
                    int prev_rounds, const struct round *r, struct iris_err *err) {
  int rounds = (prev_rounds < 0 ? 0 : prev_rounds) + r->counted;
  int max = n->repeat + 1;
  const char *state = rounds >= max ? "exhausted" : "repeating";
  int64_t delay = r->counted ? n->wait : RETRY_LOOKUP_S;
  struct iris_db_exec_info info = {0};
  int rc;
  if (prev_rounds < 0) { /* queued: flush() inserts it */
    struct erow *x = grow(e->w.esc, &e->w.esccap, e->w.nesc + 1, sizeof *x);
    if (!x)
      return iris_err_set(err, IRIS_ENOMEM, "escalate: escalation rows");
    e->w.esc = x;
    x = &e->w.esc[e->w.nesc];
    memset(x, 0, sizeof *x);
    x->incident_id = inc->id;
    x->pn_id = n->id;
    x->step = n->step;
    x->rounds = rounds;
    x->max_rounds = max;
    x->wait_s = n->wait;
    x->state = state;
    x->delay = delay;
    x->messages = r->paged;
    if (r->why[0] && !(x->why = iris_strdup(r->why)))
      return iris_err_set(err, IRIS_ENOMEM, "escalate: escalation rows");
    e->w.nesc++;
    return IRIS_OK;
  }
  {
    struct iris_db_param p[] = {IRIS_DB_I64(rounds),     IRIS_DB_STR(state),
                                IRIS_DB_I64(r->counted), IRIS_DB_I64(delay),
                                IRIS_DB_I64(r->paged),   IRIS_DB_STR(r->why[0] ? r->why : NULL),
                                IRIS_DB_I64(inc->id),    IRIS_DB_I64(n->id),
                                IRIS_DB_I64(prev_rounds)};
    rc = iris_db_exec(e->db, 0,
                      "UPDATE sender_escalation SET rounds = ?, state = ?,"
                      " last_round_at = IF(?, UTC_TIMESTAMP(3), last_round_at),"
                      " due_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND, messages = messages + ?,"
                      " last_error = LEFT(?, 1024), updated_at = UTC_TIMESTAMP(3)"
                      " WHERE incident_id = ? AND plan_notification_id = ? AND rounds = ?"
                      " AND state = 'repeating'",
                      p, 9, &info, err);
  }
  if (rc == IRIS_OK && info.affected_rows != 1)
    rc = iris_err_set(err, IRIS_ESTATE,
                      "incident %" PRId64 ": notification %" PRId64 " changed under us", inc->id,
                      n->id);
  return rc;
}

/* Iris's tracking copy of a new incident (escalate() in src/iris/bin/sender.py): a row in
 * sender_tracking, made in the incident's step-1 transaction so it exists exactly once; the
 * enqueue pass sends it and the sender renders and delivers it (tracking.h). Queued here,
 * written by flush(). */
static int add_tracking(struct iris_escalate *e, const struct incident *inc, const struct plan *pl,
                        struct iris_err *err) {
  struct trow *t;
  if (!pl->tracking_type || !inc->application ||
      !json_is_object(json_object_get(pl->tracking_apps, inc->application)))
    return IRIS_OK; /* no tracking, or no template for this application */
  if (strcmp(pl->tracking_type, "call") == 0) {
    IRIS_LOG_WARN("incident %" PRId64 ": tracking by call is not supported (as in Iris); skipped",
                  inc->id);
    return IRIS_OK;
  }
  if (!(t = grow(e->w.trk, &e->w.trkcap, e->w.ntrk + 1, sizeof *t)))
    return iris_err_set(err, IRIS_ENOMEM, "escalate: tracking rows");
  e->w.trk = t;
  t = &e->w.trk[e->w.ntrk++];
  t->incident_id = inc->id;
  t->pl = pl;
  t->application = inc->application;
  return IRIS_OK;
}

/* Queue `inc` moving from its current step to `step` (flush() checks it still was there). */
static int queue_step(struct iris_escalate *e, const struct incident *inc, int step,
                      struct iris_err *err) {
  struct srow *room = grow(e->w.step, &e->w.stepcap, e->w.nstep + 1, sizeof *room);
  if (!room)
    return iris_err_set(err, IRIS_ENOMEM, "escalate: step changes");
  e->w.step = room;
  e->w.step[e->w.nstep].incident_id = inc->id;
  e->w.step[e->w.nstep].from = inc->current_step;
  e->w.step[e->w.nstep].to = step;
  e->w.nstep++;
  return IRIS_OK;
}

/* ---- step changes ---------------------------------------------------------------------------- */

/* Move `inc` to `step` (it must still be on `inc->current_step`) and create the first round of
 * the step's notifications. Runs inside the caller's transaction. */
static int enter_step(struct iris_escalate *e, const struct incident *inc, const struct plan *pl,
                      int step, struct round *r, int *deactivated, struct iris_escalate_stats *st,
                      struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  size_t i, n = 0;
  int rc = IRIS_OK;
  *deactivated = 0;
  for (i = 0; i < pl->npns; i++)
    n += pl->pns[i].step == step;
  if (n == 0) {
    struct iris_db_param p[] = {IRIS_DB_I64(inc->id), IRIS_DB_I64(inc->current_step)};
    IRIS_LOG_ERR("incident %" PRId64 ": plan %" PRId64 " has no notifications for step %d;"
                 " deactivating it",
                 inc->id, pl->id, step);
    rc = iris_db_exec(e->db, 0,
                      "UPDATE incident SET active = 0, updated = UTC_TIMESTAMP()"
                      " WHERE id = ? AND current_step = ? AND active = 1",
                      p, 2, &info, err);
    if (rc == IRIS_OK && info.affected_rows != 1)
      rc = iris_err_set(err, IRIS_ESTATE, "incident %" PRId64 " changed under us", inc->id);
    *deactivated = rc == IRIS_OK;
    return rc;
  }
  rc = queue_step(e, inc, step, err);
  for (i = 0; i < pl->npns && rc == IRIS_OK; i++) {
    const struct pn *x = &pl->pns[i];
    struct round one = {0};
    if (x->step != step)
      continue;
    rc = create_round(e, inc, pl, x, &one, err);
    if (rc == IRIS_OK)
      rc = save_row(e, inc, x, -1, &one, err);
    r->paged += one.paged;
    st->lookup_failures += one.lookup_failed;
  }
  if (rc == IRIS_OK && step == 1 && inc->current_step == 0)
    rc = add_tracking(e, inc, pl, err);
  return rc;
}

/* sql = head + `n` copies of `row` separated by commas + tail. */
static int rows_sql(struct iris_buf *sql, const char *head, const char *row, size_t n,
                    const char *tail, struct iris_err *err) {
  size_t k;
  int rc;
  iris_buf_reset(sql);
  rc = iris_buf_appends(sql, head);
  for (k = 0; k < n && rc == IRIS_OK; k++)
    if ((rc = iris_buf_appends(sql, k ? "," : "")) == IRIS_OK)
      rc = iris_buf_appends(sql, row);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(sql, tail);
  return rc ? iris_err_set(err, rc, "escalate: building a statement") : IRIS_OK;
}

/* Write the queued writes of this transaction, table by table in the lock order: the step
 * changes (one guarded UPDATE per run of equal steps; every incident must still be where it
 * was read), the new escalation rows, the messages (ids from the INSERT's first id), their
 * changelog rows, their enqueue markers, the tracking copies. At most ROWS rows a statement. */
static int flush(struct iris_escalate *e, struct iris_err *err) {
  struct writes *w = &e->w;
  struct iris_db_param *p = NULL;
  struct iris_buf sql;
  size_t i, j, k, m;
  int rc = IRIS_OK;
  w->tracking_made = 0;
  if (!w->nstep && !w->nesc && !w->nmsg && !w->ntrk)
    return IRIS_OK;
  p = iris_calloc(ROWS * 10 + 2, sizeof *p);
  if (!p)
    return iris_err_set(err, IRIS_ENOMEM, "escalate: writing a transaction");
  iris_buf_init(&sql, 0);
  for (i = 0; i < w->nstep && rc == IRIS_OK; i = j) {
    struct iris_db_exec_info info = {0};
    for (j = i; j < w->nstep && j - i < ROWS && w->step[j].from == w->step[i].from &&
                w->step[j].to == w->step[i].to;
         j++)
      p[2 + j - i] = IRIS_DB_I64(w->step[j].incident_id);
    m = j - i;
    p[0] = IRIS_DB_I64(w->step[i].to);
    p[1] = IRIS_DB_I64(w->step[i].from);
    rc = rows_sql(&sql,
                  "UPDATE incident SET current_step = ?, updated = UTC_TIMESTAMP()"
                  " WHERE current_step = ? AND active = 1 AND id IN (",
                  "?", m, ") ORDER BY id", err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(e->db, 0, iris_buf_ptr(&sql), p, m + 2, &info, err);
    if (rc == IRIS_OK && info.affected_rows != m)
      rc = iris_err_set(err, IRIS_ESTATE, "%s %" PRId64 " changed under us (claimed or moved on)",
                        m == 1 ? "incident" : "an incident of the group from",
                        w->step[i].incident_id);
  }
  for (i = 0; i < w->nesc && rc == IRIS_OK; i += m) {
    m = w->nesc - i < ROWS ? w->nesc - i : ROWS;
    for (k = 0; k < m; k++) {
      const struct erow *x = &w->esc[i + k];
      struct iris_db_param *q = &p[k * 10];
      q[0] = IRIS_DB_I64(x->incident_id);
      q[1] = IRIS_DB_I64(x->pn_id);
      q[2] = IRIS_DB_I64(x->step);
      q[3] = IRIS_DB_I64(x->rounds);
      q[4] = IRIS_DB_I64(x->max_rounds);
      q[5] = IRIS_DB_I64(x->wait_s);
      q[6] = IRIS_DB_STR(x->state);
      q[7] = IRIS_DB_I64(x->delay);
      q[8] = IRIS_DB_I64(x->messages);
      q[9] = x->why ? IRIS_DB_STR(x->why) : IRIS_DB_NULL;
    }
    rc = rows_sql(&sql,
                  "INSERT INTO sender_escalation (incident_id, plan_notification_id, step,"
                  " rounds, max_rounds, wait_s, state, last_round_at, due_at, messages,"
                  " last_error) VALUES ",
                  "(?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                  " ?, LEFT(?, 1024))",
                  m, "", err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(e->db, 0, iris_buf_ptr(&sql), p, m * 10, NULL, err);
  }
  for (i = 0; i < w->nmsg && rc == IRIS_OK; i += m) {
    struct iris_db_exec_info info = {0};
    m = w->nmsg - i < ROWS ? w->nmsg - i : ROWS;
    for (k = 0; k < m; k++) {
      const struct mrow *x = &w->msg[i + k];
      struct iris_db_param *q = &p[k * 7];
      q[0] = IRIS_DB_I64(x->plan_id);
      q[1] = IRIS_DB_I64(x->pn_id);
      q[2] = IRIS_DB_I64(x->incident_id);
      q[3] = IRIS_DB_I64(x->application_id);
      q[4] = IRIS_DB_I64(x->target_id);
      q[5] = IRIS_DB_I64(x->priority_id);
      q[6] = IRIS_DB_STR(x->body ? x->body : "");
    }
    rc = rows_sql(&sql,
                  "INSERT INTO message (created, plan_id, plan_notification_id, incident_id,"
                  " application_id, target_id, priority_id, body, active) VALUES ",
                  "(UTC_TIMESTAMP(), ?, ?, ?, ?, ?, ?, ?, 1)", m, "", err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(e->db, 0, iris_buf_ptr(&sql), p, m * 7, &info, err);
    /* One multi-row INSERT takes consecutive ids, auto_increment_increment apart. */
    if (rc == IRIS_OK && (info.affected_rows != m || !info.insert_id))
      rc = iris_err_set(err, IRIS_EDB, "escalate: %zu message rows written, %llu reported", m,
                        (unsigned long long)info.affected_rows);
    for (k = 0; k < m && rc == IRIS_OK; k++)
      w->msg[i + k].id = (int64_t)info.insert_id + (int64_t)k * e->id_step;
  }
  for (i = 0; i < w->nmsg && rc == IRIS_OK; i++) {
    const struct mrow *x = &w->msg[i];
    struct iris_db_param c[4];
    if (!x->chg_old)
      continue;
    c[0] = IRIS_DB_I64(x->id);
    c[1] = IRIS_DB_STR(x->chg_old);
    c[2] = IRIS_DB_STR(x->chg_new);
    c[3] = IRIS_DB_STR(x->chg_why);
    rc = iris_db_exec(e->db, 0,
                      "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                      " description) VALUES (UTC_TIMESTAMP(), ?, 'target-change', LEFT(?, 255),"
                      " LEFT(?, 255), LEFT(?, 255))",
                      c, 4, NULL, err);
  }
  for (i = 0; i < w->nmsg && rc == IRIS_OK; i += m) {
    m = w->nmsg - i < ROWS ? w->nmsg - i : ROWS;
    for (k = 0; k < m; k++) {
      const struct mrow *x = &w->msg[i + k];
      struct iris_db_param *q = &p[k * 5];
      q[0] = IRIS_DB_I64(x->id);
      q[1] = IRIS_DB_I64(x->plan_id);
      q[2] = IRIS_DB_I64(x->application_id);
      q[3] = IRIS_DB_I64(x->priority_id);
      q[4] = IRIS_DB_I64(x->target_id);
    }
    rc = rows_sql(&sql,
                  "INSERT IGNORE INTO sender_enqueue (message_id, state, plan_id,"
                  " application_id, priority_id, target_id, next_attempt_at) VALUES ",
                  "(?, 'pending', ?, ?, ?, ?, UTC_TIMESTAMP(3))", m, "", err);
    if (rc == IRIS_OK)
      rc = iris_db_exec(e->db, 0, iris_buf_ptr(&sql), p, m * 5, NULL, err);
  }
  for (i = 0; i < w->ntrk && rc == IRIS_OK; i++) {
    struct iris_db_exec_info info = {0};
    struct iris_db_param t[] = {IRIS_DB_I64(w->trk[i].incident_id), IRIS_DB_I64(w->trk[i].pl->id),
                                IRIS_DB_STR(w->trk[i].pl->tracking_type),
                                IRIS_DB_I64(w->trk[i].pl->id)};
    rc = iris_db_exec(e->db, 0,
                      "INSERT IGNORE INTO sender_tracking (incident_id, plan_id, mode, destination,"
                      " next_attempt_at) SELECT ?, ?, ?, tracking_key, UTC_TIMESTAMP(3) FROM plan"
                      " WHERE id = ?",
                      t, 4, &info, err);
    if (rc == IRIS_OK)
      w->tracking_made += (int)info.affected_rows;
  }
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}

/* Begin a fenced transaction (with nothing queued). */
static int begin(struct iris_escalate *e, struct iris_err *err) {
  int rc;
  clear_writes(&e->w);
  rc = iris_db_begin(e->db, err);
  if (rc == IRIS_OK && (rc = iris_lease_check(e->db, e->fence, err)) != IRIS_OK)
    (void)iris_db_rollback(e->db, NULL);
  return rc;
}

/* Write what the transaction queued and commit it, or roll it back. */
static int finish(struct iris_escalate *e, int rc, struct iris_err *err) {
  if (rc == IRIS_OK)
    rc = flush(e, err);
  if (rc == IRIS_OK)
    rc = iris_db_commit(e->db, err);
  else
    (void)iris_db_rollback(e->db, NULL);
  clear_writes(&e->w);
  return rc;
}

/* What stops a whole pass (rather than one incident): memory, the lease, the connection. */
static int fatal(int rc) { return rc == IRIS_ENOMEM || rc == IRIS_ECONN || rc == IRIS_EFENCED; }

/* MySQL 1213 (deadlock) and 1205 (lock wait timeout) roll the whole transaction back.
 * Replaying it is safe: every transaction here is rebuilt from rows read before it began, and
 * its updates are guarded by what they expect to find (step, rounds, state), so a replay
 * either does the same work or finds it done. Up to BUSY_RETRIES replays, a short pause each. */
static int busy_again(int rc, int *tries) {
  if (rc != IRIS_EBUSY || *tries >= BUSY_RETRIES)
    return 0;
  ++*tries;
  IRIS_LOG_WARN("transaction rolled back by a lock conflict; replaying it (%d of %d)", *tries,
                BUSY_RETRIES);
  iris_clock_sleep_ms(5 * *tries);
  return 1;
}

/* Step 1 for one new incident, inside the caller's transaction; counts go to *st. */
static int start_incident(struct iris_escalate *e, struct incident *inc,
                          struct iris_escalate_stats *st, struct iris_err *err) {
  struct plan *pl = NULL;
  struct round r = {0};
  int deactivated = 0;
  int rc = get_plan(e, inc->plan_id, &pl, err);
  if (rc == IRIS_OK)
    rc = enter_step(e, inc, pl, 1, &r, &deactivated, st, err);
  if (rc == IRIS_OK) {
    st->new_incidents += !deactivated;
    st->deactivated += deactivated;
    st->messages += r.paged;
  }
  return rc;
}

static void add_counts(struct iris_escalate_stats *to, const struct iris_escalate_stats *from) {
  to->new_incidents += from->new_incidents;
  to->deactivated += from->deactivated;
  to->messages += from->messages;
  to->tracking += from->tracking;
  to->lookup_failures += from->lookup_failures;
}

/* New incidents `list[0..n)` in one transaction: each incident's messages, markers, row and
 * step still commit together, and a burst costs one commit per group rather than per
 * incident. Any failure rolls the group back and the caller replays it one incident per
 * transaction, so a bad incident never holds back the others. */
static int start_group_once(struct iris_escalate *e, struct incident *list, size_t n,
                            struct iris_escalate_stats *st, struct iris_err *err) {
  struct iris_escalate_stats g;
  size_t i;
  int rc = begin(e, err);
  memset(&g, 0, sizeof g);
  for (i = 0; i < n && rc == IRIS_OK; i++)
    rc = start_incident(e, &list[i], &g, err);
  rc = finish(e, rc, err);
  g.tracking += e->w.tracking_made;
  if (rc == IRIS_OK)
    add_counts(st, &g);
  return rc;
}

static int start_group(struct iris_escalate *e, struct incident *list, size_t n,
                       struct iris_escalate_stats *st, struct iris_err *err) {
  int rc, tries = 0;
  do
    rc = start_group_once(e, list, n, st, err);
  while (busy_again(rc, &tries));
  return rc;
}

static int start_alone_once(struct iris_escalate *e, struct incident *inc,
                            struct iris_escalate_stats *st, struct iris_err *err) {
  struct iris_escalate_stats g;
  int rc = begin(e, err);
  memset(&g, 0, sizeof g);
  if (rc)
    return rc;
  rc = finish(e, start_incident(e, inc, &g, err), err);
  g.tracking += e->w.tracking_made;
  if (rc == IRIS_OK)
    add_counts(st, &g);
  return rc;
}

static int start_alone(struct iris_escalate *e, struct incident *inc,
                       struct iris_escalate_stats *st, struct iris_err *err) {
  int rc, tries = 0;
  do
    rc = start_alone_once(e, inc, st, err);
  while (busy_again(rc, &tries));
  return rc;
}

static int past_deadline(int64_t deadline_ms) {
  return deadline_ms > 0 && iris_clock_mono_ms() >= deadline_ms;
}

static int new_incidents(struct iris_escalate *e, int64_t deadline_ms,
                         struct iris_escalate_stats *st, struct iris_err *err) {
  int64_t after = 0;
  int rc = IRIS_OK;
  size_t got = PAGE;
  while (rc == IRIS_OK && got == PAGE && !past_deadline(deadline_ms)) {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_I64(after), IRIS_DB_I64(PAGE)};
    struct incident *list = NULL;
    char **apps = NULL; /* owned application names, parallel to list */
    size_t i;
    rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                       "SELECT i.id, i.plan_id, i.application_id, a.name FROM incident i"
                       " JOIN application a ON a.id = i.application_id"
                       " WHERE i.current_step = 0 AND i.active = 1 AND i.id > ? ORDER BY i.id LIMIT ?",
                       p, 2, &rows, err);
    if (rc)
      break;
    got = iris_db_rows_count(rows);
    list = iris_calloc(got + 1, sizeof *list);
    apps = iris_calloc(got + 1, sizeof *apps);
    if (!list || !apps)
      rc = iris_err_set(err, IRIS_ENOMEM, "escalate: new incidents");
    for (i = 0; rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW; i++) {
      if ((rc = iris_db_get_i64(rows, 0, &list[i].id, err)) ||
          (rc = iris_db_get_i64(rows, 1, &list[i].plan_id, err)) ||
          (rc = iris_db_get_i64(rows, 2, &list[i].application_id, err)))
        break;
      rc = iris_db_get_strdup(rows, 3, &apps[i], err);
      list[i].application = apps[i];
    }
    iris_db_rows_free(rows);
    for (i = 0; i < got && rc == IRIS_OK && !past_deadline(deadline_ms); i += GROUP) {
      size_t k, m = got - i < GROUP ? got - i : GROUP;
      struct iris_err gerr = {0};
      int grc = start_group(e, &list[i], m, st, &gerr);
      after = list[i + m - 1].id;
      if (fatal(grc)) {
        rc = iris_err_set(err, grc, "%s", gerr.msg);
        break;
      }
      for (k = 0; grc && k < m && rc == IRIS_OK; k++) {
        struct iris_err ierr = {0};
        int irc = start_alone(e, &list[i + k], st, &ierr);
        if (fatal(irc))
          rc = iris_err_set(err, irc, "%s", ierr.msg);
        else if (irc) {
          st->failed_incidents++;
          IRIS_LOG_ERR("incident %" PRId64 ": %s (retried next tick)", list[i + k].id, ierr.msg);
        }
      }
    }
    for (i = 0; apps && i < got; i++)
      iris_free(apps[i]);
    iris_free(apps);
    iris_free(list);
  }
  return rc;
}

/* ---- due rows ------------------------------------------------------------------------------- */

struct due {
  struct incident inc;
  int64_t pn_id;
  int step, rounds, active, step_count;
  int skip; /* read before its incident changed in this pass */
  char state[16];
};

static const struct pn *find_pn(const struct plan *pl, int64_t id) {
  size_t i;
  for (i = 0; i < pl->npns; i++)
    if (pl->pns[i].id == id)
      return &pl->pns[i];
  return NULL;
}

static int finish_rows(struct iris_escalate *e, int64_t incident, int64_t pn,
                       struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(incident), IRIS_DB_I64(pn), IRIS_DB_I64(pn)};
  return iris_db_exec(e->db, 0,
                      "UPDATE sender_escalation SET state = 'finished', due_at = NULL,"
                      " updated_at = UTC_TIMESTAMP(3) WHERE incident_id = ?"
                      " AND (? = 0 OR plan_notification_id = ?)",
                      p, 3, NULL, err);
}

/* Due again in `seconds` (< 0: not scheduled; another row of the step will act). */
static int reschedule(struct iris_escalate *e, int64_t incident, int64_t pn, int64_t seconds,
                      struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(seconds), IRIS_DB_I64(seconds), IRIS_DB_I64(incident),
                              IRIS_DB_I64(pn)};
  return iris_db_exec(e->db, 0,
                      "UPDATE sender_escalation SET due_at = IF(? < 0, NULL,"
                      " UTC_TIMESTAMP(3) + INTERVAL GREATEST(?, 1) SECOND),"
                      " updated_at = UTC_TIMESTAMP(3) WHERE incident_id = ? AND plan_notification_id = ?",
                      p, 4, NULL, err);
}

/* The last step's row `d` ran out: deactivate the incident if the whole step is over. */
static int try_deactivate(struct iris_escalate *e, const struct due *d, int *done,
                          struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int64_t open_rows = 0, unsettled = 0, wait_left = 0;
  int rc;
  struct iris_db_param p[] = {IRIS_DB_I64(d->inc.id), IRIS_DB_I64(d->step)};
  *done = 0;
  /* Other notifications of the step still repeating, or waiting out their last wait. */
  rc = iris_db_query_i64(e->db, 0,
                         "SELECT COUNT(*) FROM sender_escalation WHERE incident_id = ? AND step = ?"
                         " AND (state = 'repeating' OR due_at > UTC_TIMESTAMP(3))",
                         p, 2, &open_rows, err);
  if (rc)
    return rc;
  if (open_rows > 0) /* the last of them to run out checks again */
    return reschedule(e, d->inc.id, d->pn_id, -1, err);
  /* Every message of the step settled, and each notification's wait passed since its last
   * message was sent (Iris measured the final wait from the sent time). */
  rc = iris_db_query_one(e->db, 0,
                         "SELECT CAST(IFNULL(SUM(x.unsettled), 0) AS SIGNED),"
                         " CAST(IFNULL(MAX(x.wait_left), 0) AS SIGNED) FROM"
                         " (SELECT SUM(m.active = 1 AND m.sent IS NULL"
                         "   AND IFNULL(q.state, 'pending') <> 'done') unsettled,"
                         "  TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), MAX(m.sent)) + MAX(s.wait_s)"
                         "  wait_left FROM sender_escalation s JOIN message m"
                         "  ON m.incident_id = s.incident_id AND m.plan_notification_id ="
                         "  s.plan_notification_id LEFT JOIN sender_enqueue q ON q.message_id = m.id"
                         "  WHERE s.incident_id = ? AND s.step = ?"
                         "  GROUP BY s.plan_notification_id) x",
                         p, 2, &rows, err);
  if (rc == IRIS_OK && (rc = iris_db_get_i64(rows, 0, &unsettled, err)) == IRIS_OK &&
      !iris_db_is_null(rows, 1))
    rc = iris_db_get_i64(rows, 1, &wait_left, err);
  iris_db_rows_free(rows);
  if (rc)
    return rc;
  if (unsettled > 0)
    return reschedule(e, d->inc.id, d->pn_id, RECHECK_S, err);
  if (wait_left > 0)
    return reschedule(e, d->inc.id, d->pn_id, wait_left, err);
  {
    struct iris_db_exec_info info = {0};
    struct iris_db_param q[] = {IRIS_DB_I64(d->inc.id), IRIS_DB_I64(d->step)};
    rc = iris_db_exec(e->db, 0,
                      "UPDATE incident SET active = 0, updated = UTC_TIMESTAMP()"
                      " WHERE id = ? AND current_step = ? AND active = 1",
                      q, 2, &info, err);
    *done = rc == IRIS_OK && info.affected_rows == 1;
  }
  if (rc == IRIS_OK)
    rc = finish_rows(e, d->inc.id, 0, err);
  return rc;
}

static int handle_due_once(struct iris_escalate *e, const struct due *d,
                           struct iris_escalate_stats *st, struct iris_err *err) {
  struct plan *pl = NULL;
  const struct pn *n;
  struct round r = {0};
  int rc;
  if (!d->active) { /* claimed, resolved or deactivated meanwhile */
    rc = begin(e, err);
    if (rc == IRIS_OK)
      rc = finish_rows(e, d->inc.id, 0, err);
    return finish(e, rc, err);
  }
  rc = get_plan(e, d->inc.plan_id, &pl, err);
  if (rc)
    return rc;
  n = find_pn(pl, d->pn_id);
  rc = begin(e, err);
  if (rc)
    return rc;
  if (!n) {
    rc = finish_rows(e, d->inc.id, d->pn_id, err);
  } else if (strcmp(d->state, "repeating") == 0) {
    rc = create_round(e, &d->inc, pl, n, &r, err);
    if (rc == IRIS_OK)
      rc = save_row(e, &d->inc, n, d->rounds, &r, err);
    if (rc == IRIS_OK) {
      st->repeats += r.counted;
      st->messages += r.paged;
      st->lookup_failures += r.lookup_failed;
    }
  } else if (d->step != d->inc.current_step) {
    rc = finish_rows(e, d->inc.id, d->pn_id, err); /* its step is behind the incident */
  } else if (d->step < d->step_count) {
    int deactivated = 0;
    rc = finish_rows(e, d->inc.id, d->pn_id, err);
    if (rc == IRIS_OK)
      rc = enter_step(e, &d->inc, pl, d->step + 1, &r, &deactivated, st, err);
    if (rc == IRIS_OK) {
      st->escalations += !deactivated;
      st->deactivated += deactivated;
      st->messages += r.paged;
    }
  } else {
    int done = 0;
    rc = try_deactivate(e, d, &done, err);
    if (rc == IRIS_OK)
      st->deactivated += done;
  }
  return finish(e, rc, err);
}

/* One due row in its own transaction, replayed on a lock conflict; counts only what committed. */
static int handle_due(struct iris_escalate *e, const struct due *d, struct iris_escalate_stats *st,
                      struct iris_err *err) {
  struct iris_escalate_stats before = *st;
  int rc, tries = 0;
  for (;;) {
    rc = handle_due_once(e, d, st, err);
    if (rc == IRIS_OK)
      return rc;
    *st = before;
    if (!busy_again(rc, &tries))
      return rc;
  }
}

static int due_rows(struct iris_escalate *e, int64_t deadline_ms, struct iris_escalate_stats *st,
                    struct iris_err *err) {
  int rc = IRIS_OK, more = 1, passes = 0;
  size_t got, i;
  /* Each pass handles what is due now; rows it reschedules are due later, so the loop ends. */
  while (rc == IRIS_OK && more && !past_deadline(deadline_ms) && passes++ < 100) {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_I64(PAGE)};
    struct due *list = NULL;
    size_t handled = 0;
    rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                       "SELECT s.incident_id, s.plan_notification_id, s.step, s.rounds, s.state,"
                       " i.active, i.current_step, i.plan_id, i.application_id, p.step_count"
                       " FROM sender_escalation s JOIN incident i ON i.id = s.incident_id"
                       " JOIN plan p ON p.id = i.plan_id WHERE s.due_at <= UTC_TIMESTAMP(3)"
                       " ORDER BY s.due_at LIMIT ?",
                       p, 1, &rows, err);
    if (rc)
      break;
    got = iris_db_rows_count(rows);
    more = got == PAGE;
    list = iris_calloc(got + 1, sizeof *list);
    if (!list)
      rc = iris_err_set(err, IRIS_ENOMEM, "escalate: due rows");
    for (i = 0; rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW; i++) {
      struct due *d = &list[i];
      const char *state = NULL;
      if ((rc = iris_db_get_i64(rows, 0, &d->inc.id, err)) ||
          (rc = iris_db_get_i64(rows, 1, &d->pn_id, err)) ||
          (rc = get_int(rows, 2, &d->step, err)) || (rc = get_int(rows, 3, &d->rounds, err)) ||
          (rc = iris_db_get_str(rows, 4, &state, NULL, err)) ||
          (rc = get_int(rows, 5, &d->active, err)) ||
          (rc = get_int(rows, 6, &d->inc.current_step, err)) ||
          (rc = iris_db_get_i64(rows, 7, &d->inc.plan_id, err)) ||
          (rc = iris_db_get_i64(rows, 8, &d->inc.application_id, err)) ||
          (rc = get_int(rows, 9, &d->step_count, err)))
        break;
      snprintf(d->state, sizeof d->state, "%s", state);
    }
    iris_db_rows_free(rows);
    for (i = 0; i < got && rc == IRIS_OK && !past_deadline(deadline_ms); i++) {
      struct iris_err ierr = {0};
      int irc;
      size_t k;
      if (list[i].skip) {
        more = 1; /* read again next pass */
        continue;
      }
      irc = handle_due(e, &list[i], st, &ierr);
      handled++;
      /* A step change, deactivation or end makes later rows of the incident stale (they were
       * read before it): they are read again next pass. A repeat changes nothing else. */
      for (k = i + 1; strcmp(list[i].state, "repeating") != 0 && k < got; k++)
        list[k].skip |= list[k].inc.id == list[i].inc.id;
      if (fatal(irc))
        rc = iris_err_set(err, irc, "%s", ierr.msg);
      else if (irc) {
        struct iris_err rerr = {0};
        st->failed_incidents++;
        IRIS_LOG_ERR("incident %" PRId64 ", notification %" PRId64 ": %s (retried in %d s)",
                     list[i].inc.id, list[i].pn_id, ierr.msg, RETRY_LOOKUP_S);
        if (reschedule(e, list[i].inc.id, list[i].pn_id, RETRY_LOOKUP_S, &rerr))
          IRIS_LOG_ERR("incident %" PRId64 ": %s", list[i].inc.id, rerr.msg);
      }
    }
    iris_free(list);
    if (!handled)
      break;
  }
  return rc;
}

/* ---- adoption -------------------------------------------------------------------------------- */

/* Incidents that reached a step before sender_escalation existed get their rows from their
 * messages: rounds = the most messages any target got, the last round = the latest message;
 * a notification of the current step that never paged anyone counts as run out. */
static int adopt_page(struct iris_escalate *e, int64_t *after, size_t *got,
                      struct iris_escalate_stats *st, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param lim[] = {IRIS_DB_I64(*after), IRIS_DB_I64(PAGE)};
  int rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT,
                         "SELECT i.id FROM incident i WHERE i.active = 1 AND i.current_step > 0"
                         " AND i.id > ? AND NOT EXISTS (SELECT 1 FROM sender_escalation s"
                         " WHERE s.incident_id = i.id) ORDER BY i.id LIMIT ?",
                         lim, 2, &rows, err);
  *got = rc == IRIS_OK ? iris_db_rows_count(rows) : 0;
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    int64_t id = 0;
    struct iris_err ierr = {0};
    int irc;
    if ((rc = iris_db_get_i64(rows, 0, &id, err)))
      break;
    *after = id;
    irc = begin(e, &ierr);
    if (irc == IRIS_OK) {
      struct iris_db_param p[] = {IRIS_DB_I64(id), IRIS_DB_I64(id)};
      irc = iris_db_exec(
          e->db, 0,
          "INSERT IGNORE INTO sender_escalation (incident_id, plan_notification_id, step, rounds,"
          " max_rounds, wait_s, state, last_round_at, due_at, messages)"
          " SELECT i.id, pn.id, pn.step, LEAST(IFNULL(r.rounds, pn.repeat + 1), pn.repeat + 1),"
          " pn.repeat + 1, pn.wait,"
          " IF(IFNULL(r.rounds, pn.repeat + 1) < pn.repeat + 1, 'repeating',"
          "  IF(pn.step = i.current_step, 'exhausted', 'finished')),"
          " IFNULL(r.latest, IFNULL(i.updated, i.created)),"
          " IF(IFNULL(r.rounds, pn.repeat + 1) >= pn.repeat + 1 AND pn.step <> i.current_step, NULL,"
          "  IFNULL(r.latest, IFNULL(i.updated, i.created)) + INTERVAL pn.wait SECOND),"
          " IFNULL(r.msgs, 0)"
          " FROM incident i JOIN plan_notification pn ON pn.plan_id = i.plan_id"
          "  AND pn.step <= i.current_step"
          " LEFT JOIN (SELECT x.pn_id, MAX(x.cnt) rounds, MAX(x.latest) latest, SUM(x.cnt) msgs"
          "  FROM (SELECT plan_notification_id pn_id, target_id, COUNT(*) cnt, MAX(created) latest"
          "   FROM message WHERE incident_id = ? AND plan_notification_id IS NOT NULL"
          "   GROUP BY plan_notification_id, target_id) x GROUP BY x.pn_id) r ON r.pn_id = pn.id"
          " WHERE i.id = ? AND i.active = 1",
          p, 2, NULL, &ierr);
    }
    irc = finish(e, irc, &ierr);
    if (irc == IRIS_OK)
      st->adopted++;
    else if (fatal(irc))
      rc = iris_err_set(err, irc, "%s", ierr.msg);
    else
      IRIS_LOG_ERR("incident %" PRId64 ": adopting its escalation state: %s", id, ierr.msg);
  }
  iris_db_rows_free(rows);
  return rc;
}

/* Sets *done once every such incident was adopted (the rest waits for the next tick). The
 * pass starts above sender_mark 'adopted_through' (migration 0012) and, once complete, moves
 * the mark to the highest incident id seen when it began: only the coordinator escalates
 * incidents, so those below stay adopted and the next invocation reads only newer ones. */
static int adopt(struct iris_escalate *e, int64_t deadline_ms, int *done,
                 struct iris_escalate_stats *st, struct iris_err *err) {
  size_t got = PAGE;
  int64_t mark = 0;
  int rc = iris_db_query_i64(e->db, IRIS_DB_IDEMPOTENT,
                             "SELECT IFNULL(MAX(value), 0) FROM sender_mark"
                             " WHERE name = 'adopted_through'",
                             NULL, 0, &mark, err);
  if (rc == IRIS_OK && e->adopt_top < 0)
    rc = iris_db_query_i64(e->db, IRIS_DB_IDEMPOTENT, "SELECT IFNULL(MAX(id), 0) FROM incident",
                           NULL, 0, &e->adopt_top, err);
  if (rc == IRIS_OK && mark > e->adopt_after)
    e->adopt_after = mark;
  while (rc == IRIS_OK && got == PAGE && !past_deadline(deadline_ms))
    rc = adopt_page(e, &e->adopt_after, &got, st, err);
  *done = rc == IRIS_OK && got < PAGE;
  if (*done && e->adopt_top > mark) {
    struct iris_db_param p[] = {IRIS_DB_I64(e->adopt_top)};
    rc = iris_db_exec(e->db, 0,
                      "INSERT INTO sender_mark (name, value) VALUES ('adopted_through', ?)"
                      " ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value)),"
                      " updated_at = UTC_TIMESTAMP(3)",
                      p, 1, NULL, err);
    *done = rc == IRIS_OK;
  }
  return rc;
}

int iris_escalate_tick(struct iris_escalate *e, int64_t deadline_ms,
                       struct iris_escalate_stats *st, struct iris_err *err) {
  int rc = IRIS_OK;
  memset(st, 0, sizeof *st);
  free_who(e); /* lookups are fresh every tick (Iris: every loop) */
  if (e->low_priority < 0) {
    struct iris_db_rows *rows = NULL;
    rc = iris_db_query(e->db, IRIS_DB_IDEMPOTENT, "SELECT id FROM priority WHERE name = 'low'",
                       NULL, 0, &rows, err);
    e->low_priority = 0;
    if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW &&
        iris_db_get_i64(rows, 0, &e->low_priority, err) != IRIS_OK)
      e->low_priority = 0;
    iris_db_rows_free(rows);
    if (rc) {
      e->low_priority = -1;
      return rc;
    }
  }
  if (!e->adopted)
    rc = adopt(e, deadline_ms, &e->adopted, st, err);
  if (rc == IRIS_OK && e->id_step <= 0) {
    rc = iris_db_query_i64(e->db, IRIS_DB_IDEMPOTENT, "SELECT @@session.auto_increment_increment",
                           NULL, 0, &e->id_step, err);
    if (rc == IRIS_OK && e->id_step <= 0)
      e->id_step = 1;
  }
  if (rc == IRIS_OK)
    rc = new_incidents(e, deadline_ms, st, err);
  if (rc == IRIS_OK)
    rc = due_rows(e, deadline_ms, st, err);
  return rc;
}
