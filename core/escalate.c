/* escalate.c — incidents to messages (see escalate.h). */
#include "escalate.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "recipients.h"

#define IRIS_LOG_MODULE "escalate"
#include "log.h"

#define BATCH_LIMIT 1000

struct notif {
  int64_t id, priority_id, plan_id, application_id, incident_id, dynamic_index;
  int optional;
  char role[64], target[256];
};

/* Insert one message and its enqueue marker. */
static int add_message(struct iris_db *db, const struct notif *n, const char *user,
                       int64_t priority_id, const char *body, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  struct iris_db_param p[] = {IRIS_DB_I64(n->plan_id), IRIS_DB_I64(n->id),
                              IRIS_DB_I64(n->incident_id), IRIS_DB_I64(n->application_id),
                              IRIS_DB_I64(priority_id), IRIS_DB_STR(body ? body : ""),
                              IRIS_DB_STR(user)};
  int rc = iris_db_exec(db, 0,
                        "INSERT INTO message (created, plan_id, plan_notification_id, incident_id,"
                        " application_id, target_id, priority_id, body, active)"
                        " SELECT UTC_TIMESTAMP(), ?, ?, ?, ?, t.id, ?, ?, 1 FROM target t"
                        " WHERE t.name = ? AND t.active = 1 LIMIT 1",
                        p, 7, &info, err);
  if (rc == IRIS_OK && info.affected_rows == 1) {
    struct iris_db_param q[] = {IRIS_DB_I64((int64_t)info.insert_id)};
    rc = iris_db_exec(db, 0,
                      "INSERT INTO sender_enqueue (message_id, state, plan_id, application_id,"
                      " priority_id, target_id, next_attempt_at)"
                      " SELECT id, 'pending', plan_id, application_id, priority_id, target_id,"
                      " UTC_TIMESTAMP(3) FROM message WHERE id = ?",
                      q, 1, NULL, err);
    if (rc == IRIS_OK && strncmp(body ? body : "", "You are receiving", 17) == 0) {
      char old[400];
      struct iris_db_param c[] = {IRIS_DB_I64((int64_t)info.insert_id), IRIS_DB_STR(old),
                                  IRIS_DB_STR(user)};
      snprintf(old, sizeof old, "%s|%s", n->role, n->target);
      rc = iris_db_exec(db, 0,
                        "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                        " description) VALUES (UTC_TIMESTAMP(), ?, 'target-change', LEFT(?, 255),"
                        " LEFT(?, 255), 'Changing target to plan owner as we failed resolving"
                        " original target')",
                        c, 3, NULL, err);
    }
  } else if (rc == IRIS_OK) {
    IRIS_LOG_WARN("incident %" PRId64 ": target %s not found or inactive; no message",
                  n->incident_id, user);
  }
  return rc;
}

