/* reprioritize.c — Iris's target reprioritisation with shared counters (see reprioritize.h). */
#include "reprioritize.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "quota.h"
#include "record.h"

#define IRIS_LOG_MODULE "reprioritize"
#include "log.h"

/* Modes are few (Iris ships seven); a chain longer than this can only be going round. */
#define MAX_HOPS 8

struct rule {
  int64_t target_id;
  int64_t dst_mode_id;
  char dst_mode[64];
  int64_t count;
  int64_t minutes;
};

/* The rules query, returning (target name, source mode id, rule); the caller adds the
 * condition ("t.name = ? AND r.src_mode_id = ?" or "t.name IN (...)"). */
#define RULES_QUERY \
  "SELECT r.target_id, r.dst_mode_id, m.name, r.count, r.duration, t.name," \
  " r.src_mode_id, tc.destination FROM target_reprioritization r JOIN target t ON t.id = r.target_id" \
  " JOIN mode m ON m.id = r.dst_mode_id" \
  " JOIN target_contact tc ON tc.target_id = r.target_id" \
  "  AND tc.mode_id = r.dst_mode_id WHERE "

/* A rule from the current row of a RULES_QUERY result. */
static int rule_from(struct iris_db_rows *rows, struct rule *r, struct iris_err *err) {
  const char *name = NULL;
  int64_t duration = 60;
  int rc;
  memset(r, 0, sizeof *r);
  rc = iris_db_get_i64(rows, 0, &r->target_id, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 1, &r->dst_mode_id, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_str(rows, 2, &name, NULL, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 3, &r->count, err);
  if (rc == IRIS_OK)
    rc = iris_db_get_i64(rows, 4, &duration, err);
  if (rc)
    return rc;
  snprintf(r->dst_mode, sizeof r->dst_mode, "%s", name);
  /* Iris meant whole minutes (duration / 60) and a bucket at least */
  r->minutes = duration / 60 > 0 ? duration / 60 : 1;
  return IRIS_OK;
}

struct ahead_rule {
  char *target;      /* owned */
  char *destination; /* owned: the user's contact for the rule's destination mode */
  int64_t src_mode_id;
  struct rule r;
};

struct iris_reprioritize_rules {
  char **targets; /* the users read (owned): those without a rule have none */
  size_t ntargets;
  struct ahead_rule *v; /* owned */
  size_t n;
};

void iris_reprioritize_rules_free(struct iris_reprioritize_rules *a) {
  size_t i;
  if (!a)
    return;
  for (i = 0; i < a->ntargets; i++)
    iris_free(a->targets[i]);
  for (i = 0; i < a->n; i++) {
    iris_free(a->v[i].target);
    iris_free(a->v[i].destination);
  }
  iris_free(a->targets);
  iris_free(a->v);
  iris_free(a);
}

int iris_reprioritize_rules_read(struct iris_db *db, const char *const *targets, size_t n,
                                 struct iris_reprioritize_rules **out, struct iris_err *err) {
  struct iris_reprioritize_rules *a = iris_calloc(1, sizeof *a);
  struct iris_db_param *p = iris_calloc(n ? n : 1, sizeof *p);
  struct iris_db_rows *rows = NULL;
  struct iris_buf sql;
  size_t i;
  int rc = IRIS_OK;

  *out = NULL;
  iris_buf_init(&sql, 1 << 16);
  if (!a || !p || !(a->targets = iris_calloc(n ? n : 1, sizeof *a->targets)) ||
      iris_db_sql_rows(&sql, RULES_QUERY "t.name IN (", "?", ", ", n, ")")) {
    rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization rules of %zu users", n);
    goto out;
  }
  for (i = 0; i < n; i++) {
    p[i] = IRIS_DB_STR(targets[i]);
    if (!(a->targets[a->ntargets++] = iris_strdup(targets[i]))) {
      rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization rules of %zu users", n);
      goto out;
    }
  }
  if ((rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, iris_buf_ptr(&sql), p, n, &rows, err)))
    goto out;
  if (!(a->v = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *a->v))) {
    rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization rules of %zu users", n);
    goto out;
  }
  while ((rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    struct ahead_rule *r = &a->v[a->n];
    const char *t = NULL;
    a->n++; /* (counted now: what it holds is freed with the rest, whatever fails below) */
    if ((rc = rule_from(rows, &r->r, err)) || (rc = iris_db_get_str(rows, 5, &t, NULL, err)) ||
        (rc = iris_db_get_i64(rows, 6, &r->src_mode_id, err)) ||
        (rc = iris_db_get_strdup(rows, 7, &r->destination, err)))
      break;
    if (!(r->target = iris_strdup(t))) {
      rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization rules of %zu users", n);
      break;
    }
  }
out:
  iris_db_rows_free(rows);
  iris_buf_cleanup(&sql);
  iris_free(p);
  if (rc) {
    iris_reprioritize_rules_free(a);
    return rc;
  }
  *out = a;
  return IRIS_OK;
}

