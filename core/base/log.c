/*
 * log.c — JSON log lines, per-thread context, process-wide secret redaction (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"

#define MIN_SECRET_LEN 4
#define REDACTED "[REDACTED]"

static enum iris_log_level min_level = IRIS_LOG_LEVEL_INFO;
static int level_from_env_done;
static FILE *out_stream;

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets; /* owned copies */
static size_t n_secrets;

static _Thread_local char *ctx_request_id;
static _Thread_local char *ctx_trace_id;
static _Thread_local char *ctx_message_id;

int iris_log_level_parse(const char *name, enum iris_log_level *out) {
  static const struct {
    const char *name;
    enum iris_log_level level;
  } names[] = {{"debug", IRIS_LOG_LEVEL_DEBUG}, {"info", IRIS_LOG_LEVEL_INFO},
               {"warn", IRIS_LOG_LEVEL_WARN},   {"warning", IRIS_LOG_LEVEL_WARN},
               {"error", IRIS_LOG_LEVEL_ERROR}, {"off", IRIS_LOG_LEVEL_OFF}};
  size_t i;
  for (i = 0; name && i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(name, names[i].name) == 0) {
      *out = names[i].level;
      return IRIS_OK;
    }
  }
  return IRIS_EINVAL;
}

static void level_from_env(void) {
  const char *v;
  enum iris_log_level lvl;
  if (level_from_env_done)
    return;
  level_from_env_done = 1;
  v = getenv("IRIS_LOG_LEVEL");
  if (v && iris_log_level_parse(v, &lvl) == IRIS_OK)
    min_level = lvl;
}

void iris_log_set_level(enum iris_log_level level) {
  level_from_env_done = 1;
  min_level = level;
}

enum iris_log_level iris_log_get_level(void) {
  level_from_env();
  return min_level;
}

void iris_log_set_stream(FILE *stream) { out_stream = stream; }

static void set_ctx(char **slot, const char *value) {
  iris_free(*slot);
  /* On allocation failure the field is simply absent from later lines. */
  *slot = value ? iris_strdup(value) : NULL;
}

void iris_log_set_request(const char *request_id, const char *trace_id) {
  set_ctx(&ctx_request_id, request_id);
  set_ctx(&ctx_trace_id, trace_id);
}

void iris_log_set_message_id(const char *message_id) { set_ctx(&ctx_message_id, message_id); }

void iris_log_clear_context(void) {
  set_ctx(&ctx_request_id, NULL);
  set_ctx(&ctx_trace_id, NULL);
  set_ctx(&ctx_message_id, NULL);
}

int iris_log_add_secret(const char *value) {
  char *copy;
  char **grown;
  size_t i;
  int rc = IRIS_OK;
  if (!value || strlen(value) < MIN_SECRET_LEN)
    return IRIS_EINVAL;
  pthread_mutex_lock(&secrets_lock);
  for (i = 0; i < n_secrets; i++)
    if (strcmp(secrets[i], value) == 0)
      goto out;
  copy = iris_strdup(value);
  grown = copy ? iris_realloc(secrets, (n_secrets + 1) * sizeof *secrets) : NULL;
  if (!grown) {
    iris_free(copy);
    rc = IRIS_ENOMEM;
    goto out;
  }
  secrets = grown;
  secrets[n_secrets++] = copy;
out:
  pthread_mutex_unlock(&secrets_lock);
  return rc;
}

void iris_log_clear_secrets(void) {
  size_t i;
  pthread_mutex_lock(&secrets_lock);
  for (i = 0; i < n_secrets; i++)
    iris_free(secrets[i]);
  iris_free(secrets);
  secrets = NULL;
  n_secrets = 0;
  pthread_mutex_unlock(&secrets_lock);
}

/* Copy s into out, replacing every registered secret. Caller holds secrets_lock. */
static int redact_into(struct iris_buf *out, const char *s) {
  const char *p = s;
  while (*p) {
    size_t i, best_len = 0;
    for (i = 0; i < n_secrets; i++) {
      size_t len = strlen(secrets[i]);
      /* Longest match wins so a secret containing another is hidden whole. */
      if (len > best_len && strncmp(p, secrets[i], len) == 0)
        best_len = len;
    }
    if (best_len) {
      if (iris_buf_appends(out, REDACTED))
        return iris_buf_rc(out);
      p += best_len;
    } else if (iris_buf_appendc(out, *p++)) {
      return iris_buf_rc(out);
    }
  }
  return iris_buf_append(out, "", 0);
}

char *iris_log_redact(const char *s) {
  struct iris_buf b;
  char *out = NULL;
  iris_buf_init(&b, 0);
  pthread_mutex_lock(&secrets_lock);
  if (redact_into(&b, s) == IRIS_OK)
    out = iris_buf_take(&b, NULL);
  pthread_mutex_unlock(&secrets_lock);
  iris_buf_cleanup(&b);
  return out;
}