/* Create the messages of one notification for one incident. Returns how many. */
static int create_messages(struct iris_db *db, const struct notif *n, int *created,
                           struct iris_err *err) {
  struct iris_recipients who = {0};
  struct iris_err lerr = {0};
  size_t i;
  int rc;
  if (!n->role[0] || !n->target[0])
    rc = n->dynamic_index >= 0
             ? iris_err_set(&lerr, IRIS_ENOTFOUND,
                            "the incident names no target for dynamic slot %" PRId64,
                            n->dynamic_index)
             : iris_err_set(&lerr, IRIS_EINVAL, "the notification has no role or target");
  else
    rc = iris_recipients_expand(db, NULL, n->role, n->target, &who, &lerr);
  if (rc == IRIS_OK && who.n) {
    for (i = 0; i < who.n && rc == IRIS_OK; i++) {
      rc = add_message(db, n, who.names[i], n->priority_id, NULL, err);
      if (rc == IRIS_OK)
        (*created)++;
    }
    iris_recipients_cleanup(&who);
    return rc;
  }
  iris_recipients_cleanup(&who);
  if (rc == IRIS_ENOMEM)
    return iris_err_set(err, rc, "%s", lerr.msg);
  if (n->optional)
    return IRIS_OK;
  {
    /* Iris: page the plan's creator at priority low, saying why. */
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_I64(n->plan_id)};
    const char *creator = NULL;
    int64_t low = 0;
    char body[1200];
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT t.name, (SELECT id FROM priority WHERE name = 'low') FROM plan p"
                       " JOIN target t ON t.id = p.user_id WHERE p.id = ?",
                       p, 1, &rows, err);
    if (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW &&
        iris_db_get_str(rows, 0, &creator, NULL, err) == IRIS_OK &&
        !iris_db_is_null(rows, 1) && iris_db_get_i64(rows, 1, &low, err) == IRIS_OK) {
      snprintf(body, sizeof body,
               "You are receiving this as you created this plan and we can't resolve %s of %s "
               "at this time%s%s.\n\n",
               n->role, n->target, rc == IRIS_OK && lerr.msg[0] ? ": " : "", lerr.msg);
      rc = add_message(db, n, creator, low, body, err);
      if (rc == IRIS_OK)
        (*created)++;
    } else if (rc == IRIS_OK) {
      IRIS_LOG_ERR("incident %" PRId64 ": %s of %s names nobody and the plan has no creator to "
                   "page", n->incident_id, n->role, n->target);
    }
    iris_db_rows_free(rows);
  }
  return rc;
}

/* A notification's role and target: its own, or — for a dynamic notification (neither set)
 * — the incident's dynamic_plan_map entry for its dynamic_index (Iris's dynamic plans). */
#define NOTIF_SELECT                                                                         \
  "SELECT pn.id, pn.priority_id, pn.optional, COALESCE(r.name, dr.name),"                   \
  " COALESCE(t.name, dt.name), i.plan_id, i.application_id, pn.dynamic_index FROM incident i" \
  " JOIN plan_notification pn ON pn.plan_id = i.plan_id"                                     \
  " LEFT JOIN target_role r ON r.id = pn.role_id"                                            \
  " LEFT JOIN target t ON t.id = pn.target_id"                                               \
  " LEFT JOIN dynamic_plan_map d ON pn.role_id IS NULL AND pn.target_id IS NULL"             \
  "  AND d.incident_id = i.id AND d.dynamic_index = pn.dynamic_index"                        \
  " LEFT JOIN target_role dr ON dr.id = d.role_id"                                           \
  " LEFT JOIN target dt ON dt.id = d.target_id"

/* The notifications of (plan, step) or of one notification id, for an incident. */
static int notifications(struct iris_db *db, int64_t incident, int64_t plan_or_notif, int step,
                         struct notif **out, size_t *n, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(incident), IRIS_DB_I64(plan_or_notif), IRIS_DB_I64(step)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         step > 0
                             ? NOTIF_SELECT " WHERE i.id = ? AND pn.plan_id = ? AND pn.step = ?"
                             : NOTIF_SELECT " WHERE i.id = ? AND pn.id = ? AND ? = 0",
                         p, 3, &rows, err);
  size_t k = 0;
  *out = NULL;
  *n = 0;
  if (rc)
    return rc;
  *out = iris_calloc(iris_db_rows_count(rows) + 1, sizeof **out);
  if (!*out) {
    iris_db_rows_free(rows);
    return iris_err_set(err, IRIS_ENOMEM, "escalate: notifications");
  }
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    struct notif *x = &(*out)[k++];
    const char *s;
    int64_t opt = 0;
    x->incident_id = incident;
    rc = iris_db_get_i64(rows, 0, &x->id, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 1, &x->priority_id, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 2, &opt, err);
    x->optional = opt != 0;
    if (rc == IRIS_OK && !iris_db_is_null(rows, 3) && (rc = iris_db_get_str(rows, 3, &s, NULL, err)) == IRIS_OK)
      snprintf(x->role, sizeof x->role, "%s", s);
    if (rc == IRIS_OK && !iris_db_is_null(rows, 4) && (rc = iris_db_get_str(rows, 4, &s, NULL, err)) == IRIS_OK)
      snprintf(x->target, sizeof x->target, "%s", s);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 5, &x->plan_id, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_i64(rows, 6, &x->application_id, err);
    x->dynamic_index = -1;
    if (rc == IRIS_OK && !iris_db_is_null(rows, 7))
      rc = iris_db_get_i64(rows, 7, &x->dynamic_index, err);
  }
  *n = k;
  iris_db_rows_free(rows);
  if (rc) {
    iris_free(*out);
    *out = NULL;
  }
  return rc;
}

