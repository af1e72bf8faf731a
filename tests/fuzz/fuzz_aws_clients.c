/*
 * fuzz_aws_clients.c — SQS and Secrets Manager answers through the real clients
 * (core/clients/sqs.c, secrets.c, aws.c with its retries) over fake_curl.c: ReceiveMessage,
 * SendMessageBatch, GetQueueUrl and GetSecretValue get a scripted sequence of answers
 * (status, body in pieces, "\n--\n" between transfers — see fuzz_common.h). The first byte
 * picks the call.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "aws_int.h"
#include "fuzz_check.h"
#include "fuzz_common.h"
#include "log.h"
#include "secrets.h"
#include "sqs.h"

static struct fuzz_answer answers[8];
static size_t nanswers, served;
static struct iris_sqs *sqs;
static struct iris_secrets *secrets;

static const struct fuzz_answer *next(void) {
  return served < nanswers ? &answers[served++] : NULL;
}

static void no_sleep(long ms) { (void)ms; }

static void setup(void) {
  static struct iris_aws_creds creds = {"AKIDFUZZ", "fuzz-secret", NULL};
  struct iris_aws_opts o = {0};
  struct iris_err err = {0};
  o.region = "us-east-1";
  o.endpoint = "http://127.0.0.1:9";
  o.creds = &creds;
  o.max_attempts = 3;
  iris__aws_sleep_ms = no_sleep;
  iris_log_set_level(IRIS_LOG_LEVEL_OFF);
  fuzz_http_set(next);
  if (iris_sqs_new(&o, &sqs, &err) || iris_secrets_new(&o, &secrets, &err))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct iris_err err = {0};
  static const char q[] = "http://127.0.0.1:9/123456789012/iris-sms";
  if (!sqs)
    setup();
  if (size < 1)
    return 0;
  nanswers = fuzz_split(data + 1, size - 1, answers, sizeof answers / sizeof answers[0]);
  served = 0;
  switch (data[0] % 4) {
  case 0: {
    struct iris_sqs_received r = {0};
    if (iris_sqs_receive(sqs, q, 10, 0, -1, &r, &err) == IRIS_OK) {
      size_t i;
      for (i = 0; i < r.n; i++)
        if (!r.msgs[i].body || !r.msgs[i].receipt_handle)
          __builtin_trap();
    } else {
      fuzz_check_err(&err);
    }
    iris_sqs_received_cleanup(&r);
    break;
  }
  case 1: {
    struct iris_sqs_out m[3] = {{"0", "{\"v\":1}", 0, NULL, 0, NULL, NULL},
                                {"1", "b", 0, NULL, 0, NULL, NULL},
                                {"2", "c", 0, NULL, 0, NULL, NULL}};
    struct iris_sqs_batch_result res = {0};
    if (iris_sqs_send_batch(sqs, q, m, 3, &res, &err) == IRIS_OK) {
      if (res.nok + res.nfailed > 3)
        __builtin_trap();
    } else {
      fuzz_check_err(&err);
    }
    iris_sqs_batch_result_cleanup(&res);
    break;
  }
  case 2: {
    char *url = NULL;
    if (iris_sqs_get_queue_url(sqs, "iris-sms", &url, &err))
      fuzz_check_err(&err);
    iris_free(url);
    break;
  }
  default: {
    char *value = NULL;
    if (iris_secrets_fetch(secrets, "iris/fuzz", &value, &err))
      fuzz_check_err(&err);
    iris_free(value);
    break;
  }
  }
  return 0;
}