static const char *level_name(enum iris_log_level level) {
  switch (level) {
  case IRIS_LOG_LEVEL_DEBUG: return "debug";
  case IRIS_LOG_LEVEL_INFO: return "info";
  case IRIS_LOG_LEVEL_WARN: return "warn";
  default: return "error";
  }
}

static void format_time(char *out, size_t n) {
  struct timespec ts;
  struct tm tm;
  char date[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%.20s.%03dZ", date, (int)(ts.tv_nsec / 1000000L) % 1000);
}

/* The message as a JSON string; bytes that are not valid UTF-8 become '?' so a line is
 * never dropped because a vendor sent us Latin-1. */
static json_t *message_value(struct iris_buf *clean) {
  json_t *v;
  size_t i;
  if (iris_buf_rc(clean))
    return json_string("(log message lost: out of memory)");
  v = json_stringn(iris_buf_ptr(clean), iris_buf_len(clean));
  if (v)
    return v;
  for (i = 0; i < clean->len; i++)
    if ((unsigned char)clean->ptr[i] >= 0x80 || clean->ptr[i] == '\0')
      clean->ptr[i] = '?';
  return json_stringn(iris_buf_ptr(clean), iris_buf_len(clean));
}

/* Writes one whole line (text ending in its newline) with one write(2). The sender's helper
 * processes share the parent's stderr; writing the text and then the newline let their lines
 * interleave into one that no longer parses. A line up to PIPE_BUF bytes is atomic on a pipe;
 * on a file opened for appending every write is. Streams without a descriptor take one fwrite. */
static void write_line(FILE *stream, const char *line, size_t n) {
  size_t off = 0;
  int fd;
  fflush(stream); /* whatever stdio holds goes first, so lines keep their order */
  fd = fileno(stream);
  if (fd < 0) {
    (void)fwrite(line, 1, n, stream);
    fflush(stream);
    return;
  }
  while (off < n) {
    ssize_t w = write(fd, line + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* nowhere left to report a failing log stream */
    off += (size_t)w;
  }
}

void iris_log_vwrite(enum iris_log_level level, const char *module, const char *fmt, va_list ap) {
  struct iris_buf raw, clean;
  char when[64];
  json_t *line = NULL;
  char *text = NULL;
  FILE *stream = out_stream ? out_stream : stderr;

  if (level < iris_log_get_level() || level >= IRIS_LOG_LEVEL_OFF)
    return;
  iris_buf_init(&raw, 512 * 1024);
  iris_buf_init(&clean, 256 * 1024 + 1024);
  if (iris_buf_vappendf(&raw, fmt, ap) == IRIS_ETOOBIG) {
    iris_buf_reset(&raw);
    if (iris_buf_appends(&raw, "(log message too long)")) {
      /* message_value() reports the lost text */
    }
  }
  pthread_mutex_lock(&secrets_lock);
  (void)redact_into(&clean, iris_buf_ptr(&raw));
  pthread_mutex_unlock(&secrets_lock);

  format_time(when, sizeof when);
  line = json_object();
  if (!line)
    goto out;
  json_object_set_new(line, "time", json_string(when));
  json_object_set_new(line, "level", json_string(level_name(level)));
  json_object_set_new(line, "module", json_string(module ? module : "core"));
  json_object_set_new(line, "msg", message_value(&clean));
  if (ctx_request_id)
    json_object_set_new(line, "requestId", json_string(ctx_request_id));
  if (ctx_trace_id)
    json_object_set_new(line, "traceId", json_string(ctx_trace_id));
  if (ctx_message_id)
    json_object_set_new(line, "messageId", json_string(ctx_message_id));
  text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (text) {
    /* Context fields (request id, ...) come from outside too: redact the whole line as
     * well as the message (the message pass catches secrets JSON escaping would hide). */
    iris_buf_reset(&raw);
    pthread_mutex_lock(&secrets_lock);
    (void)redact_into(&raw, text);
    pthread_mutex_unlock(&secrets_lock);
    iris_free(text);
    text = NULL;
    /* If redaction could not complete, the line is dropped rather than written unredacted. */
    if (iris_buf_appendc(&raw, '\n') == IRIS_OK && iris_buf_rc(&raw) == IRIS_OK)
      write_line(stream, iris_buf_ptr(&raw), iris_buf_len(&raw));
  }
out:
  iris_free(text); /* jansson allocates through the iris seam (alloc.c) */
  json_decref(line);
  iris_buf_cleanup(&raw);
  iris_buf_cleanup(&clean);
}

void iris_log_write(enum iris_log_level level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  iris_log_vwrite(level, module, fmt, ap);
  va_end(ap);
}
