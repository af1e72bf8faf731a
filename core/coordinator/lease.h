/*
 * lease.h — the coordinator's lease row (sender_lease): at most one coordinator works at a
 * time, whatever the scheduler does (retries, overlaps, manual invokes). Times are the
 * database's clock.
 *
 * Layer: core, above db; used by the coordinator.
 */
#ifndef IRIS_LEASE_H
#define IRIS_LEASE_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/* Take or renew `name` for `owner` for `seconds`. *held = 1 if the caller holds it now;
 * *token (may be NULL) gets the fencing token, which grows on every change of holder. */
int iris_lease_acquire(struct iris_db *db, const char *name, const char *owner, int seconds,
                       int *held, int64_t *token, struct iris_err *err) IRIS_WARN_UNUSED;
/* What a holder's writes are fenced with: the lease name, the holder and the token it got. */
struct iris_lease_fence {
  const char *name;  /* borrowed */
  const char *owner; /* borrowed */
  int64_t token;
};

/* Inside a transaction: confirm `f` still holds its lease and keep it so until the
 * transaction ends (a shared lock on the lease row: a coordinator taking the lease over
 * waits for this transaction, and every later check by the old holder fails). IRIS_EFENCED
 * when the lease moved on — roll back and stop. `f` NULL: nothing to check, IRIS_OK. */
int iris_lease_check(struct iris_db *db, const struct iris_lease_fence *f,
                     struct iris_err *err) IRIS_WARN_UNUSED;

/* A holder id for this process: "<prefix>:<pid>:<16 random hex digits>" in out (NUL-terminated,
 * truncated to size). A process keeps one id for its lifetime, so a warm Lambda sandbox whose
 * last invocation could not release the lease (database down) renews it on the next one
 * instead of waiting for it to expire; another process still cannot. IRIS_EIO without
 * randomness. */
int iris_lease_owner_id(const char *prefix, char *out, size_t size,
                        struct iris_err *err) IRIS_WARN_UNUSED;

/* Give it back (only if `owner` holds it). */
int iris_lease_release(struct iris_db *db, const char *name, const char *owner,
                       struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_LEASE_H */
