/*
 * iris-sqs-cli — drive core/clients/sqs.h from the command line; prints JSON on stdout.
 *
 *   iris-sqs-cli create NAME [ATTR=VALUE ...]          → {"QueueUrl": ...}
 *   iris-sqs-cli url NAME                              → {"QueueUrl": ...}
 *   iris-sqs-cli send URL BODY [NAME:TYPE:VALUE ...]   → {"MessageId": ...}
 *   iris-sqs-cli send-batch URL < [{"id","body","attrs":[[name,type,value]...]}...]
 *   iris-sqs-cli receive URL MAX WAIT VISIBILITY       → [{"MessageId",...}...]
 *   iris-sqs-cli delete URL RECEIPT
 *   iris-sqs-cli delete-batch URL RECEIPT...           → {"ok":[...],"failed":[...]}
 *   iris-sqs-cli visibility URL RECEIPT SECONDS
 *   iris-sqs-cli attr URL NAME                         → {"Value": ...}
 *   iris-sqs-cli delete-queue URL
 * Endpoint: $IRIS_SQS_ENDPOINT or $IRIS_TEST_AWS_ENDPOINT (else AWS); region $AWS_REGION;
 * credentials from the standard AWS_* variables. Errors: "error: IRIS_E...: message" on
 * stderr and exit status 1 (2 for usage).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "sqs.h"

/* A number argument (the tests pass well-formed ones). */
static int num(const char *s) { return (int)strtol(s, NULL, 10); }

static int usage(void) {
  fprintf(stderr, "usage: iris-sqs-cli create|url|send|send-batch|receive|delete|delete-batch|"
                  "visibility|attr|delete-queue ARGS (see the source banner)\n");
  return 2;
}

static void print_json(json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  if (s)
    puts(s);
  iris_free(s);
  json_decref(j);
}

static json_t *batch_json(const struct iris_sqs_batch_result *r) {
  json_t *ok = json_array(), *failed = json_array();
  size_t i;
  for (i = 0; i < r->nok; i++)
    json_array_append_new(ok, json_pack("{s:s, s:s?}", "Id", r->ok[i].id, "MessageId",
                                        r->ok[i].message_id));
  for (i = 0; i < r->nfailed; i++)
    json_array_append_new(failed, json_pack("{s:s, s:s?, s:s?, s:b}", "Id", r->failed[i].id, "Code",
                                            r->failed[i].code, "Message", r->failed[i].message,
                                            "SenderFault", r->failed[i].sender_fault));
  return json_pack("{s:o, s:o}", "ok", ok, "failed", failed);
}

/* NAME:TYPE:VALUE (VALUE may contain ':'). Pointers into arg, which is modified. */
static int parse_attr(char *arg, struct iris_sqs_attr *a) {
  char *c1 = strchr(arg, ':'), *c2;
  if (!c1)
    return -1;
  c2 = strchr(c1 + 1, ':');
  if (!c2)
    return -1;
  *c1 = *c2 = '\0';
  a->name = arg;
  a->type = c1 + 1;
  a->value = c2 + 1;
  return 0;
}

