/*
 * recipients.h — who a (role, target) names: Iris's role lookups, from its own tables or
 * through LinkedIn Oncall.
 *
 * Layer: core, above db and oncall; used by sender.c for out-of-band notifications and by
 * escalate.c for the coordinator's message creation.
 *
 * Without an Oncall client, from Iris's tables: `user` (the user, if active), `team` (its
 * active members), `manager` (the team's manager), `mailing-list` (its active members); the
 * on-call roles are IRIS_EUNSUPPORTED.
 * With one (oncall.h), as Iris's `oncall` role lookup: `team`, `manager`, `director`,
 * `oncall` and `oncall-<shift type>` come from Oncall, whose answer is cached there for a
 * short time; `user` and `mailing-list` stay on the tables. Oncall's names are kept only
 * where they are active user targets in Iris's `target` table (compared exactly).
 */
#ifndef IRIS_RECIPIENTS_H
#define IRIS_RECIPIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/* Caller-owned result; release with iris_recipients_cleanup. */
struct iris_recipients {
  char **names; /* owned user names, sorted (strcmp for Oncall's, the table collation
                   otherwise), unique */
  size_t n;
};
void iris_recipients_cleanup(struct iris_recipients *r);

struct iris_oncall; /* oncall.h; NULL when no Oncall API is configured */

/* How a lookup is made. */
struct iris_recipients_opts {
  struct iris_oncall *oncall; /* borrowed, may be NULL; it must belong to the calling thread */
  int64_t max_unrolled_users; /* config ldap_lists.max_unrolled_users: a mailing list with
                                  at least this many members is not unrolled (0: no cap) */
};

/*
 * Expand (role, target) into user names; *out is filled (zeroed first) and owned by the
 * caller. The target is looked up with the type the role names (user → user, team and
 * manager → team, mailing-list → mailing-list): a user and a list may share a name.
 * Returns IRIS_OK (n may be 0: an empty team, nobody of Oncall's names active);
 *   IRIS_ENOTFOUND  nobody to page: an unknown target of that type in the tables, a mailing
 *                   list at or over the unrolling cap, or Oncall's 422 (no such team) or empty
 *                   answer — Iris pages the plan's creator then;
 *   IRIS_EINVAL     an unknown role;
 *   IRIS_EUNSUPPORTED an on-call role while `oncall` is NULL;
 *   Oncall failures as iris_oncall_get returns them (IRIS_ETIMEOUT, IRIS_ECONN, IRIS_EAUTH,
 *   IRIS_EHTTP, IRIS_EPARSE, IRIS_ETOOBIG): transient or misconfiguration, not "nobody";
 *   the db.h errors of the table queries; IRIS_ENOMEM.
 */
int iris_recipients_expand(struct iris_db *db, const struct iris_recipients_opts *opts,
                           const char *role, const char *target, struct iris_recipients *out,
                           struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_RECIPIENTS_H */