/* Among the rules read ahead, the rule of (target, source mode) — any source mode when
 * src_mode_id is 0 — or NULL; *known (may be NULL) says whether target was among the users
 * read (if not, NULL says nothing: the database decides). At most one rule per pair (Iris's
 * key is the user and the source mode). */
static const struct ahead_rule *ahead_find(const struct iris_reprioritize_rules *ahead,
                                           const char *target, int64_t src_mode_id, int *known) {
  size_t i;
  if (known)
    *known = 0;
  for (i = 0; ahead && i < ahead->ntargets; i++)
    if (strcmp(ahead->targets[i], target) == 0)
      break;
  if (!ahead || i == ahead->ntargets)
    return NULL;
  if (known)
    *known = 1;
  for (i = 0; i < ahead->n; i++)
    if ((src_mode_id == 0 || ahead->v[i].src_mode_id == src_mode_id) &&
        strcmp(ahead->v[i].target, target) == 0)
      return &ahead->v[i];
  return NULL;
}

/* The rule of (target, source mode), if it has a usable destination; *dest (may be NULL)
 * the user's contact for its destination mode when the rule was read ahead (borrowed from
 * `ahead`), else NULL. */
static int rule_for(struct iris_db *db, const struct iris_reprioritize_rules *ahead,
                    const char *target, int64_t src_mode_id, struct rule *r, int *found,
                    const char **dest, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(target), IRIS_DB_I64(src_mode_id)};
  const struct ahead_rule *a;
  int rc, known;

  *found = 0;
  memset(r, 0, sizeof *r);
  if (dest)
    *dest = NULL;
  a = ahead_find(ahead, target, src_mode_id, &known);
  if (known) {
    if (a) {
      *r = a->r;
      *found = 1;
      if (dest)
        *dest = a->destination;
    }
    return IRIS_OK;
  }
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, RULES_QUERY "t.name = ? AND r.src_mode_id = ?", p, 2,
                     &rows, err);
  if (rc)
    goto out;
  rc = iris_db_next(rows, err);
  if (rc != IRIS_DB_ROW)
    goto out; /* IRIS_OK: no rule, or only one without a contact for its destination */
  rc = rule_from(rows, r, err);
  *found = rc == IRIS_OK;
out:
  iris_db_rows_free(rows);
  return rc ? iris_err_prefix(err, "reprioritization rule of %s", target) : IRIS_OK;
}

/* The decision already stored for this delivery: *found, and the mode it chose. */
static int decided(struct iris_db *db, const char *key, int *found, char *mode, size_t mode_size,
                   int64_t *hops, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_STR(key)};
  const char *name = NULL;
  int rc;

  *found = 0;
  *hops = 0;
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT m.name, r.hops FROM sender_reprioritization r"
                     " JOIN mode m ON m.id = r.dst_mode_id WHERE r.claim_key = ?",
                     p, 1, &rows, err);
  if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    rc = iris_db_get_str(rows, 0, &name, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, hops, err);
    if (rc == IRIS_OK) {
      snprintf(mode, mode_size, "%s", name);
      *found = 1;
    }
  }
  iris_db_rows_free(rows);
  return rc ? iris_err_prefix(err, "reprioritization of %s", key) : IRIS_OK;
}

