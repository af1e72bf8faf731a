/*
 * claim.h — idempotent claims of deliveries in MySQL (table sender_claim, docs/db-schema.md).
 *
 * Layer: core, above db; used by sender.c. SQS delivers at least once and a worker may die
 * at any instruction, so before any vendor call the sender claims the delivery by a key
 * ("m:<message id>", "b:<batch id>", "n:<notification id>:<recipient hash>"). A duplicate
 * delivery finds the claim and sends nothing; a claim whose holder died is taken over once its
 * lease expires; a delivery that failed in a retryable way is taken again by its redelivery.
 * The one window that can send twice — the vendor accepted and the worker died before
 * recording `sent` — is visible as a `sending` claim taken over (takeovers > 0).
 */
#ifndef IRIS_CLAIM_H
#define IRIS_CLAIM_H

#include <stdint.h>

#include "db.h"
#include "err.h"

enum iris_claim_outcome {
  IRIS_CLAIM_TAKEN = 1, /* ours now: go ahead */
  IRIS_CLAIM_SETTLED,   /* sent, suppressed or finally failed: acknowledge, do nothing */
  IRIS_CLAIM_BUSY       /* another live holder, or a retry not due yet: try again later */
};

struct iris_claim {
  const char *key;      /* borrowed for the calls below */
  const char *owner;    /* this worker (Lambda request id + record) */
  const char *kind;     /* "message", "batch", "notification" */
  int64_t message_id;   /* message, or the batch's representative; 0 if none */
  const char *batch_id; /* NULL unless a batch */
  const char *lane;
  const char *sqs_message_id;
  int lease_seconds; /* how long a holder may take before others may take over */
  int due_now;       /* the record's last receive: a retryable failure still waiting for
                           its next_attempt_at is taken now (there will be no later delivery) */
};

/*
 * Take the claim (insert it, or take it over from a dead holder or a due retry).
 * *busy_seconds (may be NULL) gets how long until it could be taken (BUSY only).
 * *attempts gets the vendor calls already made for this key (TAKEN only).
 */
int iris_claim_take(struct iris_db *db, const struct iris_claim *c, enum iris_claim_outcome *out,
                    int *busy_seconds, int *attempts, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * The claims of a whole SQS batch in one statement (and one commit): each of the n claims is
 * inserted if it does not exist yet, then (unless every row was inserted) one query reads who
 * holds them. taken[i] = 1 for the
 * claims this call inserted (ours now, no attempt made yet); 0 for the others — existing,
 * settled, held elsewhere, or refused by a foreign key (a message that is gone) — which the
 * caller takes one by one with iris_claim_take (takeovers, due retries, settled duplicates).
 * Claims with the same key must not appear twice. IRIS_ENOMEM and the db.h errors (taken[]
 * all 0 then).
 */
int iris_claim_take_many(struct iris_db *db, const struct iris_claim *c, size_t n, int *taken,
                         struct iris_err *err) IRIS_WARN_UNUSED;

/* claimed → sending, just before the vendor call (attempts + 1). IRIS_ESTATE if the claim is
 * no longer ours (our lease expired and someone took over): do not call the vendor. */
int iris_claim_sending(struct iris_db *db, const struct iris_claim *c, const char *mode,
                       const char *vendor, struct iris_err *err) IRIS_WARN_UNUSED;

/* iris_claim_sending for n claims (ascending key: the lock order) in one statement and one
 * commit. ok[i] = 1 for the claims now `sending`, 0 for those no longer ours (taken over:
 * do not call the vendor for them). IRIS_ENOMEM and the db.h errors (ok[] all 0 then). */
struct iris_claim_sending_row {
  const struct iris_claim *c;
  const char *mode, *vendor;
};
int iris_claim_sending_many(struct iris_db *db, const struct iris_claim_sending_row *rows,
                            size_t n, int *ok, struct iris_err *err) IRIS_WARN_UNUSED;

/* sending → claimed (attempts - 1) for a claim whose vendor call was not made after all (the
 * batch ran out of time first), so giving it back or retrying it does not count a possible
 * duplicate. IRIS_ESTATE if it is not ours in `sending`. */
int iris_claim_unsend(struct iris_db *db, const struct iris_claim *c,
                      struct iris_err *err) IRIS_WARN_UNUSED;

/* Final states (inside the caller's transaction when it records more). IRIS_ESTATE if the
 * claim is no longer ours. */
int iris_claim_sent(struct iris_db *db, const struct iris_claim *c, const char *mode,
                    const char *vendor, const char *vendor_message_id,
                    struct iris_err *err) IRIS_WARN_UNUSED;
/* iris_claim_sent for n claims in one statement (ascending key: the lock order); all are
 * borrowed. IRIS_ESTATE when not every claim was ours (the caller rolls back and records them
 * one by one to learn which). */
struct iris_claim_sent_row {
  const struct iris_claim *c;
  const char *mode, *vendor, *vendor_message_id;
};
int iris_claim_sent_many(struct iris_db *db, const struct iris_claim_sent_row *rows, size_t n,
                         struct iris_err *err) IRIS_WARN_UNUSED;
int iris_claim_suppressed(struct iris_db *db, const struct iris_claim *c, const char *reason,
                          struct iris_err *err) IRIS_WARN_UNUSED;
/* failed: final=1 gives up; else retry_after_ms sets when a redelivery may take it again. */
int iris_claim_failed(struct iris_db *db, const struct iris_claim *c, int final,
                      int64_t retry_after_ms, const char *error,
                      struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Give back a claim that never reached the vendor (state still `claimed`), after an error of
 * our own or of the infrastructure: failed, retryable after retry_after_ms, with `error` as
 * last_error, so the next delivery takes it at once instead of waiting out the lease. A claim
 * in `sending` is left alone — the vendor may have acted — and so is one no longer ours;
 * both are IRIS_ESTATE.
 */
int iris_claim_release(struct iris_db *db, const struct iris_claim *c, int64_t retry_after_ms,
                       const char *error, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Is the claim in `state` (with final = 1 for "failed"), held by c->owner? For a caller whose
 * commit of that state came back with a lost connection: *yes = 1 means the commit landed.
 * IRIS_ECONN and the other db.h errors when the question cannot be asked.
 */
int iris_claim_in_state(struct iris_db *db, const struct iris_claim *c, const char *state,
                        int *yes, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_CLAIM_H */
