/*
 * Layer: coordinator. The coordinator function's invocation, as a library: lease, ticks
 * (escalate → aggregate → enqueue → housekeeping), metrics and the JSON summary.
 * Used by: lambda/coordinator (the bootstrap) and tests.
 */
#ifndef IRIS_COORDINATOR_H
#define IRIS_COORDINATOR_H

#include <stddef.h>

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

#endif /* IRIS_COORDINATOR_H */