/*
 * Count and decide in the caller's transaction, starting from the first rule. *mode gets the
 * final mode's name (src's when nothing fired), *hops the rules followed. IRIS_EDUPLICATE if
 * the delivery was decided already (a commit of ours that came back lost).
 */
static int count_and_decide(struct iris_db *db, const struct iris_reprioritize_request *q,
                            const struct iris_contact *src, const struct rule *first, char *mode,
                            size_t mode_size, int64_t *hops, struct iris_err *err) {
  struct rule r = *first;
  int64_t visited[MAX_HOPS + 1], cur_id = src->mode_id, sum = 0;
  size_t nvisited = 0, k;
  int rc, found = 1, loop = 0;

  *hops = 0;
  snprintf(mode, mode_size, "%s", src->mode);
  visited[nvisited++] = cur_id;
  rc = IRIS_OK;
  while (rc == IRIS_OK && found) {
    rc = iris_quota_counter_hit(db, IRIS_QUOTA_SCOPE_TARGET_MODE, r.target_id, cur_id, err);
    if (rc == IRIS_OK)
      rc = iris_quota_counter_sum(db, IRIS_QUOTA_SCOPE_TARGET_MODE, r.target_id, cur_id, r.minutes,
                                  &sum, err);
    if (rc || sum <= r.count)
      break;
    for (k = 0; k < nvisited; k++)
      loop |= visited[k] == r.dst_mode_id;
    if (loop || nvisited > MAX_HOPS) {
      IRIS_LOG_WARN("reprioritization loop for %s: %s -> %s was visited already; staying on %s",
                    q->target, mode, r.dst_mode, mode);
      break;
    }
    IRIS_LOG_INFO("reprioritization of %s: %lld %s message(s) in %lld min > %lld -> %s", q->target,
                  (long long)sum, mode, (long long)r.minutes, (long long)r.count, r.dst_mode);
    if (q->message_id)
      rc = iris_record_change(db, q->message_id, "mode-change", mode, r.dst_mode,
                              "Changing mode due to reprioritization", err);
    snprintf(mode, mode_size, "%s", r.dst_mode);
    cur_id = r.dst_mode_id;
    visited[nvisited++] = cur_id;
    (*hops)++;
    if (rc == IRIS_OK)
      rc = rule_for(db, q->rules, q->target, cur_id, &r, &found, NULL, err);
  }
  if (rc == IRIS_OK) { /* the decision (a duplicate key: decided meanwhile, IRIS_EDUPLICATE) */
    struct iris_db_param p[] = {IRIS_DB_STR(q->claim_key), IRIS_DB_I64(first->target_id),
                                IRIS_DB_I64(src->mode_id), IRIS_DB_I64(cur_id),
                                IRIS_DB_I64(*hops)};
    rc = iris_db_exec(db, 0,
                      "INSERT INTO sender_reprioritization (claim_key, target_id, src_mode_id,"
                      " dst_mode_id, hops, decided_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(3))",
                      p, 5, NULL, err);
  }
  if (rc == IRIS_OK && *hops && q->message_id) {
    /* Iris's update_message_mode: the message row says how it is being sent */
    struct iris_db_param p[] = {IRIS_DB_I64(cur_id), IRIS_DB_I64(q->message_id)};
    rc = iris_db_exec(db, 0, "UPDATE message SET mode_id = ? WHERE id = ?", p, 2, NULL, err);
  }
  return rc;
}

/* *contact becomes the user's contact for `mode` (the old one freed); kept, with a warning,
 * when the contact went away since the rule was read. */
