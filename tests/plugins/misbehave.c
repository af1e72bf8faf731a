/*
 * misbehave.c — a test plugin that answers the way a buggy or hostile vendor plugin might,
 * for the sender's defensive paths (tests/integration/test_sender_review.py). Serves every
 * mode the sender tests page by (email, sms, call, im, slack). Options:
 *   retry_after_ms=N   answer RATE_LIMITED with this retry-after (any int64, negative too)
 *   hang=1             never return from send() (sleeps forever)
 *   abort=1            abort() inside send() (a crashing plugin)
 *   sleep_ms=N         sleep N ms, then answer SENT
 *   record_file=PATH   append the message id of each SENT answer, one per line
 *   meet_dir=PATH      with meet_n=N: each call leaves a file in PATH, then waits (up to 10 s)
 *                      until N calls are there at once, and answers RETRYABLE if they never
 *                      are: N calls can only all succeed when they are made concurrently
 * Without an option every send is SENT.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iris_plugin.h"

struct misbehave {
  long long retry_after_ms;
  int rate_limit, hang, crash;
  long sleep_ms;
  char *record_file;
  char *meet_dir;
  long long meet_n;
};

static void destroy(void *instance) {
  struct misbehave *m = instance;
  if (m) {
    free(m->record_file);
    free(m->meet_dir);
  }
  free(m);
}

static int whole(const char *v, long long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtoll(v, &end, 10);
  return errno || end == v || *end;
}

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *config, size_t nconfig, void **instance, char *error,
                size_t error_size) {
  struct misbehave *m = calloc(1, sizeof *m);
  long long v = 0;
  size_t i;
  (void)host;
  (void)name;
  if (!m) {
    snprintf(error, error_size, "out of memory");
    return -1;
  }
  for (i = 0; i < nconfig; i++) {
    const char *k = config[i].key, *val = config[i].value;
    int bad = 0;
    if (strcmp(k, "retry_after_ms") == 0) {
      bad = whole(val, &m->retry_after_ms);
      m->rate_limit = 1;
    } else if (strcmp(k, "hang") == 0) {
      m->hang = 1;
    } else if (strcmp(k, "abort") == 0) {
      m->crash = 1;
    } else if (strcmp(k, "sleep_ms") == 0) {
      bad = whole(val, &v);
      m->sleep_ms = (long)v;
    } else if (strcmp(k, "record_file") == 0) {
      bad = !(m->record_file = strdup(val));
    } else if (strcmp(k, "meet_dir") == 0) {
      bad = !(m->meet_dir = strdup(val));
    } else if (strcmp(k, "meet_n") == 0) {
      bad = whole(val, &m->meet_n) || m->meet_n < 1;
    } else {
      bad = 1;
    }
    if (bad) {
      snprintf(error, error_size, "option %s: bad value or unknown option", k);
      destroy(m);
      return -1;
    }
  }
  *instance = m;
  return 0;
}

/* The calls waiting in dir (files "call-*"). */
static long long present(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  long long n = 0;
  while (d && (e = readdir(d)) != NULL)
    n += strncmp(e->d_name, "call-", 5) == 0;
  if (d)
    closedir(d);
  return n;
}

/* meet_dir/meet_n: 1 when meet_n calls were in meet_dir at once within 10 s. */
static int meet(const struct misbehave *m, const struct iris_plugin_message *msg) {
  char path[4096];
  FILE *f;
  int waited;
  snprintf(path, sizeof path, "%s/call-%ld-%s-%s", m->meet_dir, (long)getpid(),
           msg->message_id ? msg->message_id : "-",
           msg->ndestinations ? msg->destinations[0] : "-");
  if (!(f = fopen(path, "w")))
    return 0;
  fclose(f);
  for (waited = 0; waited < 1000; waited++) {
    struct timespec ts = {0, 10 * 1000000L};
    if (present(m->meet_dir) >= m->meet_n)
      return 1;
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void send_msg(void *instance, const struct iris_plugin_message *msg,
                     struct iris_plugin_result *r) {
  struct misbehave *m = instance;
  if (m->crash)
    abort();
  while (m->hang)
    sleep(3600);
  if (m->sleep_ms > 0) {
    struct timespec ts = {m->sleep_ms / 1000, (m->sleep_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (m->meet_dir && !meet(m, msg)) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "misbehave: %lld calls never met at once", m->meet_n);
    return;
  }
  if (m->rate_limit) {
    r->status = IRIS_PLUGIN_RATE_LIMITED;
    r->retry_after_ms = (int64_t)m->retry_after_ms;
    snprintf(r->error, sizeof r->error, "misbehave: rate limited, retry after %lld ms",
             m->retry_after_ms);
    return;
  }
  if (m->record_file) {
    FILE *f = fopen(m->record_file, "a");
    if (f) {
      fprintf(f, "%s\n", msg->message_id ? msg->message_id : "-");
      fclose(f);
    }
  }
  r->status = IRIS_PLUGIN_SENT;
  snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "misbehave-%s",
           msg->message_id ? msg->message_id : "-");
}

#define MODE(var, name) \
  static const struct iris_plugin_mode_ops var = \
      {sizeof(struct iris_plugin_mode_ops), name, init, send_msg, destroy, NULL}
MODE(email_ops, "email");
MODE(sms_ops, "sms");
MODE(call_ops, "call");
MODE(im_ops, "im");
MODE(slack_ops, "slack");

static const struct iris_plugin_mode_ops *const modes[] = {&email_ops, &sms_ops, &call_ops,
                                                           &im_ops, &slack_ops};

static const struct iris_plugin_descriptor descriptor = {IRIS_PLUGIN_DESCRIPTOR_HEAD,
                                                         "misbehave",
                                                         "0.1",
                                                         "tests",
                                                         modes,
                                                         sizeof modes / sizeof modes[0]};

IRIS_PLUGIN_EXPORT const struct iris_plugin_descriptor *iris_plugin_entry(void) {
  return &descriptor;
}