/* Iris's tracking message (§4.1): a plan with tracking_type, tracking_key and a template for
 * the incident's application copies the new incident there. The row (sender_tracking) is
 * created in the incident's step-1 transaction, so it exists exactly once; the enqueue pass
 * sends it and the sender renders and delivers it. Sets *created to 1 when a row was made. */
static int add_tracking(struct iris_db *db, int64_t incident, int *created, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(incident)};
  const char *type = NULL, *key = NULL, *tmpl = NULL, *app = NULL;
  json_t *doc = NULL;
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT p.tracking_type, p.tracking_key, p.tracking_template, a.name"
                         " FROM incident i JOIN plan p ON p.id = i.plan_id"
                         " JOIN application a ON a.id = i.application_id WHERE i.id = ?"
                         " AND p.tracking_type <> '' AND p.tracking_key <> ''"
                         " AND p.tracking_template IS NOT NULL",
                         p, 1, &rows, err);
  *created = 0;
  if (rc || (rc = iris_db_next(rows, err)) != IRIS_DB_ROW)
    goto out; /* no tracking configured (rc IRIS_OK) or an error */
  if ((rc = iris_db_get_str(rows, 0, &type, NULL, err)) ||
      (rc = iris_db_get_str(rows, 1, &key, NULL, err)) ||
      (rc = iris_db_get_str(rows, 2, &tmpl, NULL, err)) ||
      (rc = iris_db_get_str(rows, 3, &app, NULL, err)))
    goto out;
  doc = json_loads(tmpl, 0, NULL);
  if (!json_is_object(json_object_get(doc, app)))
    goto out; /* no tracking template for this application (or not JSON): nothing to copy */
  if (strcmp(type, "call") == 0) {
    IRIS_LOG_WARN("incident %" PRId64 ": tracking by call is not supported (as in Iris); skipped",
                  incident);
    goto out;
  }
  {
    struct iris_db_param q[] = {IRIS_DB_I64(incident), IRIS_DB_STR(type), IRIS_DB_STR(key),
                                IRIS_DB_I64(incident)};
    struct iris_db_exec_info info = {0};
    rc = iris_db_exec(db, 0,
                      "INSERT IGNORE INTO sender_tracking (incident_id, plan_id, mode, destination,"
                      " next_attempt_at) SELECT ?, plan_id, ?, ?, UTC_TIMESTAMP(3) FROM incident"
                      " WHERE id = ?",
                      q, 4, &info, err);
    *created = rc == IRIS_OK && info.affected_rows == 1;
  }
out:
  json_decref(doc);
  iris_db_rows_free(rows);
  return rc;
}

/* One incident moves to `step`: create its notifications' messages and set the step, in one
 * transaction. `guard_step` is the step it must still be on (another tick may have moved it). */
