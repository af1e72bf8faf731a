/* enqueue.c — due messages, batches and tracking copies onto their lanes (see enqueue.h). */
#include "enqueue.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "contract.h"
#include "sqs.h"

#define IRIS_LOG_MODULE "enqueue"
#include "log.h"

#define PAGE 2000 /* due entries read per page, at most (opts.page) */
#define MAX_PARALLEL 32
#define ADOPT_ROWS 1000  /* API-created messages given a marker per tick */
#define MARK_ROWS 500    /* markers marked enqueued per statement */
#define SETTLE_ROWS 500  /* markers settled per statement */
#define RETRY_FAILED_S 5 /* an entry SQS refused (or a failed call) is due again after this */

enum due_kind { DUE_MESSAGE = 'm', DUE_BATCH = 'b', DUE_TRACKING = 't' };

/* One envelope to send. The SendMessageBatch entry id is kind + id ("m123", "b<hex>", "t7"). */
struct due {
  char entry[40];
  char lane[32];
  int taken;
};

/* One SendMessageBatch call, filled by the main thread, performed by a sending thread. */
struct call {
  const char *url; /* borrowed from the queues object */
  struct iris_sqs_out out[IRIS_SQS_MAX_BATCH];
  struct iris_buf bodies[IRIS_SQS_MAX_BATCH];
  size_t n;
  int rc;
  struct iris_err err;
  struct iris_sqs_batch_result res;
};

struct iris_enqueue {
  struct iris_enqueue_opts opts;          /* borrowed pointers inside */
  struct iris_sqs *clients[MAX_PARALLEL]; /* owned; opened on first use */
};

int iris_enqueue_new(const struct iris_enqueue_opts *opts, struct iris_enqueue **out,
                     struct iris_err *err) {
  struct iris_enqueue *q;
  *out = NULL;
  if (!opts || !json_is_object(opts->queues) || !opts->aws)
    return iris_err_set(err, IRIS_EINVAL,
                        "enqueue: the queues object and AWS options are required");
  if (opts->parallel < 0 || opts->parallel > MAX_PARALLEL)
    return iris_err_set(err, IRIS_EINVAL, "enqueue: parallel must be 1-%d (got %d)", MAX_PARALLEL,
                        opts->parallel);
  if (opts->page != 0 && (opts->page < 10 || opts->page > PAGE))
    return iris_err_set(err, IRIS_EINVAL, "enqueue: page must be 10-%d (got %d)", PAGE, opts->page);
  q = iris_calloc(1, sizeof *q);
  if (!q)
    return iris_err_set(err, IRIS_ENOMEM, "enqueue: handle");
  q->opts = *opts;
  if (q->opts.parallel == 0)
    q->opts.parallel = 4;
  if (q->opts.page == 0)
    q->opts.page = PAGE;
  *out = q;
  return IRIS_OK;
}

void iris_enqueue_free(struct iris_enqueue *q) {
  int i;
  if (!q)
    return;
  for (i = 0; i < MAX_PARALLEL; i++)
    iris_sqs_free(q->clients[i]);
  iris_free(q);
}

/* ---- sending threads ------------------------------------------------------------------------ */

struct flight;

struct worker {
  struct flight *f;
  struct iris_sqs *sqs;
};

/* One page's calls on their way: up to `parallel` sending threads take the calls one by one
 * while the calling thread goes on with the database (reading the next page, marking the
 * previous one). Must not move between flight_start and flight_wait (the threads point into
 * it). */
struct flight {
  struct call *calls;
  size_t ncalls, next;
  pthread_mutex_t lock;
  struct worker workers[MAX_PARALLEL];
  pthread_t threads[MAX_PARALLEL];
  int started[MAX_PARALLEL];
  size_t nworkers;
};

static void *send_calls(void *arg) {
  struct worker *w = arg;
  for (;;) {
    struct call *c;
    pthread_mutex_lock(&w->f->lock);
    c = w->f->next < w->f->ncalls ? &w->f->calls[w->f->next++] : NULL;
    pthread_mutex_unlock(&w->f->lock);
    if (!c)
      return NULL;
    c->rc = iris_sqs_send_batch(w->sqs, c->url, c->out, c->n, &c->res, &c->err);
  }
}

