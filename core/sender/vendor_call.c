/* vendor_call.c — vendor calls in a helper process, bounded in time (see vendor_call.h). */
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#include "vendor_call.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"

#define IRIS_LOG_MODULE "vendor_call"
#include "log.h"

/* The largest request: a rendered page is bounded by sender.max_body_chars (10 M at most). */
#define MAX_REQUEST ((size_t)64 * 1024 * 1024)
#define NO_STRING 0xffffffffu

/* One helper process of the pool. */
struct helper {
  pid_t pid; /* 0 when none is running */
  int fd;    /* our end of its socket, -1 when none */
};

struct iris_vendor_calls {
  struct iris_metrics *metrics; /* borrowed */
  struct helper *h;             /* nh helpers (owned), each started on first use */
  size_t nh;
};

/* ---- the wire: [u32 length][payload]; strings as u32 length (with the NUL) + bytes ------ */

static int put(struct iris_buf *b, const void *p, size_t n) { return iris_buf_append(b, p, n); }

static int put_str(struct iris_buf *b, const char *s) {
  uint32_t n = s ? (uint32_t)strlen(s) + 1 : NO_STRING;
  int rc = put(b, &n, sizeof n);
  return rc || !s ? rc : put(b, s, n);
}

static int put_strs(struct iris_buf *b, const char *const *v, size_t n) {
  uint32_t count = v ? (uint32_t)n : 0, i;
  int rc = put(b, &count, sizeof count);
  for (i = 0; i < count && rc == IRIS_OK; i++)
    rc = put_str(b, v[i]);
  return rc;
}

static int encode(struct iris_buf *b, struct iris_vendor *v, const struct iris_plugin_message *m,
                  const char *request_id) {
  uint64_t vp = (uint64_t)(uintptr_t)v;
  int64_t incident = m->incident_id;
  uint32_t nextra = m->extra ? (uint32_t)m->nextra : 0, i, len = 0;
  int rc = put(b, &len, sizeof len); /* patched below */
  const char *strs[] = {request_id,    m->message_id,  m->mode,     m->subject, m->body,
                        m->email_html, m->application, m->priority, m->plan,    m->target};
  size_t k;
  if (rc == IRIS_OK)
    rc = put(b, &vp, sizeof vp);
  if (rc == IRIS_OK)
    rc = put(b, &incident, sizeof incident);
  for (k = 0; k < sizeof strs / sizeof strs[0] && rc == IRIS_OK; k++) /* the order of serve() */
    rc = put_str(b, strs[k]);
  if (rc == IRIS_OK)
    rc = put_strs(b, m->destinations, m->ndestinations);
  if (rc == IRIS_OK)
    rc = put_strs(b, m->bcc, m->nbcc);
  if (rc == IRIS_OK)
    rc = put(b, &nextra, sizeof nextra);
  for (i = 0; i < nextra && rc == IRIS_OK; i++) {
    rc = put_str(b, m->extra[i].key);
    if (rc == IRIS_OK)
      rc = put_str(b, m->extra[i].value);
  }
  if (rc == IRIS_OK) {
    len = (uint32_t)(b->len - sizeof len);
    memcpy(b->ptr, &len, sizeof len);
  }
  return rc;
}

/* The helper's reading of a request it received whole (p, n): pointers into it. */
struct reader {
  const char *p;
  size_t n;
  int bad;
};

static void get(struct reader *r, void *out, size_t n) {
  if (r->bad || r->n < n) {
    r->bad = 1;
    memset(out, 0, n);
    return;
  }
  memcpy(out, r->p, n);
  r->p += n;
  r->n -= n;
}

static const char *get_str(struct reader *r) {
  uint32_t n = 0;
  const char *s;
  get(r, &n, sizeof n);
  if (r->bad || n == NO_STRING)
    return NULL;
  if (n == 0 || r->n < n || r->p[n - 1] != '\0') {
    r->bad = 1;
    return NULL;
  }
  s = r->p;
  r->p += n;
  r->n -= n;
  return s;
}

/* An array of strings; *out owned by the caller (iris_free). */
static size_t get_strs(struct reader *r, const char ***out) {
  uint32_t n = 0, i;
  get(r, &n, sizeof n);
  *out = NULL;
  if (r->bad || n == 0)
    return 0;
  if (n > r->n / sizeof(uint32_t) || !(*out = iris_calloc(n, sizeof **out))) {
    r->bad = 1;
    return 0;
  }
  for (i = 0; i < n; i++)
    (*out)[i] = get_str(r);
  return n;
}

