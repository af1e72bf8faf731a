/*
 * aws_int.h — internals of aws.c shared with its unit test only.
 */
#ifndef IRIS_AWS_INT_H
#define IRIS_AWS_INT_H

#include <stddef.h>

/* What to do with one failed attempt. */
enum iris__aws_verdict {
  IRIS__AWS_FAIL = 0,    /* give up at once */
  IRIS__AWS_RETRY = 1,   /* transient: 5xx, transport error */
  IRIS__AWS_THROTTLE = 2 /* throttled: retry, and report IRIS_ETHROTTLED if it lasts */
};

/*
 * Parse an AWS JSON-protocol error answer. `query_error` is the x-amzn-query-error header
 * value or NULL. Writes the short code ("QueueDoesNotExist") and message into the given
 * buffers (always NUL-terminated, truncated to size). Returns 1 if the body or header was
 * an AWS error, 0 otherwise (code and msg then empty).
 */
int iris__aws_parse_error(const char *body, size_t len, const char *query_error, char *code,
                          size_t code_size, char *msg, size_t msg_size);

/* Classify an HTTP status + AWS code (may be ""). */
enum iris__aws_verdict iris__aws_classify(long status, const char *code);

/* Full-jitter backoff for retry number `attempt` (1-based): uniform in [0, min(cap, base*2^attempt)]. */
long iris__aws_backoff_ms(int attempt, unsigned int *seed);

/* Sleep seam: tests replace it to record delays instead of sleeping. */
extern void (*iris__aws_sleep_ms)(long ms);

#endif /* IRIS_AWS_INT_H */