/* Start sending the n calls, up to `parallel` at once, on threads of their own. */
static void flight_start(struct iris_enqueue *q, struct flight *f, struct call *calls, size_t n) {
  size_t want = n < (size_t)q->opts.parallel ? n : (size_t)q->opts.parallel, t;
  f->calls = calls;
  f->ncalls = n;
  f->next = 0;
  f->nworkers = 0;
  pthread_mutex_init(&f->lock, NULL);
  for (t = 0; t < want; t++) {
    struct iris_err cerr = {0};
    if (!q->clients[t] && iris_sqs_new(q->opts.aws, &q->clients[t], &cerr) != IRIS_OK) {
      IRIS_LOG_ERR("enqueue: SQS client %zu: %s", t, cerr.msg);
      break;
    }
    f->workers[f->nworkers].f = f;
    f->workers[f->nworkers].sqs = q->clients[t];
    f->nworkers++;
  }
  for (t = 0; t < f->nworkers; t++)
    f->started[t] = pthread_create(&f->threads[t], NULL, send_calls, &f->workers[t]) == 0;
}

/* Wait until every call of the flight has its answer. Calls no thread could take (no thread
 * started) are sent by the calling thread; calls without any SQS client fail. */
static void flight_wait(struct flight *f) {
  size_t t;
  int any = 0;
  for (t = 0; t < f->nworkers; t++)
    if (f->started[t]) {
      pthread_join(f->threads[t], NULL);
      any = 1;
    }
  if (!any && f->nworkers)
    (void)send_calls(&f->workers[0]);
  pthread_mutex_destroy(&f->lock);
  for (t = f->next; t < f->ncalls; t++) /* no client could be opened */
    f->calls[t].rc = iris_err_set(&f->calls[t].err, IRIS_ECONN, "no SQS client");
}

/* ---- recording outcomes --------------------------------------------------------------------- */

/* One accepted message or tracking copy: its id and the SQS MessageId (borrowed). */
struct accepted {
  int64_t id;
  const char *sqs_id;
};

static int by_id(const void *a, const void *b) {
  int64_t x = ((const struct accepted *)a)->id, y = ((const struct accepted *)b)->id;
  return x < y ? -1 : x > y;
}

/* The accepted entries of `kind` over all `calls` of a page (ok[] of successful calls), sorted
 * by id, marked enqueued with one UPDATE (a CASE for the SQS ids) per MARK_ROWS rows: a page
 * costs a few statements and commits, and the markers are locked in ascending order (the lock
 * order in docs/coordinator.md). */
static int mark_enqueued(struct iris_db *db, char kind, const struct call *calls, size_t ncalls,
                         int64_t redrive, struct iris_err *err) {
  const char *table = kind == DUE_TRACKING ? "sender_tracking" : "sender_enqueue";
  const char *key = kind == DUE_TRACKING ? "incident_id" : "message_id";
  struct iris_db_param *p = iris_calloc(3 * MARK_ROWS + 1, sizeof *p);
  struct accepted *acc = NULL;
  struct iris_buf sql;
  size_t i, k, n = 0, total = 0, done;
  int rc = IRIS_OK;
  for (i = 0; i < ncalls; i++)
    total += calls[i].rc ? 0 : calls[i].res.nok;
  acc = iris_calloc(total + 1, sizeof *acc);
  if (!p || !acc) {
    iris_free(p);
    iris_free(acc);
    return iris_err_set(err, IRIS_ENOMEM, "enqueue: marker updates");
  }
  for (i = 0; i < ncalls; i++)
    for (k = 0; !calls[i].rc && k < calls[i].res.nok; k++)
      if (calls[i].res.ok[k].id[0] == kind) {
        acc[n].id = strtoll(calls[i].res.ok[k].id + 1, NULL, 10);
        acc[n++].sqs_id = calls[i].res.ok[k].message_id;
      }
  qsort(acc, n, sizeof *acc, by_id);
  iris_buf_init(&sql, 0);
  for (done = 0; done < n && rc == IRIS_OK; done += k) {
    size_t m = n - done < MARK_ROWS ? n - done : MARK_ROWS, np = 0;
    iris_buf_reset(&sql);
    rc = iris_buf_appendf(&sql,
                          "UPDATE %s SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
                          " attempts = attempts + 1, last_error = NULL,"
                          " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
                          " sqs_message_id = CASE %s",
                          table, key);
    p[np++] = IRIS_DB_I64(redrive);
    for (k = 0; k < m && rc == IRIS_OK; k++) {
      rc = iris_buf_appends(&sql, " WHEN ? THEN ?");
      p[np++] = IRIS_DB_I64(acc[done + k].id);
      p[np++] = IRIS_DB_STR(acc[done + k].sqs_id);
    }
    if (rc == IRIS_OK)
      rc = iris_buf_appendf(&sql, " END WHERE state IN ('pending','enqueued') AND %s IN (", key);
    for (k = 0; k < m && rc == IRIS_OK; k++) {
      rc = iris_buf_appends(&sql, k ? ",?" : "?");
      p[np++] = IRIS_DB_I64(acc[done + k].id);
    }
    if (rc == IRIS_OK)
      rc = iris_buf_appendf(&sql, ") ORDER BY %s", key);
    if (rc)
      rc = iris_err_set(err, rc, "enqueue: building the marker update");
    else
      rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, np, NULL, err);
    k = m;
  }
  iris_buf_cleanup(&sql);
  iris_free(acc);
  iris_free(p);
  return rc;
}