static int switch_contact(struct iris_db *db, const char *target, const char *mode,
                          struct iris_contact *contact, struct iris_err *err) {
  struct iris_contact next = {0};
  struct iris_err cerr = {0};
  int rc = iris_contact_for_mode(db, target, mode, &next, &cerr);
  if (rc == IRIS_ENOTFOUND) {
    /* the contact went away since the rule was read: keep what the priority chain chose */
    IRIS_LOG_WARN("reprioritization of %s to %s: %s; staying on %s", target, mode, cerr.msg,
                  contact->mode);
    return IRIS_OK;
  }
  if (rc) {
    iris_contact_cleanup(&next);
    return iris_err_set(err, rc, "%s", cerr.msg);
  }
  iris_contact_cleanup(contact);
  *contact = next;
  return IRIS_OK;
}

int iris_reprioritize_apply(struct iris_db *db, const struct iris_reprioritize_item *item,
                            struct iris_contact *contact, struct iris_err *err) {
  char *dest;
  if (strcmp(item->mode, contact->mode) == 0)
    return IRIS_OK;
  if (!item->destination)
    return switch_contact(db, item->target, item->mode, contact, err);
  if (!(dest = iris_strdup(item->destination)))
    return iris_err_set(err, IRIS_ENOMEM, "reprioritization of %s", item->target);
  iris_contact_cleanup(contact);
  snprintf(contact->mode, sizeof contact->mode, "%s", item->mode);
  contact->mode_id = item->mode_id;
  contact->destination = dest;
  return IRIS_OK;
}

int iris_reprioritize(struct iris_db *db, const struct iris_reprioritize_request *q,
                      struct iris_contact *contact, int *hops, struct iris_err *err) {
  struct rule first;
  char mode[64] = "";
  int64_t n = 0;
  int rc, found = 0, tries;

  if (hops)
    *hops = 0;
  rc = rule_for(db, q->rules, q->target, contact->mode_id, &first, &found, NULL, err);
  if (rc || !found)
    goto out;
  found = 0;
  if (!q->fresh) /* (a claim created for this delivery has no decision yet) */
    rc = decided(db, q->claim_key, &found, mode, sizeof mode, &n, err);
  for (tries = 0; rc == IRIS_OK && !found && tries < 3; tries++) {
    rc = iris_db_begin(db, err);
    if (rc == IRIS_OK)
      rc = count_and_decide(db, q, contact, &first, mode, sizeof mode, &n, err);
    if (rc == IRIS_OK)
      rc = iris_db_commit(db, err);
    else
      (void)iris_db_rollback(db, NULL);
    if (rc == IRIS_EDUPLICATE) /* decided meanwhile: read what was decided */
      rc = decided(db, q->claim_key, &found, mode, sizeof mode, &n, err);
    else if (rc == IRIS_OK)
      found = 1;
    else if (rc != IRIS_EBUSY)
      break;
  }
  if (rc == IRIS_OK && !found)
    rc = iris_err_set(err, IRIS_EBUSY, "reprioritization of %s: deadlocked three times",
                      q->claim_key);
  if (rc || n == 0 || strcmp(mode, contact->mode) == 0)
    goto out;
  rc = switch_contact(db, q->target, mode, contact, err);
  if (rc == IRIS_OK && hops && strcmp(mode, contact->mode) == 0)
    *hops = (int)n;
out:
  if (rc == IRIS_ENOTFOUND) {
    /* a NULL where the schema has none: a database problem, which the caller must not take
     * for "this user has no contact" */
    rc = IRIS_EDB;
    if (err)
      err->rc = IRIS_EDB;
  }
  return rc;
}

/* ---- a batch's decisions at once ------------------------------------------------------------ */

/* Where one item stands while its batch is decided. */
struct walk {
  struct rule r;     /* the rule of (target, cur_id) being applied */
  int64_t target_id; /* the user's id (the first rule's; r is zeroed where the walk ends) */
  int64_t cur_id;    /* the mode it is on */
  int64_t visited[MAX_HOPS + 1];
  size_t nvisited;
  int active;       /* still counted on cur_id in this level */
  const char *dest; /* r's destination contact when read ahead (borrowed), else NULL */
};

