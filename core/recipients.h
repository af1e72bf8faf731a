/*
 * recipients.h — who a (role, target) names: Iris's role lookups from its own tables.
 *
 * Layer: core, above db; used by sender.c for out-of-band notifications (and, later, by the
 * coordinator's message creation). Roles: `user` (the user, if active), `team` (its active
 * members), `manager` (the team's manager), `mailing-list` (its active members). The on-call
 * roles need the Oncall API and are answered with IRIS_EUNSUPPORTED here.
 */
#ifndef IRIS_RECIPIENTS_H
#define IRIS_RECIPIENTS_H

#include <stddef.h>

#include "db.h"
#include "err.h"

struct iris_recipients {
  char **names; /* owned user names, sorted, unique */
  size_t n;
};
void iris_recipients_cleanup(struct iris_recipients *r);

struct iris_oncall; /* oncall.h; NULL when no Oncall API is configured */

/* Expand. IRIS_ENOTFOUND for an unknown target, IRIS_EINVAL for an unknown role,
 * IRIS_EUNSUPPORTED for on-call roles when `oncall` is NULL; an empty team gives IRIS_OK
 * with n == 0. */
int iris_recipients_expand(struct iris_db *db, struct iris_oncall *oncall, const char *role,
                           const char *target, struct iris_recipients *out,
                           struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_RECIPIENTS_H */