static int mark_batch(struct iris_db *db, const char *batch_id, const char *sqs_id,
                      int64_t redrive, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(sqs_id), IRIS_DB_I64(redrive), IRIS_DB_STR(batch_id)};
  return iris_db_exec(db, 0,
                      "UPDATE sender_enqueue SET state = 'enqueued', enqueued_at = UTC_TIMESTAMP(3),"
                      " sqs_message_id = ?, attempts = attempts + 1, last_error = NULL,"
                      " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
                      " WHERE batch_id = ? AND state IN ('pending','enqueued')",
                      p, 3, NULL, err);
}

/* An entry that did not go out: due again shortly, with the reason kept on its row. */
static int mark_failed(struct iris_db *db, const char *entry, const char *why,
                       struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(why), IRIS_DB_I64(RETRY_FAILED_S),
                              entry[0] == DUE_BATCH ? IRIS_DB_STR(entry + 1)
                                                    : IRIS_DB_I64(strtoll(entry + 1, NULL, 10))};
  const char *sql =
      entry[0] == DUE_BATCH
          ? "UPDATE sender_enqueue SET attempts = attempts + 1, last_error = LEFT(?, 1024),"
            " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE batch_id = ?"
            " AND state IN ('pending','enqueued')"
      : entry[0] == DUE_TRACKING
          ? "UPDATE sender_tracking SET attempts = attempts + 1, last_error = LEFT(?, 1024),"
            " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE incident_id = ?"
            " AND state IN ('pending','enqueued')"
          : "UPDATE sender_enqueue SET attempts = attempts + 1, last_error = LEFT(?, 1024),"
            " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE message_id = ?"
            " AND state IN ('pending','enqueued')";
  return iris_db_exec(db, 0, sql, p, 3, NULL, err);
}

static int record(struct iris_db *db, struct call *c, int64_t redrive,
                  struct iris_enqueue_stats *st, struct iris_err *err) {
  size_t k;
  int rc = IRIS_OK;
  st->calls++;
  if (c->rc) {
    /* SQS down or refusing the call: the markers stay due (shortly) and say why. */
    IRIS_LOG_ERR("SendMessageBatch to %s failed: %s; %zu entr%s retried in %d s", c->url,
                 c->err.msg, c->n, c->n == 1 ? "y" : "ies", RETRY_FAILED_S);
    st->failed += (int)c->n;
    for (k = 0; k < c->n && rc == IRIS_OK; k++)
      rc = mark_failed(db, c->out[k].id, c->err.msg, err);
    return rc;
  }
  /* Accepted messages and tracking copies are marked for the whole page (page_record). */
  for (k = 0; k < c->res.nok && rc == IRIS_OK; k++)
    if (c->res.ok[k].id[0] == DUE_BATCH)
      rc = mark_batch(db, c->res.ok[k].id + 1, c->res.ok[k].message_id, redrive, err);
  st->enqueued += (int)c->res.nok;
  for (k = 0; k < c->res.nfailed && rc == IRIS_OK; k++) {
    const struct iris_sqs_entry_result *f = &c->res.failed[k];
    char why[600];
    snprintf(why, sizeof why, "%s: %s", f->code ? f->code : "?", f->message ? f->message : "");
    IRIS_LOG_ERR("SQS refused entry %s: %s", f->id, why);
    rc = mark_failed(db, f->id, why, err);
    st->failed++;
  }
  return rc;
}

