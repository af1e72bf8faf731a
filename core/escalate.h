/*
 * escalate.h — Iris's escalation: from incidents and plans to message rows.
 *
 * Layer: core, above db and recipients; used by the coordinator on every tick. Each incident
 * is handled in its own transaction (its new messages, their enqueue markers and its step move
 * together), so a crash or a failing incident never re-pages anyone and never stalls the
 * others (Iris ran every incident in one shared try block).
 *
 *   new incidents (current_step 0): step 1's notifications create messages; a plan without
 *     step 1 deactivates the incident, as Iris does;
 *   repeats: a notification whose latest round is older than its `wait` and that has sent
 *     fewer than `repeat` + 1 rounds creates another round (roles are expanded again, so
 *     on-call changes apply);
 *   escalation: once a notification of the current step has sent all its rounds and its wait
 *     has passed, the incident moves to the next step (if the plan has one);
 *   deactivation: an incident on its plan's last step whose final-step notifications have all
 *     sent every round, all rounds delivered and the last wait passed, becomes inactive —
 *     only once everything was actually sent (Iris could deactivate early, §31).
 * Messages go to the users a (role, target) names (recipients.h). When a lookup fails or
 * names nobody, a non-optional notification pages the plan's creator at priority low with
 * Iris's explanation, and the changelog records the target change.
 */
#ifndef IRIS_ESCALATE_H
#define IRIS_ESCALATE_H

#include <stdint.h>

#include "db.h"
#include "err.h"

struct iris_escalate_stats {
  int new_incidents;
  int repeats;
  int escalations;
  int deactivated;
  int messages;
  int tracking;         /* tracking messages created for new incidents */
  int failed_incidents; /* incidents whose transaction failed this tick (retried next tick) */
};

int iris_escalate_tick(struct iris_db *db, struct iris_escalate_stats *stats,
                       struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_ESCALATE_H */
