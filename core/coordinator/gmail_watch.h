/*
 * gmail_watch.h — keeping Gmail's push feed of the paging mailbox alive, as Iris's leader did
 * every eight hours (src/iris/bin/sender.py, the Gmail watch renewer): Iris's relay reads that
 * feed to act on e-mail replies ("claim"), and Gmail drops a watch after seven days.
 *
 * Layer: coordinator, above db, lease and clients/google. Used by coordinator.c once per tick.
 * At most once per `every_s` across all coordinators: the schedule is the lease row
 * 'gmail-watch' (lease.h), taken for `every_s` and never released, so it survives invocations.
 * A failed renewal is tried again after `retry_s` (the lease is taken again for that long).
 */
#ifndef IRIS_GMAIL_WATCH_H
#define IRIS_GMAIL_WATCH_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "google.h"
#include "metrics.h"

struct iris_gmail_watch_opts {
  struct iris_google *google;   /* borrowed */
  const char *api;              /* Gmail API base URL, NULL: Google's */
  const char *user;             /* the mailbox ("me": the credentials' own) */
  const char *topic;            /* projects/<project>/topics/<topic> */
  int64_t every_s;              /* default 28800 (8 h, as Iris) */
  int64_t retry_s;              /* default 300 */
  struct iris_metrics *metrics; /* borrowed, may be NULL: gmail_history_id and
                                   gmail_seconds_to_watch_expiration, as Iris reported */
};

/* Renew the watch if it is due. *ran = 1 when this call renewed it (or tried and failed:
 * then the error is returned and the next try is retry_s away). `owner` identifies the
 * caller. IRIS_OK when not due. */
int iris_gmail_watch_run(struct iris_db *db, const char *owner,
                         const struct iris_gmail_watch_opts *opts, int *ran,
                         struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_GMAIL_WATCH_H */