/* ---- collecting and encoding ---------------------------------------------------------------- */

/* The envelope of one entry; a batch lists its members still waiting to be sent.
 * IRIS_ENOTFOUND: a batch whose members were all settled meanwhile (nothing to send). */
static int encode(struct iris_db *db, const char *entry, struct iris_buf *out,
                  struct iris_err *err) {
  int rc;
  if (entry[0] == DUE_MESSAGE)
    rc = iris_envelope_encode_message(strtoll(entry + 1, NULL, 10), out);
  else if (entry[0] == DUE_TRACKING)
    rc = iris_envelope_encode_tracking(strtoll(entry + 1, NULL, 10), out);
  else {
    struct iris_db_rows *rows = NULL;
    struct iris_db_param p[] = {IRIS_DB_STR(entry + 1)};
    int64_t *ids = NULL;
    size_t n = 0;
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT message_id FROM sender_enqueue WHERE batch_id = ?"
                       " AND state IN ('pending','enqueued') ORDER BY message_id",
                       p, 1, &rows, err);
    if (rc)
      return rc;
    ids = iris_calloc(iris_db_rows_count(rows) + 1, sizeof *ids);
    if (!ids)
      rc = iris_err_set(err, IRIS_ENOMEM, "enqueue: batch members");
    while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW)
      rc = iris_db_get_i64(rows, 0, &ids[n++], err);
    iris_db_rows_free(rows);
    if (rc == IRIS_OK)
      rc = n ? iris_envelope_encode_batch(entry + 1, ids, n, out) : IRIS_ENOTFOUND;
    iris_free(ids);
    return rc;
  }
  return rc ? iris_err_set(err, rc, "enqueue: envelope of %s", entry) : IRIS_OK;
}

/* Whether entry is one of the n sorted entries of `in_flight` (NULL: none). */
static int flying(const char *const *in_flight, size_t n, const char *entry) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(in_flight[mid], entry);
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

/* Append up to `keep` rows of `sql` (columns: id text, mode name; it reads `limit` rows at
 * most) to the due list as `kind`, leaving out the entries in flight (sorted, nfly of them:
 * the page still being sent, whose markers are not marked yet). *full = 1 when more may be
 * due (the query filled its limit, or rows were left over). */
static int collect(struct iris_db *db, const char *sql, char kind, int64_t limit, size_t keep,
                   const char *const *in_flight, size_t nfly, struct due **due, size_t *n,
                   size_t *cap, int *full, struct iris_err *err) {
  size_t kept = 0;
  struct iris_db_rows *rows = NULL;
  struct iris_db_param p[] = {IRIS_DB_I64(limit)};
  int rc = iris_db_query(db, IRIS_DB_IDEMPOTENT, sql, p, 1, &rows, err);
  if (rc)
    return rc;
  *full = (int64_t)iris_db_rows_count(rows) >= limit;
  if (*n + iris_db_rows_count(rows) + 1 > *cap) {
    size_t want = *n + iris_db_rows_count(rows) + 1;
    struct due *bigger = iris_realloc(*due, want * sizeof *bigger);
    if (!bigger) {
      iris_db_rows_free(rows);
      return iris_err_set(err, IRIS_ENOMEM, "enqueue: due list");
    }
    *due = bigger;
    *cap = want;
  }
  while (rc == IRIS_OK && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    const char *id = NULL, *mode = NULL;
    struct due *d = &(*due)[*n];
    rc = iris_db_get_str(rows, 0, &id, NULL, err);
    if (rc == IRIS_OK)
      rc = iris_db_get_str(rows, 1, &mode, NULL, err);
    if (rc == IRIS_OK) {
      snprintf(d->entry, sizeof d->entry, "%c%s", kind, id);
      if (flying(in_flight, nfly, d->entry))
        continue;
      if (kept == keep) {
        *full = 1;
        break;
      }
      kept++;
      snprintf(d->lane, sizeof d->lane, "%s", iris_contract_lane(mode));
      d->taken = 0;
      (*n)++;
    }
  }
  iris_db_rows_free(rows);
  return rc;
}

