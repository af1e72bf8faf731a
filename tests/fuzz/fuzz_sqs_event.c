/*
 * fuzz_sqs_event.c — the sender's reading of a Lambda SQS event (core/sender/sqs_event.c):
 * the event document, its records and their fields, and the matching of each record's
 * eventSourceARN against the configured queues (AWS, legacy and moto-style URLs, a
 * dead-letter queue that is never a lane). The input is the event; its length's parity picks
 * whether aws.region is set (URLs without a region in their host match only through it).
 *
 * Checked besides ASan/UBSan: every record has a NUL-terminated body of body_len bytes, a
 * message id that is NULL or not empty, a receive count in [0, INT_MAX]; a record matched to a
 * queue has an ARN, a lane that is a configured one other than "dead_letter" whose URL is the
 * queue URL and ends in the ARN's queue name; a refusal says why in valid UTF-8.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sqs_event.h"

static json_t *queues;

static void setup(void) {
  queues = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "email",
                     "https://sqs.us-east-1.amazonaws.com/123456789012/iris-email", "sms",
                     "https://us-west-2.queue.amazonaws.com/123456789012/iris-sms", "call",
                     "http://127.0.0.1:5000/123456789012/iris-call", "im",
                     "https://sqs.eu-west-1.amazonaws.com/210987654321/iris-email", "dead_letter",
                     "https://sqs.us-east-1.amazonaws.com/123456789012/iris-dlq", "slack", 7);
  if (!queues)
    abort();
}

/* The n-th ':'-separated field of an ARN (arn:<partition>:sqs:<region>:<account>:<name>). */
static size_t arn_field(const char *arn, int n, const char **at) {
  const char *p = arn;
  while (n-- > 0) {
    p = strchr(p, ':');
    if (!p)
      __builtin_trap();
    p++;
  }
  *at = p;
  return strcspn(p, ":");
}

static void check_match(const struct iris_sqs_event_record *r) {
  const char *url, *name, *account, *path;
  size_t nl, al;
  if (!r->lane || !r->arn || strcmp(r->lane, "dead_letter") == 0)
    __builtin_trap();
  url = json_string_value(json_object_get(queues, r->lane));
  if (!url || url != r->queue_url)
    __builtin_trap();
  /* the URL's path is /<account>/<name>, both the ARN's */
  al = arn_field(r->arn, 4, &account);
  nl = arn_field(r->arn, 5, &name);
  path = strchr(strstr(url, "://") + 3, '/');
  if (!al || !nl || strncmp(path + 1, account, al) != 0 || path[1 + al] != '/' ||
      strncmp(path + 2 + al, name, nl) != 0 || path[2 + al + nl] != '\0')
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct iris_sqs_event ev;
  struct iris_err err = {0};
  size_t i;
  if (!queues)
    setup();
  if (iris_sqs_event_read((const char *)data, size, queues, size & 1 ? NULL : "us-east-1", &ev,
                          &err) != IRIS_OK) {
    if (!err.msg[0])
      __builtin_trap();
    fuzz_check_err(&err);
    return 0;
  }
  for (i = 0; i < ev.n; i++) {
    const struct iris_sqs_event_record *r = &ev.records[i];
    if (!r->body || r->body[r->body_len] != '\0' || strlen(r->body) != r->body_len ||
        (r->message_id && !*r->message_id) || r->receive_count < 0 || r->receive_count > INT_MAX ||
        !r->queue_url != !r->lane)
      __builtin_trap();
    if (r->queue_url)
      check_match(r);
  }
  iris_sqs_event_cleanup(&ev);
  return 0;
}