/* One changelog row a hop writes. */
struct hop {
  int64_t message_id;
  char from[64], to[64];
};

/* The hops of a batch (owned array, grown as hops are made). */
struct hops {
  struct hop *v;
  size_t n, cap;
};

static int hops_add(struct hops *h, int64_t message_id, const char *from, const char *to) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    struct hop *v = iris_realloc(h->v, cap * sizeof *v);
    if (!v)
      return IRIS_ENOMEM;
    h->v = v;
    h->cap = cap;
  }
  h->v[h->n].message_id = message_id;
  snprintf(h->v[h->n].from, sizeof h->v[h->n].from, "%s", from);
  snprintf(h->v[h->n].to, sizeof h->v[h->n].to, "%s", to);
  h->n++;
  return IRIS_OK;
}

/* One counter the level touches: (user, mode), and the items on it in batch order. */
struct group {
  int64_t target_id, mode_id, minutes;
  size_t first, n; /* the active items, in order, are order[first..first + n) */
};

static int by_counter(const void *a, const void *b) {
  const struct group *x = a, *y = b;
  if (x->target_id != y->target_id)
    return x->target_id < y->target_id ? -1 : 1;
  return x->mode_id < y->mode_id ? -1 : x->mode_id > y->mode_id;
}

/* One level: count every active item once more on its counter, then let each follow its rule
 * if the window (as it stood when that item was counted) holds more than the rule's count. */
static int decide_level(struct iris_db *db, const struct iris_reprioritize_rules *rules,
                        struct iris_reprioritize_item *items, struct walk *w, size_t n,
                        size_t *order, struct group *g, struct hops *chg, struct iris_err *err) {
  size_t i, k, ng = 0, no = 0;
  int rc = IRIS_OK;
  for (i = 0; i < n; i++) { /* groups, sorted below: the lock order */
    if (!w[i].active)
      continue;
    for (k = 0; k < ng && (g[k].target_id != w[i].r.target_id || g[k].mode_id != w[i].cur_id); k++)
      ;
    if (k == ng)
      g[ng++] = (struct group){w[i].r.target_id, w[i].cur_id, w[i].r.minutes, 0, 0};
    g[k].n++;
  }
  qsort(g, ng, sizeof *g, by_counter);
  for (k = 0; k < ng; k++) {
    g[k].first = no;
    for (i = 0; i < n; i++)
      if (w[i].active && w[i].r.target_id == g[k].target_id && w[i].cur_id == g[k].mode_id)
        order[no++] = i;
  }
  for (k = 0; k < ng && rc == IRIS_OK; k++) {
    int64_t sum = 0;
    size_t j;
    rc = iris_quota_counter_add(db, IRIS_QUOTA_SCOPE_TARGET_MODE, g[k].target_id, g[k].mode_id,
                                (int64_t)g[k].n, err);
    if (rc == IRIS_OK)
      rc = iris_quota_counter_sum(db, IRIS_QUOTA_SCOPE_TARGET_MODE, g[k].target_id, g[k].mode_id,
                                  g[k].minutes, &sum, err);
    for (j = 0; j < g[k].n && rc == IRIS_OK; j++) {
      struct iris_reprioritize_item *it = &items[order[g[k].first + j]];
      struct walk *x = &w[order[g[k].first + j]];
      int64_t seen = sum - (int64_t)g[k].n + (int64_t)j + 1; /* as counted j-th alone */
      int loop = 0, found = 0;
      x->active = 0;
      if (seen <= x->r.count)
        continue;
      for (i = 0; i < x->nvisited; i++)
        loop |= x->visited[i] == x->r.dst_mode_id;
      if (loop || x->nvisited > MAX_HOPS) {
        IRIS_LOG_WARN("reprioritization loop for %s: %s -> %s was visited already; staying on %s",
                      it->target, it->mode, x->r.dst_mode, it->mode);
        continue;
      }
      IRIS_LOG_INFO("reprioritization of %s: %lld %s message(s) in %lld min > %lld -> %s",
                    it->target, (long long)seen, it->mode, (long long)x->r.minutes,
                    (long long)x->r.count, x->r.dst_mode);
      if (it->message_id && hops_add(chg, it->message_id, it->mode, x->r.dst_mode))
        rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization: changelog rows");
      snprintf(it->mode, sizeof it->mode, "%s", x->r.dst_mode);
      it->destination = x->dest;
      x->cur_id = it->mode_id = x->r.dst_mode_id;
      x->visited[x->nvisited++] = x->cur_id;
      it->hops++;
      if (rc == IRIS_OK)
        rc = rule_for(db, rules, it->target, x->cur_id, &x->r, &found, &x->dest, err);
      x->active = found;
    }
  }
  return rc;
}