/* ---- plumbing ---------------------------------------------------------------------------- */

/* Move exactly n bytes over fd: sends out when it is set, else reads into in. With a monotonic
 * deadline (0: wait forever) it waits no later than that. 0 when moved, 1 when the deadline
 * passed, -1 when the peer closed or failed. */
static int transfer(int fd, const char *out, char *in, size_t n, int64_t deadline) {
  size_t done = 0;
  while (done < n) {
    ssize_t k;
    if (deadline) {
      struct pollfd pfd = {fd, out ? POLLOUT : POLLIN, 0};
      int64_t left = deadline - iris_clock_mono_ms();
      int pr;
      if (left <= 0)
        return 1;
      pr = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr < 0)
        return -1;
      if (pr == 0)
        continue;
    }
    k = out ? send(fd, out + done, n - done, MSG_NOSIGNAL) : read(fd, in + done, n - done);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    done += (size_t)k;
  }
  return 0;
}

/* Write all n bytes (blocking; the helper reads whole requests). -1 when the peer is gone. */
static int write_all(int fd, const void *p, size_t n) { return transfer(fd, p, NULL, n, 0); }

/* Read exactly n bytes, waiting until the monotonic deadline (0: forever). 0 when read, 1 when
 * the deadline passed, -1 when the peer closed or failed. */
static int read_all(int fd, void *p, size_t n, int64_t deadline) {
  return transfer(fd, NULL, p, n, deadline);
}

/* ---- the helper ----------------------------------------------------------------------- */

static void serve(int fd, struct iris_metrics *metrics) {
  for (;;) {
    struct iris_plugin_message m;
    struct iris_plugin_result res;
    struct reader r;
    struct iris_vendor *v = NULL;
    const char **dests = NULL, **bcc = NULL;
    struct iris_plugin_kv *extra = NULL;
    uint64_t vp = 0;
    uint32_t len = 0, nextra = 0, i;
    char *req;
    if (read_all(fd, &len, sizeof len, 0) != 0 || len > MAX_REQUEST)
      _exit(0);
    req = iris_malloc(len ? len : 1);
    if (!req || read_all(fd, req, len, 0) != 0)
      _exit(0);
    memset(&m, 0, sizeof m);
    r.p = req;
    r.n = len;
    r.bad = 0;
    m.struct_size = sizeof m;
    get(&r, &vp, sizeof vp);
    get(&r, &m.incident_id, sizeof m.incident_id);
    {
      const char *rid = NULL;
      const char **strs[] = {&rid,          &m.message_id,  &m.mode,     &m.subject, &m.body,
                             &m.email_html, &m.application, &m.priority, &m.plan,    &m.target};
      for (i = 0; i < sizeof strs / sizeof strs[0]; i++) /* the order of encode() */
        *strs[i] = get_str(&r);
      iris_log_set_request(rid, NULL);
    }
    m.ndestinations = get_strs(&r, &dests);
    m.destinations = dests;
    m.nbcc = get_strs(&r, &bcc);
    m.bcc = bcc;
    get(&r, &nextra, sizeof nextra);
    if (!r.bad && nextra) {
      extra = nextra <= r.n / 8 ? iris_calloc(nextra, sizeof *extra) : NULL;
      r.bad = !extra;
      for (i = 0; i < nextra && !r.bad; i++) {
        extra[i].key = get_str(&r);
        extra[i].value = get_str(&r);
      }
      m.extra = extra;
      m.nextra = nextra;
    }
    if (!m.body)
      m.body = "";
    v = (struct iris_vendor *)(uintptr_t)vp;
    iris_log_set_message_id(m.message_id);
    if (r.bad || !v || !m.mode) {
      memset(&res, 0, sizeof res);
      res.struct_size = sizeof res;
      res.status = IRIS_PLUGIN_RETRYABLE;
      snprintf(res.error, sizeof res.error, "vendor call: malformed request to the helper");
    } else {
      iris_vendor_send(v, &m, &res);
    }
    if (metrics)
      iris_metrics_flush(metrics);
    fflush(NULL);
    iris_free(dests);
    iris_free(bcc);
    iris_free(extra);
    iris_free(req);
    if (write_all(fd, &res, sizeof res) != 0)
      _exit(0);
  }
}

static void stop_helper(struct helper *h) {
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  if (h->pid > 0) {
    int st;
    kill(h->pid, SIGKILL);
    while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
      ;
  }
  h->pid = 0;
}

