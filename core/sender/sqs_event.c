/* sqs_event.c — a Lambda SQS event into the sender's records (see sqs_event.h). */
#include "sqs_event.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/*
 * Does a queue URL name the queue of an ARN (arn:<partition>:sqs:<region>:<account>:<name>)?
 * The URL's path is /<account>/<name>; its region is the host's (sqs.<region>.amazonaws.com,
 * <region>.queue.amazonaws.com) or, for an endpoint without one (moto, a VPC endpoint), the
 * configured aws.region. Account, region and name must all match: queues of the same name in
 * two accounts or regions are different queues.
 */
static int url_is_arn(const char *url, const char *region, const char *account, const char *name,
                      const char *default_region) {
  const char *host = strstr(url, "://"), *path, *slash;
  size_t alen = strlen(account), rlen = strlen(region);
  if (!host)
    return 0;
  host += 3;
  path = strchr(host, '/');
  if (!path)
    return 0;
  slash = strchr(path + 1, '/');
  if (!slash || (size_t)(slash - path - 1) != alen || strncmp(path + 1, account, alen) != 0 ||
      strcmp(slash + 1, name) != 0)
    return 0;
  if (strncmp(host, "sqs.", 4) == 0 && strstr(host, ".amazonaws.com") &&
      strstr(host, ".amazonaws.com") < path)
    return strncmp(host + 4, region, rlen) == 0 && host[4 + rlen] == '.';
  if (strstr(host, ".queue.amazonaws.com") && strstr(host, ".queue.amazonaws.com") < path)
    return strncmp(host, region, rlen) == 0 && host[rlen] == '.';
  return default_region && strcmp(default_region, region) == 0;
}

/* The configured queue (and its lane) an event source ARN names, NULL when none does. */
static const char *queue_for_arn(json_t *queues, const char *default_region, const char *arn,
                                 const char **lane) {
  json_t *v;
  const char *k;
  char region[64], account[64], name[128];
  *lane = NULL;
  /* arn:<partition>:sqs:<region>:<account>:<name> — each part bounded, none empty */
  if (!arn ||
      sscanf(arn, "arn:%*63[^:]:sqs:%63[^:]:%63[^:]:%127[^:]", region, account, name) != 3 ||
      strlen(arn) > 256)
    return NULL;
  json_object_foreach(queues, k, v) {
    const char *url = json_string_value(v);
    if (url && strcmp(k, "dead_letter") != 0 &&
        url_is_arn(url, region, account, name, default_region)) {
      *lane = k;
      return url;
    }
  }
  return NULL;
}

/* ApproximateReceiveCount: SQS writes a decimal number; anything else counts as 0, and a
 * count beyond int is INT_MAX, so that the sender's arithmetic on it cannot overflow. */
static long receive_count(const char *text) {
  long v;
  if (!text)
    return 0;
  errno = 0;
  v = strtol(text, NULL, 10);
  if (v < 0)
    return 0;
  if (errno == ERANGE || v > INT_MAX)
    return INT_MAX;
  return v;
}

int iris_sqs_event_read(const char *event, size_t len, json_t *queues, const char *default_region,
                        struct iris_sqs_event *out, struct iris_err *err) {
  json_error_t jerr;
  json_t *records, *rec;
  size_t i;

  memset(out, 0, sizeof *out);
  out->doc = json_loadb(event, len, 0, &jerr);
  records = json_object_get(out->doc, "Records");
  if (!json_is_array(records)) {
    int rc = iris_err_set(err, IRIS_EPARSE, "sender: the event is not an SQS event (%s)",
                          out->doc ? "no Records array" : jerr.text);
    iris_sqs_event_cleanup(out);
    return rc;
  }
  out->records = iris_calloc(json_array_size(records) + 1, sizeof *out->records);
  if (!out->records) {
    iris_sqs_event_cleanup(out);
    return iris_err_set(err, IRIS_ENOMEM, "sender: the event's records");
  }
  json_array_foreach(records, i, rec) {
    struct iris_sqs_event_record *r = &out->records[out->n++];
    json_t *body = json_object_get(rec, "body");
    r->message_id = json_string_value(json_object_get(rec, "messageId"));
    if (r->message_id && !*r->message_id)
      r->message_id = NULL;
    r->receipt_handle = json_string_value(json_object_get(rec, "receiptHandle"));
    r->body = json_is_string(body) ? json_string_value(body) : "";
    r->body_len = json_is_string(body) ? json_string_length(body) : 0;
    r->receive_count = receive_count(json_string_value(
        json_object_get(json_object_get(rec, "attributes"), "ApproximateReceiveCount")));
    r->arn = json_string_value(json_object_get(rec, "eventSourceARN"));
    r->queue_url = queue_for_arn(queues, default_region, r->arn, &r->lane);
  }
  return IRIS_OK;
}

void iris_sqs_event_cleanup(struct iris_sqs_event *ev) {
  if (!ev)
    return;
  iris_free(ev->records);
  json_decref(ev->doc);
  memset(ev, 0, sizeof *ev);
}
