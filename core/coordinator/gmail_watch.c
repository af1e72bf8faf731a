/* gmail_watch.c — renewing Gmail's watch of the paging mailbox (see gmail_watch.h). */
#include "gmail_watch.h"

#include <inttypes.h>

#include "clock.h"
#include "lease.h"

#define IRIS_LOG_MODULE "gmail"
#include "log.h"

int iris_gmail_watch_run(struct iris_db *db, const char *owner,
                         const struct iris_gmail_watch_opts *o, int *ran, struct iris_err *err) {
  int64_t every = o->every_s > 0 ? o->every_s : 28800, retry = o->retry_s > 0 ? o->retry_s : 300;
  int64_t history = 0, expiration = 0;
  int held = 0, rc;
  *ran = 0;
  rc = iris_lease_acquire(db, "gmail-watch", owner, (int)every, &held, NULL, err);
  if (rc || !held)
    return rc;
  *ran = 1;
  rc = iris_gmail_watch(o->google, o->api, o->user ? o->user : "me", o->topic, &history,
                        &expiration, err);
  if (rc) {
    struct iris_err lerr = {0};
    /* Try again soon rather than in `every` seconds: the same owner shortens its lease. */
    if (iris_lease_acquire(db, "gmail-watch", owner, (int)retry, &held, NULL, &lerr))
      IRIS_LOG_WARN("gmail watch: could not schedule the retry: %s", lerr.msg);
    return rc;
  }
  IRIS_LOG_INFO("gmail watch renewed for %s: history id %" PRId64 ", expires in %" PRId64 " s",
                o->user ? o->user : "me", history, (expiration - iris_clock_now_ms()) / 1000);
  if (o->metrics) {
    (void)iris_metrics_put(o->metrics, "gmail_history_id", (double)history, IRIS_METRIC_COUNT,
                           NULL);
    (void)iris_metrics_put(o->metrics, "gmail_seconds_to_watch_expiration",
                           (double)((expiration - iris_clock_now_ms()) / 1000), /* seconds */
                           IRIS_METRIC_NONE, NULL);
  }
  return IRIS_OK;
}
