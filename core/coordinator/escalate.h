/*
 * escalate.h — Iris's escalation: from incidents and plans to message rows.
 *
 * Layer: core, above db, lease and recipients; used by the coordinator on every tick. Each
 * incident step change and each round of a notification is one transaction (its messages,
 * their enqueue markers, its tracking copy and its sender_escalation row move together), so
 * a crash or a failing incident never re-pages anyone and never stalls the others (Iris ran
 * every incident in one shared try block and committed message by message, §31).
 *
 * Where an incident stands is kept in sender_escalation (db/migrations/0010), one row per
 * notification it reached; a tick reads only the rows that are due, so its cost follows the
 * work to do, not the number of active incidents. Iris's rules, per notification:
 *   new incident (current_step 0): step 1's notifications get their first round; a plan
 *     without notifications for the step deactivates the incident ("invalid"), as in Iris;
 *   repeat: `wait` seconds after its latest round, a notification with fewer than
 *     `repeat` + 1 rounds gets another (roles are looked up again, so on-call changes apply;
 *     notifications of earlier steps keep repeating after the incident moved on, as in Iris);
 *   escalation: `wait` seconds after its last round, a notification of the incident's
 *     current step moves the incident to the next step (Iris: the first notification of the
 *     step to run out does it);
 *   deactivation: on the plan's last step, once every last-step notification ran all its
 *     rounds, every one of those messages was settled (sent, dropped, failed for good or
 *     claimed) and `wait` passed since the last of them was sent — not as soon as one
 *     notification ran out (Iris's early deactivation, §31 item 10).
 * A round pages the users its (role, target) names (recipients.h; dynamic notifications take
 * theirs from the incident's dynamic_plan_map). When the lookup fails or names nobody, a
 * non-optional notification pages the plan's creator at priority low with Iris's note, and
 * the changelog records the target change. A round counts even when it paged nobody, so the
 * plan moves on (Iris left such incidents stuck); a lookup that failed (the Oncall API down)
 * with no creator to page is retried a minute later without counting.
 * Incidents escalated before sender_escalation existed are adopted from their message rows
 * on the first tick of each invocation.
 */
#ifndef IRIS_ESCALATE_H
#define IRIS_ESCALATE_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "lease.h"

struct iris_oncall;

struct iris_escalate_stats {
  int new_incidents;    /* incidents that entered step 1 */
  int repeats;          /* rounds created by repeats */
  int escalations;      /* incidents moved to a later step */
  int deactivated;      /* incidents whose plan is exhausted (or invalid) */
  int messages;         /* message rows created */
  int tracking;         /* tracking copies created for new incidents */
  int adopted;          /* incidents whose state was rebuilt from their messages */
  int lookup_failures;  /* rounds whose role lookup failed (creator paged, or retried) */
  int failed_incidents; /* incident transactions that failed this tick (retried later) */
};

struct iris_escalate_opts {
  struct iris_oncall *oncall;           /* borrowed, may be NULL */
  const struct iris_lease_fence *fence; /* borrowed, may be NULL: every transaction checks it */
  int64_t max_unrolled_users;           /* ldap_lists.max_unrolled_users (0: no cap) */
};

struct iris_escalate; /* opaque: plan cache (plans are immutable versions) and lookups */

/* Create the escalator over `db` (borrowed, valid until iris_escalate_free). *out is owned by
 * the caller. IRIS_ENOMEM. */
int iris_escalate_new(struct iris_db *db, const struct iris_escalate_opts *opts,
                      struct iris_escalate **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_escalate_free(struct iris_escalate *e);

/* One tick: adopt (first tick only), new incidents, then due rows, until nothing is due or
 * iris_clock_mono_ms() passes `deadline_ms` (0: no deadline; the rest waits for the next
 * tick). Per-incident failures are logged, counted and retried later; the return value is
 * an error only for what stops the whole tick: IRIS_ENOMEM, IRIS_EFENCED (the lease was lost),
 * or a failure of the tick's own queries (IRIS_ECONN, IRIS_EDB…). */
int iris_escalate_tick(struct iris_escalate *e, int64_t deadline_ms,
                       struct iris_escalate_stats *stats, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_ESCALATE_H */