/* The transaction's writes after the counting: decisions, changelog rows, message modes. */
static int decide_write(struct iris_db *db, const struct iris_reprioritize_item *items,
                        const struct walk *w, const int64_t *src_ids, size_t n,
                        const struct hops *chg, struct iris_err *err) {
  struct iris_db_param *p = iris_calloc(n * 5 + chg->n * 3 + 1, sizeof *p);
  struct iris_buf sql;
  size_t i, k, m = 0, nd = 0;
  int rc = p ? IRIS_OK : IRIS_ENOMEM;
  iris_buf_init(&sql, 0);
  for (i = 0; i < n && rc == IRIS_OK; i++)
    if (items[i].ruled) {
      p[m++] = IRIS_DB_STR(items[i].claim_key);
      p[m++] = IRIS_DB_I64(w[i].target_id);
      p[m++] = IRIS_DB_I64(src_ids[i]);
      p[m++] = IRIS_DB_I64(w[i].cur_id);
      p[m++] = IRIS_DB_I64(items[i].hops);
      nd++;
    }
  if (rc == IRIS_OK && nd)
    rc = iris_db_sql_rows(&sql,
                          "INSERT INTO sender_reprioritization (claim_key, target_id, src_mode_id,"
                          " dst_mode_id, hops, decided_at) VALUES ",
                          "(?, ?, ?, ?, ?, UTC_TIMESTAMP(3))", ", ", nd, "");
  if (rc == IRIS_OK && nd)
    rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, m, NULL, err);
  if (rc == IRIS_OK && chg->n) { /* mode names (Iris's, ASCII) and a reason of ours */
    m = 0;
    for (i = 0; i < chg->n; i++) {
      p[m++] = IRIS_DB_I64(chg->v[i].message_id);
      p[m++] = IRIS_DB_STR(chg->v[i].from);
      p[m++] = IRIS_DB_STR(chg->v[i].to);
    }
    iris_buf_reset(&sql);
    rc = iris_db_sql_rows(&sql,
                          "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                          " description) VALUES ",
                          "(UTC_TIMESTAMP(), ?, 'mode-change', LEFT(?, 255), LEFT(?, 255),"
                          " 'Changing mode due to reprioritization')",
                          ", ", chg->n, "");
    if (rc == IRIS_OK)
      rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, m, NULL, err);
  }
  if (rc == IRIS_OK) { /* Iris's update_message_mode: the message row says how it is sent */
    m = 0;
    for (i = 0; i < n; i++)
      if (items[i].hops && items[i].message_id)
        p[m++] = IRIS_DB_I64(items[i].message_id);
    for (i = 0, k = 0; i < n; i++)
      if (items[i].hops && items[i].message_id)
        p[m + k++] = IRIS_DB_I64(items[i].mode_id);
    if (m) {
      const struct iris_db_keyed set[] = {{" m.mode_id =", "", p + m}};
      rc = iris_db_update_keyed(db, "UPDATE message m SET", "m.id", p, m, set, 1, " WHERE", NULL,
                                0, "", NULL, err);
    }
  }
  if (rc == IRIS_ENOMEM || (rc && !err->rc))
    rc = iris_err_set(err, rc, "reprioritization: the batch's decisions");
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}