/* Group the due entries into calls of up to 10 per lane and encode their envelopes.
 * *calls (owned, with their bodies; free_calls) holds *ncalls calls. */
static int build_calls(struct iris_enqueue *q, struct iris_db *db, struct due *due, size_t n,
                       struct call **calls, size_t *ncalls, struct iris_enqueue_stats *st,
                       struct iris_err *err) {
  size_t i, c = 0;
  int rc = IRIS_OK;
  *ncalls = 0;
  *calls = iris_calloc(n + 1, sizeof **calls);
  if (!*calls)
    return iris_err_set(err, IRIS_ENOMEM, "enqueue: calls");
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    struct call *call = &(*calls)[c];
    const char *lane = due[i].lane, *url;
    size_t k;
    if (due[i].taken)
      continue;
    url = json_string_value(json_object_get(q->opts.queues, lane));
    if (!url)
      url = json_string_value(json_object_get(q->opts.queues, "notifications"));
    if (!url) {
      int waiting = 0;
      for (k = i; k < n; k++)
        if (!due[k].taken && strcmp(due[k].lane, lane) == 0) {
          due[k].taken = 1;
          waiting++;
        }
      IRIS_LOG_ERR("no queue configured for lane %s (queues.%s or queues.notifications);"
                   " %d entr%s wait",
                   lane, lane, waiting, waiting == 1 ? "y" : "ies");
      st->failed += waiting;
      continue;
    }
    call->url = url;
    for (k = i; k < n && call->n < IRIS_SQS_MAX_BATCH && rc == IRIS_OK; k++) {
      struct iris_buf *body = &call->bodies[call->n];
      if (due[k].taken || strcmp(due[k].lane, lane) != 0)
        continue;
      due[k].taken = 1;
      iris_buf_init(body, 0);
      rc = encode(db, due[k].entry, body, err);
      if (rc) {
        iris_buf_cleanup(body);
        if (rc == IRIS_ENOTFOUND) /* a batch whose members were all settled meanwhile */
          rc = IRIS_OK;
        continue;
      }
      call->out[call->n].id = due[k].entry;
      call->out[call->n].body = iris_buf_ptr(body);
      call->n++;
    }
    if (call->n)
      c++;
  }
  *ncalls = c;
  return rc;
}

static void free_calls(struct call *calls, size_t n) {
  size_t i, k;
  for (i = 0; calls && i < n; i++) {
    for (k = 0; k < calls[i].n; k++)
      iris_buf_cleanup(&calls[i].bodies[k]);
    iris_sqs_batch_result_cleanup(&calls[i].res);
  }
  iris_free(calls);
}

/* One page of due entries: read and encoded by the calling thread, then sent (a flight)
 * while the calling thread reads the next page and marks the previous one. */
struct page {
  struct due *due; /* owned: the entries read */
  size_t n;
  struct call *calls; /* owned (free_calls): their SendMessageBatch calls */
  size_t ncalls;
  const char **sorted; /* owned array of the entries sent (borrowed strings), sorted */
  size_t nsorted;
  int more; /* a query filled its limit: there may be more due */
  struct flight flight;
};