static int start_helper(struct iris_vendor_calls *vc, struct helper *h, struct iris_err *err) {
  int sv[2];
  pid_t parent = getpid(), pid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return iris_err_set(err, IRIS_EIO, "vendor call: socketpair: %s", strerror(errno));
  /* The helper must not write our pending metrics and buffered output a second time. */
  if (vc->metrics)
    iris_metrics_flush(vc->metrics);
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return iris_err_set(err, IRIS_EIO, "vendor call: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    close(sv[0]);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
      _exit(0);
    serve(sv[1], vc->metrics);
    _exit(0);
  }
  close(sv[1]);
  h->fd = sv[0];
  h->pid = pid;
  return IRIS_OK;
}

/* ---- the sender's side ----------------------------------------------------------------- */

int iris_vendor_calls_new(struct iris_metrics *metrics, size_t concurrency,
                          struct iris_vendor_calls **out, struct iris_err *err) {
  struct iris_vendor_calls *vc = iris_calloc(1, sizeof *vc);
  size_t i;
  *out = NULL;
  if (concurrency < 1)
    concurrency = 1;
  if (!vc || !(vc->h = iris_calloc(concurrency, sizeof *vc->h))) {
    iris_free(vc);
    return iris_err_set(err, IRIS_ENOMEM, "vendor call: allocating");
  }
  vc->metrics = metrics;
  vc->nh = concurrency;
  for (i = 0; i < vc->nh; i++)
    vc->h[i].fd = -1;
  *out = vc;
  return IRIS_OK;
}

void iris_vendor_calls_free(struct iris_vendor_calls *vc) {
  size_t i;
  if (!vc)
    return;
  for (i = 0; i < vc->nh; i++)
    stop_helper(&vc->h[i]);
  iris_free(vc->h);
  iris_free(vc);
}