static int enter_step(struct iris_db *db, int64_t incident, int64_t plan, int step,
                      int guard_step, int *created, int *tracking, struct iris_err *err) {
  struct notif *ns = NULL;
  size_t n = 0, i;
  struct iris_db_exec_info info = {0};
  int rc = iris_db_begin(db, err);
  if (rc == IRIS_OK)
    rc = notifications(db, incident, plan, step, &ns, &n, err);
  if (rc == IRIS_OK && n == 0) {
    struct iris_db_param p[] = {IRIS_DB_I64(incident)};
    IRIS_LOG_ERR("incident %" PRId64 ": plan %" PRId64 " has no step %d; deactivating it",
                 incident, plan, step);
    rc = iris_db_exec(db, 0, "UPDATE incident SET active = 0 WHERE id = ?", p, 1, NULL, err);
  } else if (rc == IRIS_OK) {
    struct iris_db_param p[] = {IRIS_DB_I64(step), IRIS_DB_I64(incident), IRIS_DB_I64(guard_step)};
    rc = iris_db_exec(db, 0,
                      "UPDATE incident SET current_step = ?, updated = UTC_TIMESTAMP()"
                      " WHERE id = ? AND current_step = ? AND active = 1",
                      p, 3, &info, err);
    if (rc == IRIS_OK && info.affected_rows != 1)
      rc = iris_err_set(err, IRIS_ESTATE, "incident %" PRId64 " changed under us", incident);
    for (i = 0; i < n && rc == IRIS_OK; i++)
      rc = create_messages(db, &ns[i], created, err);
    if (rc == IRIS_OK && step == 1 && guard_step == 0 && tracking)
      rc = add_tracking(db, incident, tracking, err);
  }
  iris_free(ns);
  if (rc == IRIS_OK)
    rc = iris_db_commit(db, err);
  else
    (void)iris_db_rollback(db, NULL);
  return rc;
}

static int new_incidents(struct iris_db *db, struct iris_escalate_stats *st, struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(BATCH_LIMIT)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                         "SELECT id, plan_id FROM incident WHERE current_step = 0 AND active = 1"
                         " ORDER BY id LIMIT ?",
                         p, 1, &rows, err);
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    int64_t id = 0, plan = 0;
    struct iris_err ierr = {0};
    int created = 0, tracking = 0, irc;
    if ((rc = iris_db_get_i64(rows, 0, &id, err)) || (rc = iris_db_get_i64(rows, 1, &plan, err)))
      break;
    irc = enter_step(db, id, plan, 1, 0, &created, &tracking, &ierr);
    if (irc == IRIS_ENOMEM) {
      rc = iris_err_set(err, irc, "%s", ierr.msg);
      break;
    }
    if (irc) {
      st->failed_incidents++;
      IRIS_LOG_ERR("incident %" PRId64 ": %s (retried next tick)", id, ierr.msg);
      continue;
    }
    st->new_incidents++;
    st->messages += created;
    st->tracking += tracking;
  }
  iris_db_rows_free(rows);
  return rc;
}

