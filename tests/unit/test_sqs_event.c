/*
 * test_sqs_event.c — core/sender/sqs_event.h: a Lambda SQS event into records, and the
 * matching of event source ARNs to configured queues (by region, account and name; AWS,
 * legacy and endpoint-style URLs; never the dead-letter queue).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sqs_event.h"

static json_t *queues(void) {
  json_t *q = json_pack("{s:s, s:s, s:s, s:s}", "email",
                        "https://sqs.us-east-1.amazonaws.com/123456789012/iris-email", "sms",
                        "https://us-west-2.queue.amazonaws.com/123456789012/iris-sms", "call",
                        "http://127.0.0.1:5000/123456789012/iris-call", "dead_letter",
                        "https://sqs.us-east-1.amazonaws.com/123456789012/iris-dlq");
  assert_non_null(q);
  return q;
}

static const char *lane_of(json_t *q, const char *arn, const char *default_region) {
  char event[512];
  struct iris_sqs_event ev;
  struct iris_err err = {0};
  static char lane[32];
  snprintf(event, sizeof event,
           "{\"Records\": [{\"messageId\": \"m\", \"body\": \"{}\", \"eventSourceARN\": \"%s\"}]}",
           arn);
  assert_int_equal(iris_sqs_event_read(event, strlen(event), q, default_region, &ev, &err),
                   IRIS_OK);
  assert_int_equal(ev.n, 1);
  assert_true(!ev.records[0].lane == !ev.records[0].queue_url);
  snprintf(lane, sizeof lane, "%s", ev.records[0].lane ? ev.records[0].lane : "-");
  iris_sqs_event_cleanup(&ev);
  return lane;
}

static void arns_match_by_region_account_and_name(void **state) {
  json_t *q = queues();
  (void)state;
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-east-1:123456789012:iris-email", NULL), "email");
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-west-2:123456789012:iris-sms", NULL), "sms");
  /* an endpoint without a region in its host: the configured region decides */
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-east-1:123456789012:iris-call", "us-east-1"),
                      "call");
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-east-1:123456789012:iris-call", NULL), "-");
  assert_string_equal(lane_of(q, "arn:aws:sqs:eu-west-1:123456789012:iris-call", "us-east-1"), "-");
  /* same name, another account or region; the dead-letter queue; not an SQS ARN */
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-east-1:999999999999:iris-email", NULL), "-");
  assert_string_equal(lane_of(q, "arn:aws:sqs:eu-west-1:123456789012:iris-email", NULL), "-");
  assert_string_equal(lane_of(q, "arn:aws:sqs:us-east-1:123456789012:iris-dlq", NULL), "-");
  assert_string_equal(lane_of(q, "arn:aws:sns:us-east-1:123456789012:iris-email", NULL), "-");
  assert_string_equal(lane_of(q, "iris-email", NULL), "-");
  json_decref(q);
}

static void fields_are_read_or_defaulted(void **state) {
  static const char event[] =
      "{\"Records\": ["
      "{\"messageId\": \"a\", \"receiptHandle\": \"r\", \"body\": \"{\\\"v\\\": 1}\","
      " \"attributes\": {\"ApproximateReceiveCount\": \"3\"},"
      " \"eventSourceARN\": \"arn:aws:sqs:us-east-1:123456789012:iris-email\"},"
      "{\"messageId\": \"\", \"body\": 7, \"attributes\": {\"ApproximateReceiveCount\": \"-2\"}},"
      "{\"attributes\": {\"ApproximateReceiveCount\": \"99999999999999999999\"}},"
      "42]}";
  json_t *q = queues();
  struct iris_sqs_event ev;
  struct iris_err err = {0};
  (void)state;
  assert_int_equal(iris_sqs_event_read(event, strlen(event), q, NULL, &ev, &err), IRIS_OK);
  assert_int_equal(ev.n, 4);
  assert_string_equal(ev.records[0].message_id, "a");
  assert_string_equal(ev.records[0].receipt_handle, "r");
  assert_string_equal(ev.records[0].body, "{\"v\": 1}");
  assert_int_equal(ev.records[0].body_len, 8);
  assert_int_equal(ev.records[0].receive_count, 3);
  assert_string_equal(ev.records[0].lane, "email");
  /* an empty messageId is none; a body that is not a string is empty; counts are clamped */
  assert_null(ev.records[1].message_id);
  assert_string_equal(ev.records[1].body, "");
  assert_int_equal(ev.records[1].body_len, 0);
  assert_int_equal(ev.records[1].receive_count, 0);
  assert_null(ev.records[1].queue_url);
  assert_int_equal(ev.records[2].receive_count, INT_MAX);
  assert_null(ev.records[3].message_id);
  assert_string_equal(ev.records[3].body, "");
  iris_sqs_event_cleanup(&ev);
  iris_sqs_event_cleanup(&ev); /* cleaned up twice: nothing happens */
  json_decref(q);
}

static void not_an_sqs_event(void **state) {
  static const char *const events[] = {"", "{", "[]", "{\"Records\": {}}",
                                       "{\"source\": \"aws.scheduler\"}"};
  json_t *q = queues();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof events / sizeof events[0]; i++) {
    struct iris_sqs_event ev;
    struct iris_err err = {0};
    assert_int_equal(iris_sqs_event_read(events[i], strlen(events[i]), q, NULL, &ev, &err),
                     IRIS_EPARSE);
    assert_non_null(strstr(err.msg, "not an SQS event"));
    assert_null(ev.doc);
    assert_null(ev.records);
  }
  json_decref(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(arns_match_by_region_account_and_name),
                                     cmocka_unit_test(fields_are_read_or_defaulted),
                                     cmocka_unit_test(not_an_sqs_event)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
