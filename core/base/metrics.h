/*
 * metrics.h — CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout.
 *
 * Layer: core, low level (err, alloc, buf). Lambda ships stdout to CloudWatch Logs, which
 * turns each EMF line into metrics without any API call (no latency, no throttling).
 * Values are aggregated in memory — counts summed, other units kept as value arrays (up to
 * 100 per metric, as EMF allows) — and written by iris_metrics_flush(), once per
 * invocation, one JSON line per distinct dimension set:
 *   {"_aws":{"Timestamp":1795561499025,"CloudWatchMetrics":[{"Namespace":"Iris/Sender",
 *    "Dimensions":[["Function","Mode"]],"Metrics":[{"Name":"sent","Unit":"Count"}]}]},
 *    "Function":"sender","Mode":"email","sent":3}
 * Not thread-safe: one struct iris_metrics per thread.
 */
#ifndef IRIS_METRICS_H
#define IRIS_METRICS_H

#include <stdio.h>

#include "err.h"

enum iris_metric_unit {
  IRIS_METRIC_COUNT = 0,
  IRIS_METRIC_MILLISECONDS,
  IRIS_METRIC_BYTES,
  IRIS_METRIC_PERCENT,
  IRIS_METRIC_NONE
};

struct iris_metrics; /* opaque */

/* namespace: CloudWatch namespace ("Iris/Sender"); function: value of the "Function"
 * dimension every line carries. stream NULL = stdout (borrowed). */
int iris_metrics_new(const char *namespace_, const char *function, FILE *stream,
                     struct iris_metrics **out, struct iris_err *err) IRIS_WARN_UNUSED;
void iris_metrics_free(struct iris_metrics *m);

/*
 * Record a value. dims: up to 8 extra dimension (name, value) pairs as a NULL-terminated
 * array {"Mode", "email", "Vendor", "smtp", NULL}; may be NULL. Returns IRIS_OK, IRIS_EINVAL
 * (bad name/dimensions) or IRIS_ENOMEM — metrics never fail the caller's work, so callers
 * usually ignore the result (it is also logged once).
 */
int iris_metrics_put(struct iris_metrics *m, const char *name, double value,
                     enum iris_metric_unit unit, const char *const *dims);

/* Write everything recorded since the last flush, then forget it. */
void iris_metrics_flush(struct iris_metrics *m);

#endif /* IRIS_METRICS_H */