static int run(struct iris_sqs *sqs, int argc, char **argv, struct iris_err *err) {
  const char *cmd = argv[1];
  int rc = IRIS_OK;
  if (strcmp(cmd, "create") == 0 && argc >= 3) {
    const char *names[16], *values[16];
    size_t n = 0;
    char *url = NULL;
    int i;
    for (i = 3; i < argc && n < 16; i++, n++) {
      char *eq = strchr(argv[i], '=');
      if (!eq)
        return iris_err_set(err, IRIS_EINVAL, "attribute '%s' is not NAME=VALUE", argv[i]);
      *eq = '\0';
      names[n] = argv[i];
      values[n] = eq + 1;
    }
    rc = iris_sqs_create_queue(sqs, argv[2], names, values, n, &url, err);
    if (rc == IRIS_OK)
      print_json(json_pack("{s:s}", "QueueUrl", url));
    iris_free(url);
  } else if (strcmp(cmd, "url") == 0 && argc == 3) {
    char *url = NULL;
    rc = iris_sqs_get_queue_url(sqs, argv[2], &url, err);
    if (rc == IRIS_OK)
      print_json(json_pack("{s:s}", "QueueUrl", url));
    iris_free(url);
  } else if (strcmp(cmd, "send") == 0 && argc >= 4) {
    struct iris_sqs_attr attrs[16];
    struct iris_sqs_out m = {0};
    char *id = NULL;
    int i;
    m.body = argv[3];
    for (i = 4; i < argc && m.nattrs < 16; i++)
      if (parse_attr(argv[i], &attrs[m.nattrs++]))
        return iris_err_set(err, IRIS_EINVAL, "attribute '%s' is not NAME:TYPE:VALUE", argv[i]);
    m.attrs = attrs;
    rc = iris_sqs_send(sqs, argv[2], &m, &id, err);
    if (rc == IRIS_OK)
      print_json(json_pack("{s:s}", "MessageId", id));
    iris_free(id);
  } else if (strcmp(cmd, "send-batch") == 0 && argc == 3) {
    json_error_t jerr;
    json_t *in = json_loadf(stdin, 0, &jerr);
    struct iris_sqs_out msgs[16];
    struct iris_sqs_attr attrs[16][10];
    struct iris_sqs_batch_result res;
    size_t i, j, n = json_array_size(in);
    if (!json_is_array(in) || n > 16) {
      json_decref(in);
      return iris_err_set(err, IRIS_EPARSE, "stdin: a JSON array of up to 16 entries expected");
    }
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < n; i++) {
      json_t *e = json_array_get(in, i), *al = json_object_get(e, "attrs");
      msgs[i].id = json_string_value(json_object_get(e, "id"));
      msgs[i].body = json_string_value(json_object_get(e, "body"));
      for (j = 0; j < json_array_size(al) && j < 10; j++) {
        json_t *t = json_array_get(al, j);
        attrs[i][j].name = json_string_value(json_array_get(t, 0));
        attrs[i][j].type = json_string_value(json_array_get(t, 1));
        attrs[i][j].value = json_string_value(json_array_get(t, 2));
      }
      msgs[i].attrs = attrs[i];
      msgs[i].nattrs = j;
    }
    rc = iris_sqs_send_batch(sqs, argv[2], msgs, n, &res, err);
    if (rc == IRIS_OK)
      print_json(batch_json(&res));
    iris_sqs_batch_result_cleanup(&res);
    json_decref(in);
  } else if (strcmp(cmd, "receive") == 0 && argc == 6) {
    struct iris_sqs_received r;
    json_t *out;
    size_t i, j;
    rc = iris_sqs_receive(sqs, argv[2], num(argv[3]), num(argv[4]), num(argv[5]), &r, err);
    if (rc)
      return rc;
    out = json_array();
    for (i = 0; i < r.n; i++) {
      const struct iris_sqs_msg *m = &r.msgs[i];
      json_t *attrs = json_object();
      for (j = 0; j < m->nattrs; j++)
        json_object_set_new(attrs, m->attrs[j].name,
                            json_pack("{s:s, s:s}", "DataType", m->attrs[j].type, "Value",
                                      m->attrs[j].value));
      json_array_append_new(out, json_pack("{s:s, s:s, s:s%, s:I, s:I, s:o}", "MessageId",
                                           m->message_id, "ReceiptHandle", m->receipt_handle,
                                           "Body", m->body, m->body_len, "ReceiveCount",
                                           (json_int_t)m->receive_count, "SentTimestamp",
                                           (json_int_t)m->sent_timestamp_ms, "Attributes", attrs));
    }
    print_json(out);
    iris_sqs_received_cleanup(&r);
  } else if (strcmp(cmd, "delete") == 0 && argc == 4) {
    rc = iris_sqs_delete(sqs, argv[2], argv[3], err);
  } else if (strcmp(cmd, "delete-batch") == 0 && argc >= 4) {
    struct iris_sqs_batch_result res;
    rc = iris_sqs_delete_batch(sqs, argv[2], (const char *const *)argv + 3, (size_t)argc - 3, &res,
                               err);
    if (rc == IRIS_OK)
      print_json(batch_json(&res));
    iris_sqs_batch_result_cleanup(&res);
  } else if (strcmp(cmd, "visibility") == 0 && argc == 5) {
    rc = iris_sqs_change_visibility(sqs, argv[2], argv[3], num(argv[4]), err);
  } else if (strcmp(cmd, "attr") == 0 && argc == 4) {
    char *v = NULL;
    rc = iris_sqs_get_queue_attribute(sqs, argv[2], argv[3], &v, err);
    if (rc == IRIS_OK)
      print_json(json_pack("{s:s?}", "Value", v));
    iris_free(v);
  } else if (strcmp(cmd, "delete-queue") == 0 && argc == 3) {
    rc = iris_sqs_delete_queue(sqs, argv[2], err);
  } else {
    return -1;
  }
  return rc;
}

int main(int argc, char **argv) {
  struct iris_aws_creds creds;
  struct iris_aws_opts opts = {0};
  struct iris_sqs *sqs = NULL;
  struct iris_err err = {0};
  const char *endpoint = getenv("IRIS_SQS_ENDPOINT");
  int rc;

  if (argc < 2)
    return usage();
  if (!endpoint)
    endpoint = getenv("IRIS_TEST_AWS_ENDPOINT");
  rc = iris_aws_creds_from_env(&creds, &err);
  if (rc == IRIS_OK) {
    opts.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    opts.endpoint = endpoint;
    opts.creds = &creds;
    opts.max_attempts = getenv("IRIS_SQS_ATTEMPTS") ? num(getenv("IRIS_SQS_ATTEMPTS")) : 0;
    opts.timeout_ms = getenv("IRIS_SQS_TIMEOUT_MS")
                          ? strtol(getenv("IRIS_SQS_TIMEOUT_MS"), NULL, 10)
                          : 30000;
    rc = iris_sqs_new(&opts, &sqs, &err);
  }
  if (rc == IRIS_OK)
    rc = run(sqs, argc, argv, &err);
  iris_sqs_free(sqs);
  iris_aws_creds_cleanup(&creds);
  if (rc == -1)
    return usage();
  if (rc) {
    fprintf(stderr, "error: %s: %s\n", iris_rc_name(rc), err.msg);
    return 1;
  }
  return 0;
}
