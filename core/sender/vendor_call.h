/*
 * vendor_call.h — vendor calls in a helper process, each bounded by a time limit.
 *
 * Layer: core/sender, above plugin (the vendor instances) and base; used by sender.c. A
 * plugin's send() runs in our address space in the plugin's own code: one that hangs would hold
 * the invocation past its deadline (and in Lambda the sandbox is frozen or killed with claims
 * left in `sending`), and one that crashes would take the whole batch with it. Neither can be
 * survived inside the process that runs it — a thread stuck in send() cannot be stopped, a
 * SIGSEGV or abort() ends the process — so send() runs in a helper process forked from the
 * sender once it is set up (it inherits the vendor instances, their connections and the plugins'
 * state), and the sender waits for its answer with a time limit:
 *   - an answer in time is the plugin's result, validated by plugin_host as always;
 *   - no answer in time: the helper is killed and the call is RETRYABLE ("did not answer
 *     within N ms"); the vendor may or may not have acted, exactly as with an HTTP timeout;
 *   - the helper dies (a crash in the plugin): the call is RETRYABLE ("plugin crashed");
 * and the next call forks a fresh helper. The helper touches neither the database nor SQS; it
 * dies with the sender (PR_SET_PDEATHSIG). Its log lines carry the request and message ids,
 * and the plugins' metrics are flushed by it after each call (the sender's own pending
 * metrics are flushed before each fork, so the helper never writes them a second time).
 *
 * A pool of such helpers makes a batch's calls concurrently (iris_vendor_calls_send_many):
 * each helper runs one call at a time, so a plugin's send() is never entered twice at once in
 * one process and needs no locking; each helper has its own copy of the plugins' state.
 *
 * Not thread-safe: one sender, one thread.
 */
#ifndef IRIS_VENDOR_CALL_H
#define IRIS_VENDOR_CALL_H

#include <stdint.h>

#include "err.h"
#include "iris_plugin.h"
#include "metrics.h"
#include "plugin_host.h"

struct iris_vendor_calls; /* opaque */

/* *out owned by the caller (iris_vendor_calls_free). `metrics` (may be NULL) is borrowed: the
 * helpers flush the plugins' metrics through their copies of it. Up to `concurrency` helper
 * processes make calls at once (each forked on first use). IRIS_ENOMEM. */
int iris_vendor_calls_new(struct iris_metrics *metrics, size_t concurrency,
                          struct iris_vendor_calls **out, struct iris_err *err) IRIS_WARN_UNUSED;
/* Stops the helper (if any) and waits for it. Accepts NULL. */
void iris_vendor_calls_free(struct iris_vendor_calls *vc);

/*
 * One send() of vendor `v` (borrowed; created before the helper was forked, as every vendor of
 * the dispatcher is) for `msg`, answered within timeout_ms (at least 1). Always fills `res`
 * with a well-formed result: the plugin's, or RETRYABLE with the reason when the helper could
 * not be started, did not answer in time, or died. request_id (may be NULL) stamps the
 * helper's log lines.
 */
void iris_vendor_calls_send(struct iris_vendor_calls *vc, struct iris_vendor *v,
                            const struct iris_plugin_message *msg, int64_t timeout_ms,
                            const char *request_id, struct iris_plugin_result *res);

/* One call of a batch (iris_vendor_calls_send_many). v and msg are borrowed. */
struct iris_vendor_call {
  struct iris_vendor *v;
  const struct iris_plugin_message *msg;
  int64_t timeout_ms;             /* from the moment it starts */
  struct iris_plugin_result *res; /* out: always filled */
  int started;                    /* out: 0 when it was never started (start_by passed) */
  int res_done;                   /* (internal) */
  int64_t elapsed_ms;             /* out: how long it took */
};

/*
 * Make n calls, each on its own helper, as many at once as the pool has helpers; each bounded
 * by its timeout_ms as iris_vendor_calls_send. A call not started by start_by_ms (monotonic
 * ms; 0: no limit) is not started at all (started = 0, res RETRYABLE "not started").
 * Returns when every call has its result.
 */
void iris_vendor_calls_send_many(struct iris_vendor_calls *vc, struct iris_vendor_call *calls,
                                 size_t n, int64_t start_by_ms, const char *request_id);

#endif /* IRIS_VENDOR_CALL_H */