static void failed(struct iris_plugin_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void failed(struct iris_plugin_result *res, const char *fmt, ...) {
  va_list ap;
  memset(res, 0, sizeof *res);
  res->struct_size = sizeof *res;
  res->status = IRIS_PLUGIN_RETRYABLE;
  va_start(ap, fmt);
  vsnprintf(res->error, sizeof res->error, fmt, ap);
  va_end(ap);
}

/*
 * The end of a call on helper h: got 0 (the answer arrived: bound it and keep it), 1 (no
 * answer by the deadline: the helper is stopped) or -1 (the helper ended: reaped, and the
 * cause said).
 */
static void conclude(struct helper *h, struct iris_vendor_call *c, int got,
                     const struct iris_plugin_result *answer) {
  struct iris_plugin_result *res = c->res;
  if (got == 0) {
    *res = *answer;
    /* Ours, but bounded all the same before anyone reads it. */
    res->struct_size = sizeof *res;
    res->vendor_message_id[sizeof res->vendor_message_id - 1] = '\0';
    res->error[sizeof res->error - 1] = '\0';
  } else if (got == 1) {
    IRIS_LOG_ERR("vendor %s did not answer within %lld ms; its helper process is stopped",
                 iris_vendor_name(c->v), (long long)c->timeout_ms);
    stop_helper(h);
    failed(res, "vendor %s did not answer within %lld ms (the call was stopped)",
           iris_vendor_name(c->v), (long long)c->timeout_ms);
  } else {
    int st = 0;
    pid_t pid = h->pid;
    close(h->fd);
    h->fd = -1;
    if (pid > 0) /* it closed its end: it has ended, or is ending; never wait on a live one */
      kill(pid, SIGKILL);
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
      ;
    h->pid = 0;
    if (pid > 0 && WIFSIGNALED(st)) {
      IRIS_LOG_ERR("vendor %s: the plugin crashed during send() (signal %d)",
                   iris_vendor_name(c->v), WTERMSIG(st));
      failed(res, "vendor %s: the plugin crashed during send() (signal %d)",
             iris_vendor_name(c->v), WTERMSIG(st));
    } else {
      IRIS_LOG_ERR("vendor %s: the helper process ended during send() (status %d)",
                   iris_vendor_name(c->v), pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      failed(res, "vendor %s: the plugin's process ended during send()", iris_vendor_name(c->v));
    }
  }
}

void iris_vendor_calls_send_many(struct iris_vendor_calls *vc, struct iris_vendor_call *calls,
                                 size_t n, int64_t start_by_ms, const char *request_id) {
  struct iris_buf *req = iris_calloc(n ? n : 1, sizeof *req);
  size_t *on = iris_calloc(vc->nh, sizeof *on);        /* 1 + the call a helper runs, 0 idle */
  int64_t *until = iris_calloc(vc->nh, sizeof *until); /* its call's deadline */
  struct pollfd *pfd = iris_calloc(vc->nh, sizeof *pfd);
  size_t i, k, next = 0, left = n;

  for (i = 0; i < n; i++) {
    calls[i].started = 0;
    calls[i].elapsed_ms = 0;
  }
  if (!req || !on || !until || !pfd) {
    for (i = 0; i < n; i++) {
      failed(calls[i].res, "vendor call: out of memory");
      calls[i].started = 1;
    }
    goto out;
  }
  for (i = 0; i < n; i++) {
    iris_buf_init(&req[i], MAX_REQUEST);
    if (encode(&req[i], calls[i].v, calls[i].msg, request_id) != IRIS_OK) {
      failed(calls[i].res, "vendor call: the message could not be encoded (%s)",
             iris_rc_name(iris_buf_rc(&req[i])));
      calls[i].started = 1;
      calls[i].res_done = 1;
    }
  }
  for (i = 0; i < n; i++)
    left -= calls[i].res_done ? 1 : 0;
  while (left) {
    int64_t now = iris_clock_mono_ms(), wait = -1;
    nfds_t np = 0;
    /* start calls on idle helpers */
    for (k = 0; k < vc->nh && next < n; k++) {
      struct helper *h = &vc->h[k];
      struct iris_err err = {0};
      if (on[k])
        continue;
      while (next < n && calls[next].res_done)
        next++;
      if (next == n)
        break;
      if (start_by_ms && now >= start_by_ms) { /* the rest are not started */
        for (; next < n; next++)
          if (!calls[next].res_done) {
            failed(calls[next].res, "not started: no time left for the call");
            calls[next].res_done = 1;
            left--;
          }
        break;
      }
      i = next++;
      calls[i].started = 1;
      calls[i].elapsed_ms = now;
      if (h->pid <= 0 && start_helper(vc, h, &err) != IRIS_OK) {
        failed(calls[i].res, "%s", err.msg);
        calls[i].elapsed_ms = 0;
        calls[i].res_done = 1;
        left--;
        continue;
      }
      if (write_all(h->fd, iris_buf_ptr(&req[i]), iris_buf_len(&req[i])) != 0) {
        conclude(h, &calls[i], -1, NULL);
        calls[i].elapsed_ms = 0;
        calls[i].res_done = 1;
        left--;
        continue;
      }
      on[k] = i + 1;
      until[k] = now + (calls[i].timeout_ms < 1 ? 1 : calls[i].timeout_ms);
    }
    if (!left)
      break;
    /* wait for an answer, or the nearest deadline */
    for (k = 0; k < vc->nh; k++)
      if (on[k]) {
        int64_t w = until[k] - now;
        pfd[np].fd = vc->h[k].fd;
        pfd[np].events = POLLIN;
        pfd[np].revents = 0;
        np++;
        if (wait < 0 || w < wait)
          wait = w < 0 ? 0 : w;
      }
    if (np && poll(pfd, np, wait > 60000 ? 60000 : (int)wait) < 0 && errno != EINTR) {
      IRIS_LOG_ERR("vendor call: poll: %s", strerror(errno));
      iris_clock_sleep_ms(1);
    }
    now = iris_clock_mono_ms();
    for (k = 0, np = 0; k < vc->nh; k++) {
      struct iris_plugin_result answer;
      struct iris_vendor_call *c;
      int got;
      if (!on[k])
        continue;
      c = &calls[on[k] - 1];
      if (pfd[np++].revents)
        got = read_all(vc->h[k].fd, &answer, sizeof answer, until[k]);
      else if (now >= until[k])
        got = 1;
      else
        continue;
      conclude(&vc->h[k], c, got, &answer);
      c->elapsed_ms = iris_clock_mono_ms() - c->elapsed_ms;
      c->res_done = 1;
      on[k] = 0;
      left--;
    }
  }
out:
  for (i = 0; req && i < n; i++)
    iris_buf_cleanup(&req[i]);
  iris_free(req);
  iris_free(on);
  iris_free(until);
  iris_free(pfd);
}

void iris_vendor_calls_send(struct iris_vendor_calls *vc, struct iris_vendor *v,
                            const struct iris_plugin_message *msg, int64_t timeout_ms,
                            const char *request_id, struct iris_plugin_result *res) {
  struct iris_vendor_call c = {v, msg, timeout_ms, res, 0, 0, 0};
  iris_vendor_calls_send_many(vc, &c, 1, 0, request_id);
}
