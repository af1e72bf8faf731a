/*
 * log.h — structured JSON log lines with request context and secret redaction.
 *
 * Layer: core, low level (depends on err, alloc, buf). One line per event, written to
 * stderr by default (Lambda ships both streams to CloudWatch; stdout is kept for EMF
 * metrics):
 *   {"time":"2026-11-24T19:00:00.123Z","level":"error","module":"sqs",
 *    "msg":"...","requestId":"...","traceId":"...","messageId":"..."}
 * Context (request id, trace id, message id) is per thread and stamped by the logger,
 * never typed at call sites. Redaction also happens here: every value registered with
 * iris_log_add_secret() is replaced by "[REDACTED]" in every line, whoever wrote it.
 *
 * Usage: `#define IRIS_LOG_MODULE "sqs"` before including this header, then
 * IRIS_LOG_INFO("queue %s created", url).
 */
#ifndef IRIS_LOG_H
#define IRIS_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum iris_log_level {
  IRIS_LOG_LEVEL_DEBUG = 0,
  IRIS_LOG_LEVEL_INFO = 1,
  IRIS_LOG_LEVEL_WARN = 2,
  IRIS_LOG_LEVEL_ERROR = 3,
  IRIS_LOG_LEVEL_OFF = 4
};

/* Minimum level written (default INFO, or IRIS_LOG_LEVEL from the environment). */
void iris_log_set_level(enum iris_log_level level);
enum iris_log_level iris_log_get_level(void);
/* "debug", "info", "warn"/"warning", "error", "off" (case-insensitive). IRIS_EINVAL otherwise. */
int iris_log_level_parse(const char *name, enum iris_log_level *out);

/* Where lines go (borrowed; must outlive logging). NULL restores stderr. */
void iris_log_set_stream(FILE *stream);

/* Per-thread context stamped on every line; values are copied. NULL clears a field. */
void iris_log_set_request(const char *request_id, const char *trace_id);
void iris_log_set_message_id(const char *message_id);
/* Clear all per-thread context (end of an invocation). */
void iris_log_clear_context(void);

/*
 * Register a secret value (copied): from now on it never appears in a log line.
 * Values shorter than 4 bytes are refused with IRIS_EINVAL (they would redact noise).
 * Returns IRIS_OK or IRIS_ENOMEM. Process-wide and thread-safe.
 */
int iris_log_add_secret(const char *value);
/* Forget every registered secret (tests). */
void iris_log_clear_secrets(void);

/*
 * Replace every registered secret in the NUL-terminated string s; returns a new string
 * the caller frees with iris_free, or NULL on allocation failure. For text that leaves
 * the process by another path than the logger (error bodies, dead-letter reasons).
 */
char *iris_log_redact(const char *s);

void iris_log_write(enum iris_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void iris_log_vwrite(enum iris_log_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#ifndef IRIS_LOG_MODULE
#define IRIS_LOG_MODULE "core"
#endif

#define IRIS_LOG_DEBUG(...) iris_log_write(IRIS_LOG_LEVEL_DEBUG, IRIS_LOG_MODULE, __VA_ARGS__)
#define IRIS_LOG_INFO(...) iris_log_write(IRIS_LOG_LEVEL_INFO, IRIS_LOG_MODULE, __VA_ARGS__)
#define IRIS_LOG_WARN(...) iris_log_write(IRIS_LOG_LEVEL_WARN, IRIS_LOG_MODULE, __VA_ARGS__)
#define IRIS_LOG_ERR(...) iris_log_write(IRIS_LOG_LEVEL_ERROR, IRIS_LOG_MODULE, __VA_ARGS__)

#endif /* IRIS_LOG_H */