static int by_entry(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void page_free(struct page *pg) {
  free_calls(pg->calls, pg->ncalls);
  iris_free(pg->due);
  iris_free(pg->sorted);
  memset(pg, 0, sizeof *pg);
}

/* Read and encode the next page of due entries, leaving out those of `in_flight` (NULL: no
 * page is being sent). Each query reads a page more than the page in flight holds, so a full
 * page of new entries remains after leaving those out. */
static int page_read(struct iris_enqueue *q, struct iris_db *db, const struct page *in_flight,
                     struct page *pg, struct iris_enqueue_stats *st, struct iris_err *err) {
  const char *const *fly = in_flight ? in_flight->sorted : NULL;
  size_t nfly = in_flight ? in_flight->nsorted : 0, cap = 0, i, k;
  int64_t limit = q->opts.page + (int64_t)nfly;
  int full = 0, rc;
  memset(pg, 0, sizeof *pg);
  /* Due: single messages whose lane is decided (aggregate.h), batches, tracking copies. */
  rc = collect(db,
               "SELECT CAST(message_id AS CHAR), lane FROM sender_enqueue"
               " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
               " AND lane IS NOT NULL AND batch_id IS NULL ORDER BY next_attempt_at LIMIT ?",
               DUE_MESSAGE, limit, (size_t)q->opts.page, fly, nfly, &pg->due, &pg->n, &cap, &full,
               err);
  pg->more = full;
  if (rc == IRIS_OK)
    rc = collect(db,
                 "SELECT batch_id, MIN(lane) FROM sender_enqueue"
                 " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
                 " AND batch_id IS NOT NULL GROUP BY batch_id ORDER BY MIN(next_attempt_at) LIMIT ?",
                 DUE_BATCH, limit, (size_t)q->opts.page, fly, nfly, &pg->due, &pg->n, &cap, &full,
                 err);
  if (rc == IRIS_OK) {
    rc = collect(db,
                 "SELECT CAST(incident_id AS CHAR), mode FROM sender_tracking"
                 " WHERE state IN ('pending','enqueued') AND next_attempt_at <= UTC_TIMESTAMP(3)"
                 " ORDER BY next_attempt_at LIMIT ?",
                 DUE_TRACKING, limit, (size_t)q->opts.page, fly, nfly, &pg->due, &pg->n, &cap,
                 &full, err);
    pg->more |= full;
  }
  if (rc == IRIS_OK && pg->n)
    rc = build_calls(q, db, pg->due, pg->n, &pg->calls, &pg->ncalls, st, err);
  if (rc == IRIS_OK && pg->ncalls)
    st->pages++;
  for (i = 0; rc == IRIS_OK && i < pg->ncalls; i++)
    pg->nsorted += pg->calls[i].n;
  if (rc == IRIS_OK && pg->nsorted) {
    pg->sorted = iris_calloc(pg->nsorted, sizeof *pg->sorted);
    if (!pg->sorted)
      rc = iris_err_set(err, IRIS_ENOMEM, "enqueue: entries in flight");
    for (i = 0, k = 0; rc == IRIS_OK && i < pg->ncalls; i++) {
      size_t e;
      for (e = 0; e < pg->calls[i].n; e++)
        pg->sorted[k++] = pg->calls[i].out[e].id;
    }
    if (rc == IRIS_OK)
      qsort(pg->sorted, pg->nsorted, sizeof *pg->sorted, by_entry);
  }
  return rc;
}

/* Mark what SQS accepted of a page that was sent, and count what it refused. */
static int page_record(struct iris_enqueue *q, struct iris_db *db, struct page *pg,
                       struct iris_enqueue_stats *st, struct iris_err *err) {
  size_t i;
  int rc = mark_enqueued(db, DUE_MESSAGE, pg->calls, pg->ncalls, q->opts.redrive_seconds, err);
  if (rc == IRIS_OK)
    rc = mark_enqueued(db, DUE_TRACKING, pg->calls, pg->ncalls, q->opts.redrive_seconds, err);
  for (i = 0; i < pg->ncalls && rc == IRIS_OK; i++)
    rc = record(db, &pg->calls[i], q->opts.redrive_seconds, st, err);
  return rc;
}

/* Send everything due, page after page, pipelined: while one page's calls are in flight the
 * calling thread reads and encodes the next page (leaving out the entries in flight, whose
 * markers are not marked yet), then starts it and marks the page that landed. SQS is idle
 * only while the first page is read and the last one marked. */
static int send_due(struct iris_enqueue *q, struct iris_db *db, int64_t deadline_ms,
                    struct iris_enqueue_stats *st, struct iris_err *err) {
  struct page pages[2], *cur = &pages[0], *nxt = &pages[1], *swap;
  int64_t t = iris_clock_mono_ms(), now;
  int rc;
  memset(pages, 0, sizeof pages);
  rc = page_read(q, db, NULL, cur, st, err);
  now = iris_clock_mono_ms();
  st->ms_collect += now - t;
  if (rc != IRIS_OK || !cur->ncalls) {
    page_free(cur);
    return rc;
  }
  flight_start(q, &cur->flight, cur->calls, cur->ncalls);
  for (;;) {
    struct iris_err rerr = {0};
    int rrc = IRIS_OK;
    t = iris_clock_mono_ms();
    if (cur->more && !(deadline_ms > 0 && t >= deadline_ms)) {
      rrc = page_read(q, db, cur, nxt, st, &rerr);
      if (rrc != IRIS_OK)
        page_free(nxt); /* (reported once the page in flight is recorded) */
    }
    now = iris_clock_mono_ms();
    st->ms_collect += now - t;
    flight_wait(&cur->flight);
    t = iris_clock_mono_ms();
    st->ms_send += t - now;
    if (nxt->ncalls)
      flight_start(q, &nxt->flight, nxt->calls, nxt->ncalls);
    rc = page_record(q, db, cur, st, err);
    now = iris_clock_mono_ms();
    st->ms_mark += now - t;
    page_free(cur);
    if (rc == IRIS_OK && rrc != IRIS_OK)
      rc = iris_err_set(err, rrc, "%s", rerr.msg);
    if (!nxt->ncalls) {
      page_free(nxt);
      return rc;
    }
    if (rc != IRIS_OK) {
      /* What SQS accepts of the page in flight stays unmarked: due again after the error,
       * and the sender's claim makes the copy harmless. */
      flight_wait(&nxt->flight);
      page_free(nxt);
      return rc;
    }
    swap = cur;
    cur = nxt;
    nxt = swap;
  }
}

/* Active messages without a marker (the API created them) get one, ADOPT_ROWS per call. As in
 * settle_inactive(), the candidates come from a plain read and the markers are written by a
 * multi-row INSERT, so no `message` row is share-locked while a sender may be recording it. */
static int adopt_api_messages(struct iris_db *db, int *adopted, struct iris_err *err) {
  enum { COLS = 5 };
  struct iris_db_param *p = iris_calloc(ADOPT_ROWS * COLS + 1, sizeof *p);
  struct iris_db_rows *rows = NULL;
  struct iris_db_exec_info info = {0};
  struct iris_buf sql;
  size_t n = 0, k;
  int rc;
  *adopted = 0;
  if (!p)
    return iris_err_set(err, IRIS_ENOMEM, "enqueue: adopting messages");
  iris_buf_init(&sql, 0);
  p[0] = IRIS_DB_I64(ADOPT_ROWS);
  rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                     "SELECT m.id, m.plan_id, m.application_id, m.priority_id, m.target_id"
                     " FROM message m LEFT JOIN sender_enqueue e ON e.message_id = m.id"
                     " WHERE m.active = 1 AND m.sent IS NULL AND e.message_id IS NULL"
                     " ORDER BY m.id LIMIT ?",
                     p, 1, &rows, err);
  if (rc == IRIS_OK)
    rc = iris_buf_appends(&sql,
                          "INSERT IGNORE INTO sender_enqueue (message_id, state, plan_id,"
                          " application_id, priority_id, target_id, next_attempt_at) VALUES ");
  while (rc == IRIS_OK && n < ADOPT_ROWS && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
    for (k = 0; k < COLS && rc == IRIS_OK; k++) {
      int64_t v = 0;
      if (iris_db_is_null(rows, k))
        p[n * COLS + k] = IRIS_DB_NULL;
      else if ((rc = iris_db_get_i64(rows, k, &v, err)) == IRIS_OK)
        p[n * COLS + k] = IRIS_DB_I64(v);
    }
    if (rc == IRIS_OK)
      rc = iris_buf_appends(&sql, n ? ",(?, 'pending', ?, ?, ?, ?, UTC_TIMESTAMP(3))"
                                    : "(?, 'pending', ?, ?, ?, ?, UTC_TIMESTAMP(3))");
    n++;
  }
  iris_db_rows_free(rows);
  if (rc == IRIS_OK && n)
    rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, n * COLS, &info, err);
  if (rc == IRIS_OK)
    *adopted = (int)info.affected_rows;
  iris_buf_cleanup(&sql);
  iris_free(p);
  return rc;
}

