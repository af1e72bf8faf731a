/*
 * reprioritize.h — Iris's target reprioritisation (TargetReprioritization in
 * src/iris/sender/cache.py): a user who receives more than `count` messages by one mode
 * within `duration` is paged by another mode instead.
 *
 * Layer: core, above db, quota (its shared minute counters), contact and record; used by
 * sender.c right after the priority chain resolved a mode — for incident messages and for
 * out-of-band notifications resolved by priority. (Iris also ran it for notifications with an
 * explicit mode or a category; here an explicit choice is left alone.)
 *
 * Rules are Iris's target_reprioritization rows (target, source mode → destination mode,
 * count 1-255, duration 60-3600 s, used as whole minutes); a rule whose user has no contact
 * for the destination mode is ignored, as Iris ignored it. For each mode on the way, the
 * message is counted in sender_quota_counter (scope target_mode: one row per user, source
 * mode and UTC minute, shared by every sender instance); when the window then holds more than
 * `count` messages the rule fires and the destination mode's own rule is looked at in turn.
 * A rule leading back to a mode already visited is not followed: a loop a → b → a ends on b.
 * (Iris's version of this was dead code under Python 3: its bucket deque was sized by a float.)
 *
 * Each decision is stored per delivery (sender_reprioritization, keyed by the claim) in the
 * transaction that counts it, so a retry, redelivery or takeover of the same claim reuses it
 * and the message is never counted twice. A switch of an Iris message persists message.mode_id
 * (Iris's update_message_mode) and writes one message_changelog row per hop:
 * "mode-change <src> → <dst>", "Changing mode due to reprioritization".
 */
#ifndef IRIS_REPRIORITIZE_H
#define IRIS_REPRIORITIZE_H

#include <stdint.h>

#include "contact.h"
#include "db.h"
#include "err.h"

/* The rules of several users read in one query (a sender reads those of a batch's targets
 * ahead). Caller owns; iris_reprioritize_rules_free. */
struct iris_reprioritize_rules;
int iris_reprioritize_rules_read(struct iris_db *db, const char *const *targets, size_t n,
                                 struct iris_reprioritize_rules **out,
                                 struct iris_err *err) IRIS_WARN_UNUSED;
void iris_reprioritize_rules_free(struct iris_reprioritize_rules *r);

struct iris_reprioritize_request {
  const char *claim_key; /* the delivery being decided (borrowed); its sender_claim row exists */
  const char *target;    /* the user's target name (borrowed) */
  int64_t message_id;    /* the Iris message to update and log, 0 for a notification */
  /* Optional (zero: absent): */
  const struct iris_reprioritize_rules *rules; /* read ahead; users not in it are queried */
  int fresh; /* the claim was created for this delivery: no decision can be stored yet */
};

/*
 * Apply the rules to *contact, the mode (mode and mode_id set) and destination the priority
 * chain resolved for q->target. When rules switch it, *contact is replaced by the user's
 * contact for the final mode (the old destination is freed) and *hops (may be NULL) is the
 * number of rules followed; otherwise *contact is untouched and *hops is 0.
 * Must be called outside a transaction: it runs its own (counting, deciding, recording).
 * Returns IRIS_OK; IRIS_ENOMEM; IRIS_ECONN, IRIS_EBUSY (a deadlock that persisted over three
 * tries), IRIS_EDB — nothing is counted or recorded then, and *contact is untouched.
 */
int iris_reprioritize(struct iris_db *db, const struct iris_reprioritize_request *q,
                      struct iris_contact *contact, int *hops,
                      struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * A batch's decisions at once, for deliveries whose claims were just created (no decision can
 * be stored for them yet). The same rules, counting and records as iris_reprioritize, in one
 * transaction for the whole batch: the messages that meet on one (user, mode) counter are
 * counted by one upsert and the window read once, the k-th of them seeing what it would have
 * seen counted k-th alone; the decisions, changelog rows and message.mode_id updates are
 * multi-row statements. Counters are touched in (user, mode) order, so two senders deciding
 * batches with common users lock them in the same order.
 *
 * Each item's mode/mode_id go in as the priority chain resolved them and come out decided,
 * hops the rules followed (0: the mode stays); `ruled` says a decision was stored. Returns
 * IRIS_OK, or (nothing counted or stored, the items' outputs meaningless) IRIS_ENOMEM,
 * IRIS_ECONN, IRIS_EBUSY (after three tries), IRIS_EDB, IRIS_EDUPLICATE (a claim was decided
 * already): the caller then decides each delivery with iris_reprioritize.
 */
struct iris_reprioritize_item {
  const char *claim_key; /* borrowed */
  const char *target;    /* borrowed */
  int64_t message_id;    /* 0 for a notification */
  char mode[64];         /* in: the priority chain's mode; out: the decided one */
  int64_t mode_id;       /* in and out, as mode */
  int64_t from_mode_id;  /* out: mode_id as it came in */
  int hops;              /* out */
  int ruled;             /* out */
  /* out: the user's contact for the decided mode, as read with the rules (borrowed from the
   * rules object: valid while it lives), or NULL (looked up when applied) */
  const char *destination;
};
int iris_reprioritize_decide_many(struct iris_db *db, const struct iris_reprioritize_rules *rules,
                                  struct iris_reprioritize_item *items, size_t n,
                                  struct iris_err *err) IRIS_WARN_UNUSED;

/* The same inside the caller's transaction (the sender takes a batch's claims and decides
 * their reprioritisation with one commit): no BEGIN, COMMIT or replay here; on an error the
 * caller rolls back, and a deadlock (IRIS_EBUSY) is the caller's to replay. */
int iris_reprioritize_decide_many_in_txn(struct iris_db *db,
                                         const struct iris_reprioritize_rules *rules,
                                         struct iris_reprioritize_item *items, size_t n,
                                         struct iris_err *err) IRIS_WARN_UNUSED;

/* Whether the rules read ahead hold one of target's (for any source mode): 1 yes, 0 no, -1
 * target was not among those read (unknown: iris_reprioritize would query it). */
int iris_reprioritize_rules_has(const struct iris_reprioritize_rules *ahead, const char *target);

/*
 * Carry out a decision made ahead (an item of iris_reprioritize_decide_many with hops > 0,
 * its rules object still alive): *contact becomes the user's contact for the item's mode, as
 * iris_reprioritize does — the one read with the rules, or looked up. *contact stays (IRIS_OK)
 * when the user lost that contact meanwhile. Errors as iris_reprioritize.
 */
int iris_reprioritize_apply(struct iris_db *db, const struct iris_reprioritize_item *item,
                            struct iris_contact *contact, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_REPRIORITIZE_H */
