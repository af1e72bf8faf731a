/*
 * Layer: coordinator. The coordinator function's invocation, as a library: lease, ticks
 * (escalate → aggregate → enqueue → housekeeping), metrics and the JSON summary; and the
 * same ticks run continuously outside Lambda (the local loop, optionally on a compressed
 * clock for trying plans).
 * Used by: lambda/coordinator (the bootstrap) and tests.
 */
#ifndef IRIS_COORDINATOR_H
#define IRIS_COORDINATOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "err.h"
#include "runtime.h"

struct iris_coordinator;

/* Read the coordinator.* and housekeeping.* keys of app->cfg and set up the enqueuer and
 * the aggregation state. `app` is borrowed and must outlive the coordinator. On success
 * *out is owned by the caller (iris_coordinator_free). */
int iris_coordinator_new(struct iris_app *app, struct iris_coordinator **out,
                         struct iris_err *err) IRIS_WARN_UNUSED;
void iris_coordinator_free(struct iris_coordinator *c);

/* One invocation, shaped as an iris_runtime_handler (`data` is the coordinator): runs
 * until the invocation's deadline less coordinator.margin_ms and appends the summary. */
int iris_coordinator_handle(void *data, const struct iris_runtime_invocation *inv,
                            const char *event, size_t len, struct iris_buf *response,
                            struct iris_err *err);

/* The local loop (iris-coordinator --loop). */
struct iris_coordinator_loop_opts {
  /* 1: real time. N > 1: the compressed clock, for trying plans on a test database only —
   * every tick runs on a database clock that advances N times as fast as real time since
   * the loop started, so escalation waits, repeats, aggregation windows (and the redrive
   * timeout) pass N times sooner. Rows the coordinator writes are stamped with that clock,
   * which runs ahead of real time: never point it at a database anything real uses. */
  int64_t clock_scale;
  int64_t max_ticks;           /* > 0: stop after that many ticks; 0: until *stop */
  volatile sig_atomic_t *stop; /* borrowed, may be NULL; non-zero (a signal handler sets
                                   it) ends the loop once the current tick is done */
};

/*
 * Run the invocation's ticks continuously, outside Lambda: take the lease (waiting, one tick
 * interval at a time, while another coordinator holds it — so the lease row still allows one
 * coordinator at a time), tick every coordinator.tick_seconds, renew the lease each tick, and
 * when *stop is set or max_ticks ticks ran, finish the tick, release the lease and append a
 * summary like an invocation's, plus "clock_scale", to `summary` (caller's buffer). A tick
 * that fails is skipped as in an invocation; a lost lease, a lost database connection
 * (IRIS_ECONN, IRIS_ESTATE) or a lock wait on the lease row (IRIS_EBUSY) sends the loop back
 * to taking the lease after one tick interval, as the next scheduled invocation would.
 * Returns IRIS_OK after a clean stop; IRIS_EINVAL for clock_scale < 1 or a negative
 * max_ticks; IRIS_ENOMEM; any other error of the lease (a missing table, a statement the
 * server refuses), with err filled.
 */
int iris_coordinator_loop(struct iris_coordinator *c, const struct iris_coordinator_loop_opts *o,
                          struct iris_buf *summary, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_COORDINATOR_H */