/* Markers of messages that went inactive or were sent are settled, SETTLE_ROWS at a time.
 * The candidates come from a plain (non-locking) read, and only the markers are updated, by
 * primary key in ascending order: this statement locks no `message` row, so it cannot close a
 * cycle with a sender that holds a message and waits for its marker (the lock order in
 * docs/coordinator.md). The update re-checks the state, so a marker the sender settled in
 * between is left as the sender wrote it. */
static int settle_inactive(struct iris_db *db, int *settled, struct iris_err *err) {
  struct iris_db_param p[SETTLE_ROWS + 1];
  struct iris_buf sql;
  size_t n = SETTLE_ROWS;
  int rc = IRIS_OK;
  iris_buf_init(&sql, 0);
  *settled = 0;
  while (rc == IRIS_OK && n == SETTLE_ROWS) {
    struct iris_db_rows *rows = NULL;
    struct iris_db_exec_info info = {0};
    p[0] = IRIS_DB_I64(SETTLE_ROWS);
    rc = iris_db_query(db, IRIS_DB_IDEMPOTENT,
                       "SELECT e.message_id FROM sender_enqueue e JOIN message m ON m.id = e.message_id"
                       " WHERE e.state IN ('pending','enqueued') AND (m.active = 0 OR m.sent IS NOT NULL)"
                       " ORDER BY e.message_id LIMIT ?",
                       p, 1, &rows, err);
    if (rc)
      break;
    n = 0;
    iris_buf_reset(&sql);
    rc = iris_buf_appends(&sql,
                          "UPDATE sender_enqueue SET state = 'done', done_at = UTC_TIMESTAMP(3),"
                          " next_attempt_at = NULL WHERE state IN ('pending','enqueued')"
                          " AND message_id IN (");
    while (rc == IRIS_OK && n < SETTLE_ROWS && (rc = iris_db_next(rows, err)) == IRIS_DB_ROW) {
      int64_t id = 0;
      if ((rc = iris_db_get_i64(rows, 0, &id, err)) == IRIS_OK)
        rc = iris_buf_appends(&sql, n ? ",?" : "?");
      p[n++] = IRIS_DB_I64(id);
    }
    iris_db_rows_free(rows);
    if (rc == IRIS_OK)
      rc = iris_buf_appends(&sql, ") ORDER BY message_id");
    if (rc == IRIS_OK && n)
      rc = iris_db_exec(db, 0, iris_buf_ptr(&sql), p, n, &info, err);
    if (rc == IRIS_OK)
      *settled += (int)info.affected_rows;
  }
  iris_buf_cleanup(&sql);
  return rc;
}

int iris_enqueue_tick(struct iris_enqueue *q, struct iris_db *db, int64_t deadline_ms,
                      struct iris_enqueue_stats *st, struct iris_err *err) {
  int rc;
  int64_t t0 = iris_clock_mono_ms();

  memset(st, 0, sizeof *st);
  /* Messages the API created (no marker yet) join the queue's bookkeeping. */
  rc = adopt_api_messages(db, &st->adopted, err);
  if (rc)
    return rc;
  /* Claimed incidents deactivate their messages: nothing left to send for those markers. */
  rc = settle_inactive(db, &st->settled, err);
  st->ms_upkeep = iris_clock_mono_ms() - t0;
  if (rc)
    return rc;
  if (deadline_ms > 0 && iris_clock_mono_ms() >= deadline_ms)
    return IRIS_OK;
  return send_due(q, db, deadline_ms, st, err);
}