int iris_reprioritize_rules_has(const struct iris_reprioritize_rules *ahead, const char *target) {
  int known;
  const struct ahead_rule *a = ahead_find(ahead, target, 0, &known);
  return a ? 1 : known ? 0 : -1;
}

/* The decisions of n items, in a transaction of their own (own_txn: three tries on a
 * deadlock) or in the caller's (one try; the caller rolls back on an error). */
static int decide_many(struct iris_db *db, const struct iris_reprioritize_rules *rules,
                       struct iris_reprioritize_item *items, size_t n, int own_txn,
                       struct iris_err *err) {
  struct walk *w = iris_calloc(n + 1, sizeof *w);
  struct group *g = iris_calloc(n + 1, sizeof *g);
  size_t *order = iris_calloc(n + 1, sizeof *order);
  int64_t *src_ids = iris_calloc(n + 1, sizeof *src_ids);
  char(*src_modes)[64] = iris_calloc(n + 1, sizeof *src_modes);
  struct hops chg = {0};
  size_t i, ruled = 0;
  int rc = IRIS_OK, tries, level;

  if (!w || !g || !order || !src_ids || !src_modes) {
    rc = iris_err_set(err, IRIS_ENOMEM, "reprioritization of %zu deliveries", n);
    goto out;
  }
  for (i = 0; i < n; i++) {
    src_ids[i] = items[i].mode_id;
    snprintf(src_modes[i], sizeof src_modes[i], "%s", items[i].mode);
  }
  for (tries = 0; tries < (own_txn ? 3 : 1); tries++) {
    for (i = 0, ruled = 0; i < n; i++) { /* (again from the start on a replay) */
      int found = 0;
      items[i].hops = 0;
      items[i].mode_id = items[i].from_mode_id = src_ids[i];
      snprintf(items[i].mode, sizeof items[i].mode, "%s", src_modes[i]);
      memset(&w[i], 0, sizeof w[i]);
      w[i].cur_id = src_ids[i];
      w[i].visited[w[i].nvisited++] = src_ids[i];
      items[i].destination = NULL;
      if ((rc = rule_for(db, rules, items[i].target, src_ids[i], &w[i].r, &found, &w[i].dest, err)))
        goto out;
      w[i].target_id = w[i].r.target_id;
      w[i].active = items[i].ruled = found;
      ruled += found;
    }
    if (!ruled)
      goto out;
    chg.n = 0;
    rc = own_txn ? iris_db_begin(db, err) : IRIS_OK;
    for (level = 0; rc == IRIS_OK && level <= MAX_HOPS; level++) {
      size_t active = 0;
      for (i = 0; i < n; i++)
        active += w[i].active;
      if (!active)
        break;
      rc = decide_level(db, rules, items, w, n, order, g, &chg, err);
    }
    if (rc == IRIS_OK)
      rc = decide_write(db, items, w, src_ids, n, &chg, err);
    if (!own_txn)
      break;
    if (rc == IRIS_OK)
      rc = iris_db_commit(db, err);
    else
      (void)iris_db_rollback(db, NULL);
    if (rc != IRIS_EBUSY)
      break;
  }
out:
  iris_free(chg.v);
  iris_free(w);
  iris_free(g);
  iris_free(order);
  iris_free(src_ids);
  iris_free(src_modes);
  return rc;
}

int iris_reprioritize_decide_many(struct iris_db *db, const struct iris_reprioritize_rules *rules,
                                  struct iris_reprioritize_item *items, size_t n,
                                  struct iris_err *err) {
  return decide_many(db, rules, items, n, 1, err);
}

int iris_reprioritize_decide_many_in_txn(struct iris_db *db,
                                         const struct iris_reprioritize_rules *rules,
                                         struct iris_reprioritize_item *items, size_t n,
                                         struct iris_err *err) {
  return decide_many(db, rules, items, n, 0, err);
}