static int repeats_and_escalations(struct iris_db *db, struct iris_escalate_stats *st,
                                   struct iris_err *err) {
  struct iris_db_rows *rows = NULL;
  int64_t last_escalated = 0;
  int rc = iris_db_query(
      db, IRIS_DB_IDEMPOTENT,
      "SELECT x.incident_id, x.pn_id, MAX(x.cnt), TIMESTAMPDIFF(SECOND, MAX(x.latest),"
      " UTC_TIMESTAMP()), pn.repeat, pn.wait, pn.step, i.current_step, p.step_count, i.plan_id"
      " FROM (SELECT m.incident_id, m.plan_notification_id pn_id, m.target_id, COUNT(*) cnt,"
      "  MAX(m.created) latest FROM message m JOIN incident i ON i.id = m.incident_id"
      "  WHERE i.active = 1 AND m.plan_notification_id IS NOT NULL"
      "  GROUP BY m.incident_id, m.plan_notification_id, m.target_id) x"
      " JOIN plan_notification pn ON pn.id = x.pn_id JOIN incident i ON i.id = x.incident_id"
      " JOIN plan p ON p.id = i.plan_id"
      " GROUP BY x.incident_id, x.pn_id, pn.repeat, pn.wait, pn.step, i.current_step,"
      "  p.step_count, i.plan_id ORDER BY x.incident_id",
      NULL, 0, &rows, err);
  while (rc == IRIS_OK && iris_db_next(rows, err) == IRIS_DB_ROW) {
    int64_t v[10];
    size_t k;
    struct iris_err ierr = {0};
    int created = 0, irc = IRIS_OK;
    for (k = 0; k < 10 && rc == IRIS_OK; k++)
      rc = iris_db_get_i64(rows, k, &v[k], err);
    if (rc)
      break;
    /* v: incident, notification, rounds, age, repeat, wait, step, current, step_count, plan */
    if (v[3] <= v[5])
      continue; /* its wait has not passed */
    if (v[2] < v[4] + 1) {
      struct notif *ns = NULL;
      size_t n = 0;
      irc = iris_db_begin(db, &ierr);
      if (irc == IRIS_OK)
        irc = notifications(db, v[0], v[1], 0, &ns, &n, &ierr);
      if (irc == IRIS_OK && n == 1)
        irc = create_messages(db, &ns[0], &created, &ierr);
      iris_free(ns);
      if (irc == IRIS_OK)
        irc = iris_db_commit(db, &ierr);
      else
        (void)iris_db_rollback(db, NULL);
      if (irc == IRIS_OK) {
        st->repeats++;
        st->messages += created;
      }
    } else if (v[6] == v[7] && v[7] < v[8] && v[0] != last_escalated) {
      irc = enter_step(db, v[0], v[9], (int)v[7] + 1, (int)v[7], &created, NULL, &ierr);
      if (irc == IRIS_OK) {
        st->escalations++;
        st->messages += created;
        last_escalated = v[0]; /* one step per incident per tick */
      }
    }
    if (irc == IRIS_ENOMEM) {
      rc = iris_err_set(err, irc, "%s", ierr.msg);
      break;
    }
    if (irc) {
      st->failed_incidents++;
      IRIS_LOG_ERR("incident %" PRId64 ": %s (retried next tick)", v[0], ierr.msg);
    }
  }
  iris_db_rows_free(rows);
  return rc;
}

static int deactivate(struct iris_db *db, struct iris_escalate_stats *st, struct iris_err *err) {
  struct iris_db_exec_info info = {0};
  /* Final step, every final-step notification has sent all its rounds to every target, none
   * of those messages is still unsent, and the last wait after the last send has passed. */
  int rc = iris_db_exec(
      db, 0,
      "UPDATE incident i JOIN plan p ON p.id = i.plan_id SET i.active = 0"
      " WHERE i.active = 1 AND i.current_step = p.step_count AND i.current_step > 0"
      " AND NOT EXISTS (SELECT 1 FROM plan_notification pn WHERE pn.plan_id = i.plan_id"
      "  AND pn.step = i.current_step AND (pn.repeat + 1 > (SELECT IFNULL(MIN(c.cnt), 0) FROM"
      "   (SELECT m.incident_id, m.plan_notification_id, m.target_id, COUNT(*) cnt FROM message m"
      "    GROUP BY m.incident_id, m.plan_notification_id, m.target_id) c"
      "   WHERE c.incident_id = i.id AND c.plan_notification_id = pn.id)"
      "  OR EXISTS (SELECT 1 FROM message m WHERE m.incident_id = i.id"
      "   AND m.plan_notification_id = pn.id AND (m.sent IS NULL AND m.active = 1"
      "    OR m.sent > UTC_TIMESTAMP() - INTERVAL pn.wait SECOND))))",
      NULL, 0, &info, err);
  if (rc == IRIS_OK)
    st->deactivated += (int)info.affected_rows;
  return rc;
}

int iris_escalate_tick(struct iris_db *db, struct iris_escalate_stats *st, struct iris_err *err) {
  int rc;
  memset(st, 0, sizeof *st);
  rc = new_incidents(db, st, err);
  if (rc == IRIS_OK)
    rc = repeats_and_escalations(db, st, err);
  if (rc == IRIS_OK)
    rc = deactivate(db, st, err);
  return rc;
}
