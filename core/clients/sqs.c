/*
 * sqs.c — SQS over the JSON protocol (see sqs.h). Requests are built and answers read with
 * jansson; transport, signing, retries and AWS error parsing live in aws.c.
 */
#include "sqs.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

#define IRIS_LOG_MODULE "sqs"
#include "log.h"
#include "utf8.h"

struct iris_sqs {
  struct iris_aws *aws;
};

int iris_sqs_new(const struct iris_aws_opts *opts, struct iris_sqs **out, struct iris_err *err) {
  struct iris_sqs *sqs = NULL;
  int rc;
  *out = NULL;
  sqs = iris_calloc(1, sizeof *sqs);
  if (!sqs)
    return iris_err_set(err, IRIS_ENOMEM, "sqs: allocating the client");
  rc = iris_aws_new("sqs", opts, &sqs->aws, err);
  if (rc) {
    iris_free(sqs);
    return rc;
  }
  *out = sqs;
  return IRIS_OK;
}

void iris_sqs_free(struct iris_sqs *sqs) {
  if (!sqs)
    return;
  iris_aws_free(sqs->aws);
  iris_free(sqs);
}

/* ---- validation ---------------------------------------------------------------------- */

/* Decode one UTF-8 sequence at s (n bytes left); returns its length or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned long *cp) {
  size_t len, i;
  unsigned long c;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xE0) == 0xC0) {
    len = 2;
    c = s[0] & 0x1F;
  } else if ((s[0] & 0xF0) == 0xE0) {
    len = 3;
    c = s[0] & 0x0F;
  } else if ((s[0] & 0xF8) == 0xF0) {
    len = 4;
    c = s[0] & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  /* Overlong forms and surrogates are not valid UTF-8. */
  if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
      c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return len;
}

int iris_sqs_check_body(const char *body, size_t len, struct iris_err *err) {
  size_t i = 0;
  if (!body || len == 0)
    return iris_err_set(err, IRIS_EINVAL, "sqs: message body is empty");
  if (len > IRIS_SQS_MAX_BODY)
    return iris_err_set(err, IRIS_ETOOBIG, "sqs: message body of %zu bytes exceeds %zu", len,
                        IRIS_SQS_MAX_BODY);
  while (i < len) {
    unsigned long cp = 0;
    size_t step = utf8_next((const unsigned char *)body + i, len - i, &cp);
    if (step == 0)
      return iris_err_set(err, IRIS_EINVAL, "sqs: message body is not valid UTF-8 at byte %zu", i);
    if (!(cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
          (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000))
      return iris_err_set(err, IRIS_EINVAL,
                          "sqs: message body has character U+%04lX at byte %zu, which SQS "
                          "does not accept",
                          cp, i);
    i += step;
  }
  return IRIS_OK;
}

static int check_entry_id(const char *id, struct iris_err *err) {
  size_t i, n = id ? strlen(id) : 0;
  if (n == 0 || n > 80)
    return iris_err_set(err, IRIS_EINVAL, "sqs: batch entry id must be 1-80 characters");
  for (i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return iris_err_set(err, IRIS_EINVAL, "sqs: batch entry id '%s' may only hold [A-Za-z0-9_-]",
                          id);
  }
  return IRIS_OK;
}

static int check_batch_size(size_t n, struct iris_err *err) {
  if (n == 0 || n > IRIS_SQS_MAX_BATCH)
    return iris_err_set(err, IRIS_EINVAL, "sqs: a batch holds 1-%d entries, got %zu",
                        IRIS_SQS_MAX_BATCH, n);
  return IRIS_OK;
}

/* ---- request building ---------------------------------------------------------------- */

/* json_object_set_new that reports allocation failure. */
static int set(json_t *obj, const char *key, json_t *val) {
  return (val && json_object_set_new(obj, key, val) == 0) ? IRIS_OK : IRIS_ENOMEM;
}

static int put_message(json_t *obj, const struct iris_sqs_out *m, struct iris_err *err) {
  size_t i;
  int rc;
  rc = iris_sqs_check_body(m->body, m->body ? strlen(m->body) : 0, err);
  if (rc)
    return rc;
  if (m->delay_seconds > 900)
    return iris_err_set(err, IRIS_EINVAL, "sqs: delay of %d s exceeds 900", m->delay_seconds);
  if (m->nattrs > IRIS_SQS_MAX_ATTRS)
    return iris_err_set(err, IRIS_EINVAL, "sqs: %zu message attributes, at most %d", m->nattrs,
                        IRIS_SQS_MAX_ATTRS);
  rc = set(obj, "MessageBody", json_string(m->body));
  if (rc == IRIS_OK && m->delay_seconds > 0)
    rc = set(obj, "DelaySeconds", json_integer(m->delay_seconds));
  if (rc == IRIS_OK && m->group_id)
    rc = set(obj, "MessageGroupId", json_string(m->group_id));
  if (rc == IRIS_OK && m->dedup_id)
    rc = set(obj, "MessageDeduplicationId", json_string(m->dedup_id));
  if (rc == IRIS_OK && m->nattrs) {
    json_t *attrs = json_object();
    rc = set(obj, "MessageAttributes", attrs);
    for (i = 0; rc == IRIS_OK && i < m->nattrs; i++) {
      const struct iris_sqs_attr *a = &m->attrs[i];
      json_t *one = json_object();
      int binary = a->type && strncmp(a->type, "Binary", 6) == 0;
      if (!a->name || !*a->name || !a->type || !a->value ||
          (strncmp(a->type, "String", 6) != 0 && strncmp(a->type, "Number", 6) != 0 && !binary)) {
        json_decref(one);
        return iris_err_set(err, IRIS_EINVAL,
                            "sqs: message attribute %zu needs a name, a value and a type of "
                            "String, Number or Binary",
                            i);
      }
      rc = set(attrs, a->name, one);
      if (rc == IRIS_OK)
        rc = set(one, "DataType", json_string(a->type));
      if (rc == IRIS_OK)
        rc = set(one, binary ? "BinaryValue" : "StringValue", json_string(a->value));
    }
  }
  if (rc == IRIS_ENOMEM)
    iris_err_set(err, rc, "sqs: building the request");
  return rc;
}

/* Serialise req, call target, parse the answer into *answer (NULL allowed). */
static int call_t(struct iris_sqs *sqs, const char *action, json_t *req, long timeout_ms,
                  json_t **answer, struct iris_err *err);

static int call(struct iris_sqs *sqs, const char *action, json_t *req, json_t **answer,
                struct iris_err *err) {
  return call_t(sqs, action, req, 0, answer, err);
}

static int call_t(struct iris_sqs *sqs, const char *action, json_t *req, long timeout_ms,
                  json_t **answer, struct iris_err *err) {
  char target[64];
  char *text = NULL;
  struct iris_buf resp;
  json_t *doc = NULL;
  json_error_t jerr;
  int rc;

  iris_buf_init(&resp, 0);
  if (answer)
    *answer = NULL;
  snprintf(target, sizeof target, "AmazonSQS.%s", action);
  text = json_dumps(req, JSON_COMPACT);
  if (!text) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sqs %s: serialising the request", action);
    goto out;
  }
  rc = iris_aws_call_timeout(sqs->aws, target, "1.0", text, timeout_ms, &resp, err);
  if (rc) {
    iris_err_prefix(err, "sqs %s", action);
    goto out;
  }
  if (answer) {
    doc = json_loadb(iris_buf_ptr(&resp), iris_buf_len(&resp), 0, &jerr);
    if (!json_is_object(doc)) {
      rc = iris_err_set(err, IRIS_EPARSE, "sqs %s: answer is not a JSON object: %s", action,
                        doc ? "wrong type" : jerr.text);
      goto out;
    }
    *answer = doc;
    doc = NULL;
  }
out:
  json_decref(doc);
  iris_free(text);
  iris_buf_cleanup(&resp);
  return rc;
}

static json_t *new_req(const char *queue_url) {
  json_t *req = json_object();
  if (req && queue_url && json_object_set_new(req, "QueueUrl", json_string(queue_url)) != 0) {
    json_decref(req);
    req = NULL;
  }
  return req;
}

static char *dup_member(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? iris_strdup(json_string_value(v)) : NULL;
}

/* ---- results ------------------------------------------------------------------------- */

static void entry_cleanup(struct iris_sqs_entry_result *e) {
  iris_free(e->id);
  iris_free(e->message_id);
  iris_free(e->code);
  iris_free(e->message);
}

void iris_sqs_batch_result_cleanup(struct iris_sqs_batch_result *res) {
  size_t i;
  if (!res)
    return;
  for (i = 0; i < res->nok; i++)
    entry_cleanup(&res->ok[i]);
  for (i = 0; i < res->nfailed; i++)
    entry_cleanup(&res->failed[i]);
  iris_free(res->ok);
  iris_free(res->failed);
  memset(res, 0, sizeof *res);
}

/* Has an entry of the answer (ok or failed) an Id we sent, not answered before? The answer
 * comes from outside: an unknown or repeated Id would make the caller count a message as
 * sent (or failed) that it never sent, or count one twice. */
static int answered_once(json_t *sent, const char *id, const struct iris_sqs_batch_result *res) {
  size_t i, known = 0;
  for (i = 0; i < json_array_size(sent) && !known; i++)
    known = strcmp(json_string_value(json_object_get(json_array_get(sent, i), "Id")), id) == 0;
  for (i = 0; known && i < res->nok; i++)
    known = !res->ok[i].id || strcmp(res->ok[i].id, id) != 0;
  for (i = 0; known && i < res->nfailed; i++)
    known = !res->failed[i].id || strcmp(res->failed[i].id, id) != 0;
  return (int)known;
}

static int read_batch_answer(json_t *answer, json_t *sent, struct iris_sqs_batch_result *res,
                             struct iris_err *err) {
  json_t *ok = json_object_get(answer, "Successful");
  json_t *failed = json_object_get(answer, "Failed");
  size_t i, nok = json_array_size(ok), nfailed = json_array_size(failed);
  const char *eid = NULL;
  char *id = NULL;
  int rc = IRIS_OK;

  if (nok + nfailed > json_array_size(sent)) {
    rc = iris_err_set(err, IRIS_EPARSE, "sqs: the batch answer has %zu entries for %zu sent",
                      nok + nfailed, json_array_size(sent));
    goto fail;
  }
  if (nok)
    res->ok = iris_calloc(nok, sizeof *res->ok);
  if (nfailed)
    res->failed = iris_calloc(nfailed, sizeof *res->failed);
  if ((nok && !res->ok) || (nfailed && !res->failed))
    goto oom;
  for (i = 0; i < nok + nfailed; i++) {
    json_t *e = i < nok ? json_array_get(ok, i) : json_array_get(failed, i - nok);
    struct iris_sqs_entry_result *r;
    eid = json_string_value(json_object_get(e, "Id"));
    if (!eid || !answered_once(sent, eid, res)) {
      rc = iris_err_set(err, IRIS_EPARSE,
                        "sqs: the batch answer names entry '%.*s', which was "
                        "not sent or was answered twice",
                        iris_utf8_prec(eid, 40), eid ? eid : "");
      goto fail;
    }
    id = iris_strdup(eid);
    if (!id)
      goto oom;
    r = i < nok ? &res->ok[res->nok++] : &res->failed[res->nfailed++];
    r->id = id;
    id = NULL;
    if (i < nok) {
      r->message_id = dup_member(e, "MessageId");
      continue;
    }
    r->code = dup_member(e, "Code");
    r->message = dup_member(e, "Message");
    r->sender_fault = json_is_true(json_object_get(e, "SenderFault"));
    IRIS_LOG_WARN("batch entry %s failed: %s: %s", r->id, r->code ? r->code : "?",
                  r->message ? r->message : "");
  }
  return IRIS_OK;
oom:
  rc = iris_err_set(err, IRIS_ENOMEM, "sqs: reading the batch answer");
fail:
  iris_sqs_batch_result_cleanup(res);
  return rc;
}

/* ---- actions ------------------------------------------------------------------------- */

/* The start every batch action shares: res emptied, the entry count checked, and *req built for
 * queue_url holding an empty "Entries" array, *entries (a second reference to that array).
 * Whatever it returns, the caller releases *req and *entries with json_decref (either may be
 * NULL). IRIS_EINVAL for a count outside 1-IRIS_SQS_MAX_BATCH, IRIS_ENOMEM. */
static int batch_begin(const char *action, const char *queue_url, size_t n,
                       struct iris_sqs_batch_result *res, json_t **req, json_t **entries,
                       struct iris_err *err) {
  int rc;
  memset(res, 0, sizeof *res);
  *req = NULL;
  *entries = NULL;
  rc = check_batch_size(n, err);
  if (rc)
    return rc;
  *req = new_req(queue_url);
  *entries = json_array();
  if (!*req || !*entries || json_object_set(*req, "Entries", *entries) != 0)
    return iris_err_set(err, IRIS_ENOMEM, "sqs %s: building the request", action);
  return IRIS_OK;
}

/* The end every batch action shares: sends req and reads the answer's per-entry results, checked
 * against the entries sent, into res. */
static int batch_finish(struct iris_sqs *sqs, const char *action, json_t *req, json_t *entries,
                        struct iris_sqs_batch_result *res, struct iris_err *err) {
  json_t *answer = NULL;
  int rc = call(sqs, action, req, &answer, err);
  if (rc == IRIS_OK)
    rc = read_batch_answer(answer, entries, res, err);
  json_decref(answer);
  return rc;
}

int iris_sqs_send(struct iris_sqs *sqs, const char *queue_url, const struct iris_sqs_out *msg,
                  char **message_id, struct iris_err *err) {
  json_t *req = new_req(queue_url), *answer = NULL;
  int rc;
  if (message_id)
    *message_id = NULL;
  if (!req) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sqs SendMessage: building the request");
    goto out;
  }
  rc = put_message(req, msg, err);
  if (rc)
    goto out;
  rc = call(sqs, "SendMessage", req, &answer, err);
  if (rc)
    goto out;
  if (message_id) {
    *message_id = dup_member(answer, "MessageId");
    if (!*message_id)
      rc = iris_err_set(err, IRIS_EPARSE, "sqs SendMessage: answer has no MessageId");
  }
out:
  json_decref(req);
  json_decref(answer);
  return rc;
}

int iris_sqs_send_batch(struct iris_sqs *sqs, const char *queue_url,
                        const struct iris_sqs_out *msgs, size_t n,
                        struct iris_sqs_batch_result *res, struct iris_err *err) {
  json_t *req = NULL, *entries = NULL;
  size_t i, j, total = 0;
  int rc;

  rc = batch_begin("SendMessageBatch", queue_url, n, res, &req, &entries, err);
  if (rc)
    goto out;
  for (i = 0; i < n; i++) {
    json_t *e = json_object();
    rc = check_entry_id(msgs[i].id, err);
    for (j = 0; rc == IRIS_OK && j < i; j++)
      if (strcmp(msgs[i].id, msgs[j].id) == 0)
        rc = iris_err_set(err, IRIS_EINVAL, "sqs: batch entry id '%s' is used twice", msgs[i].id);
    if (rc == IRIS_OK && (!e || json_array_append_new(entries, e) != 0)) {
      rc = iris_err_set(err, IRIS_ENOMEM, "sqs SendMessageBatch: building the request");
      e = NULL;
    }
    if (rc) {
      json_decref(e);
      goto out;
    }
    rc = set(e, "Id", json_string(msgs[i].id));
    if (rc == IRIS_OK)
      rc = put_message(e, &msgs[i], err);
    else
      iris_err_set(err, rc, "sqs SendMessageBatch: building the request");
    if (rc)
      goto out;
    total += strlen(msgs[i].body);
  }
  if (total > IRIS_SQS_MAX_BODY) {
    rc = iris_err_set(err, IRIS_ETOOBIG, "sqs: batch bodies total %zu bytes, more than %zu", total,
                      IRIS_SQS_MAX_BODY);
    goto out;
  }
  rc = batch_finish(sqs, "SendMessageBatch", req, entries, res, err);
out:
  json_decref(entries);
  json_decref(req);
  return rc;
}

void iris_sqs_received_cleanup(struct iris_sqs_received *r) {
  size_t i, j;
  if (!r)
    return;
  for (i = 0; i < r->n; i++) {
    struct iris_sqs_msg *m = &r->msgs[i];
    iris_free(m->message_id);
    iris_free(m->receipt_handle);
    iris_free(m->body);
    iris_free(m->md5_of_body);
    for (j = 0; j < m->nattrs; j++) {
      iris_free(m->attrs[j].name);
      iris_free(m->attrs[j].type);
      iris_free(m->attrs[j].value);
    }
    iris_free(m->attrs);
  }
  iris_free(r->msgs);
  memset(r, 0, sizeof *r);
}

static int64_t attr_i64(json_t *attrs, const char *name) {
  json_t *v = json_object_get(attrs, name);
  return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

static int md5_hex_matches(const char *body, size_t len, const char *expect) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int dl = 0, i;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  if (!expect)
    return 1; /* not every endpoint returns it */
  if (!EVP_Digest(body, len, d, &dl, EVP_md5(), NULL))
    return 0;
  for (i = 0; i < dl; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
  return strcmp(hex, expect) == 0;
}

static int read_message(json_t *e, struct iris_sqs_msg *m, struct iris_err *err) {
  json_t *sys = json_object_get(e, "Attributes");
  json_t *attrs = json_object_get(e, "MessageAttributes");
  json_t *body = json_object_get(e, "Body");
  const char *key;
  json_t *val;

  m->message_id = dup_member(e, "MessageId");
  m->receipt_handle = dup_member(e, "ReceiptHandle");
  m->md5_of_body = dup_member(e, "MD5OfBody");
  if (!json_is_string(body) || !m->message_id || !m->receipt_handle)
    return iris_err_set(err, json_is_string(body) ? IRIS_ENOMEM : IRIS_EPARSE,
                        "sqs ReceiveMessage: message without Body, MessageId or ReceiptHandle");
  m->body_len = json_string_length(body);
  m->body = iris_strndup(json_string_value(body), m->body_len);
  if (!m->body)
    return iris_err_set(err, IRIS_ENOMEM, "sqs ReceiveMessage: copying a body");
  if (!md5_hex_matches(m->body, m->body_len, m->md5_of_body))
    return iris_err_set(err, IRIS_EPARSE, "sqs ReceiveMessage: MD5 of message %s does not match",
                        m->message_id);
  m->receive_count = (long)attr_i64(sys, "ApproximateReceiveCount");
  m->sent_timestamp_ms = attr_i64(sys, "SentTimestamp");
  m->first_receive_ms = attr_i64(sys, "ApproximateFirstReceiveTimestamp");
  if (json_object_size(attrs)) {
    m->attrs = iris_calloc(json_object_size(attrs), sizeof *m->attrs);
    if (!m->attrs)
      return iris_err_set(err, IRIS_ENOMEM, "sqs ReceiveMessage: attributes");
    json_object_foreach(attrs, key, val) {
      struct iris_sqs_owned_attr *a = &m->attrs[m->nattrs++];
      json_t *sv = json_object_get(val, "StringValue");
      if (!json_is_string(sv))
        sv = json_object_get(val, "BinaryValue");
      a->name = iris_strdup(key);
      a->type = dup_member(val, "DataType");
      a->value = json_is_string(sv) ? iris_strdup(json_string_value(sv)) : iris_strdup("");
      if (!a->name || !a->type || !a->value)
        return iris_err_set(err, IRIS_ENOMEM, "sqs ReceiveMessage: attributes");
    }
  }
  return IRIS_OK;
}

int iris_sqs_receive(struct iris_sqs *sqs, const char *queue_url, int max_messages,
                     int wait_seconds, int visibility_timeout, struct iris_sqs_received *out,
                     struct iris_err *err) {
  json_t *req = NULL, *answer = NULL, *list;
  size_t i;
  int rc;

  memset(out, 0, sizeof *out);
  if (max_messages < 1 || max_messages > 10 || wait_seconds < 0 || wait_seconds > 20) {
    rc = iris_err_set(err, IRIS_EINVAL,
                      "sqs ReceiveMessage: max messages must be 1-10 and wait 0-20 s");
    goto out;
  }
  req = new_req(queue_url);
  rc = req ? IRIS_OK : IRIS_ENOMEM;
  if (rc == IRIS_OK)
    rc = set(req, "MaxNumberOfMessages", json_integer(max_messages));
  if (rc == IRIS_OK)
    rc = set(req, "WaitTimeSeconds", json_integer(wait_seconds));
  if (rc == IRIS_OK && visibility_timeout >= 0)
    rc = set(req, "VisibilityTimeout", json_integer(visibility_timeout));
  if (rc == IRIS_OK)
    rc = set(req, "AttributeNames", json_pack("[s]", "All"));
  if (rc == IRIS_OK)
    rc = set(req, "MessageAttributeNames", json_pack("[s]", "All"));
  if (rc) {
    iris_err_set(err, rc, "sqs ReceiveMessage: building the request");
    goto out;
  }
  /* A long poll may take wait_seconds: allow that plus the usual margin. */
  rc = call_t(sqs, "ReceiveMessage", req, (long)wait_seconds * 1000 + 10000, &answer, err);
  if (rc)
    goto out;
  list = json_object_get(answer, "Messages");
  if (json_array_size(list) == 0)
    goto out;
  out->msgs = iris_calloc(json_array_size(list), sizeof *out->msgs);
  if (!out->msgs) {
    rc = iris_err_set(err, IRIS_ENOMEM, "sqs ReceiveMessage: result");
    goto out;
  }
  for (i = 0; i < json_array_size(list); i++) {
    out->n++;
    rc = read_message(json_array_get(list, i), &out->msgs[i], err);
    if (rc)
      goto out;
  }
out:
  if (rc)
    iris_sqs_received_cleanup(out);
  json_decref(req);
  json_decref(answer);
  return rc;
}

int iris_sqs_delete(struct iris_sqs *sqs, const char *queue_url, const char *receipt_handle,
                    struct iris_err *err) {
  json_t *req = new_req(queue_url);
  int rc = (req && receipt_handle) ? set(req, "ReceiptHandle", json_string(receipt_handle))
                                   : IRIS_EINVAL;
  if (rc == IRIS_OK)
    rc = call(sqs, "DeleteMessage", req, NULL, err);
  else
    iris_err_set(err, rc, "sqs DeleteMessage: building the request");
  json_decref(req);
  return rc;
}

/* Shared by DeleteMessageBatch and ChangeMessageVisibilityBatch: ids are array indexes. */
static int receipt_batch(struct iris_sqs *sqs, const char *action, const char *queue_url,
                         const char *const *handles, const int *timeouts, size_t n,
                         struct iris_sqs_batch_result *res, struct iris_err *err) {
  json_t *req = NULL, *entries = NULL;
  size_t i;
  int rc;

  rc = batch_begin(action, queue_url, n, res, &req, &entries, err);
  if (rc)
    goto out;
  for (i = 0; rc == IRIS_OK && i < n; i++) {
    char id[24];
    json_t *e;
    if (!handles[i] || (timeouts && (timeouts[i] < 0 || timeouts[i] > 43200))) {
      rc = iris_err_set(err, IRIS_EINVAL,
                        "sqs %s: entry %zu needs a receipt handle (and a timeout 0-43200 s)",
                        action, i);
      goto out;
    }
    snprintf(id, sizeof id, "%zu", i);
    e = json_object();
    rc = (e && json_array_append_new(entries, e) == 0) ? IRIS_OK : IRIS_ENOMEM;
    if (rc == IRIS_OK)
      rc = set(e, "Id", json_string(id));
    if (rc == IRIS_OK)
      rc = set(e, "ReceiptHandle", json_string(handles[i]));
    if (rc == IRIS_OK && timeouts)
      rc = set(e, "VisibilityTimeout", json_integer(timeouts[i]));
  }
  if (rc) {
    iris_err_set(err, rc, "sqs %s: building the request", action);
    goto out;
  }
  rc = batch_finish(sqs, action, req, entries, res, err);
out:
  json_decref(entries);
  json_decref(req);
  return rc;
}

int iris_sqs_delete_batch(struct iris_sqs *sqs, const char *queue_url,
                          const char *const *receipt_handles, size_t n,
                          struct iris_sqs_batch_result *res, struct iris_err *err) {
  return receipt_batch(sqs, "DeleteMessageBatch", queue_url, receipt_handles, NULL, n, res, err);
}

int iris_sqs_change_visibility(struct iris_sqs *sqs, const char *queue_url,
                               const char *receipt_handle, int timeout_seconds,
                               struct iris_err *err) {
  json_t *req = new_req(queue_url);
  int rc = IRIS_OK;
  if (!receipt_handle || timeout_seconds < 0 || timeout_seconds > 43200) {
    rc = iris_err_set(err, IRIS_EINVAL,
                      "sqs ChangeMessageVisibility: needs a receipt handle and 0-43200 s");
    goto out;
  }
  rc = req ? set(req, "ReceiptHandle", json_string(receipt_handle)) : IRIS_ENOMEM;
  if (rc == IRIS_OK)
    rc = set(req, "VisibilityTimeout", json_integer(timeout_seconds));
  if (rc) {
    iris_err_set(err, rc, "sqs ChangeMessageVisibility: building the request");
    goto out;
  }
  rc = call(sqs, "ChangeMessageVisibility", req, NULL, err);
out:
  json_decref(req);
  return rc;
}

int iris_sqs_change_visibility_batch(struct iris_sqs *sqs, const char *queue_url,
                                     const char *const *receipt_handles,
                                     const int *timeout_seconds, size_t n,
                                     struct iris_sqs_batch_result *res, struct iris_err *err) {
  return receipt_batch(sqs, "ChangeMessageVisibilityBatch", queue_url, receipt_handles,
                       timeout_seconds, n, res, err);
}

static int url_answer(struct iris_sqs *sqs, const char *action, json_t *req, char **url,
                      struct iris_err *err) {
  json_t *answer = NULL;
  int rc = call(sqs, action, req, &answer, err);
  if (rc == IRIS_OK) {
    *url = dup_member(answer, "QueueUrl");
    if (!*url)
      rc = iris_err_set(err, IRIS_EPARSE, "sqs %s: answer has no QueueUrl", action);
  }
  json_decref(answer);
  return rc;
}

int iris_sqs_get_queue_url(struct iris_sqs *sqs, const char *queue_name, char **url,
                           struct iris_err *err) {
  json_t *req = json_object();
  int rc;
  *url = NULL;
  rc = (req && queue_name) ? set(req, "QueueName", json_string(queue_name)) : IRIS_EINVAL;
  if (rc == IRIS_OK)
    rc = url_answer(sqs, "GetQueueUrl", req, url, err);
  else
    iris_err_set(err, rc, "sqs GetQueueUrl: a queue name is required");
  json_decref(req);
  return rc;
}

int iris_sqs_create_queue(struct iris_sqs *sqs, const char *queue_name,
                          const char *const *attr_names, const char *const *attr_values,
                          size_t nattrs, char **url, struct iris_err *err) {
  json_t *req = json_object(), *attrs = NULL;
  size_t i;
  int rc;
  *url = NULL;
  rc = (req && queue_name) ? set(req, "QueueName", json_string(queue_name)) : IRIS_EINVAL;
  if (rc == IRIS_OK && nattrs) {
    attrs = json_object();
    rc = set(req, "Attributes", attrs);
    for (i = 0; rc == IRIS_OK && i < nattrs; i++)
      rc = set(attrs, attr_names[i], json_string(attr_values[i]));
  }
  if (rc == IRIS_OK)
    rc = url_answer(sqs, "CreateQueue", req, url, err);
  else
    iris_err_set(err, rc, "sqs CreateQueue: bad name or attributes");
  json_decref(req);
  return rc;
}

int iris_sqs_delete_queue(struct iris_sqs *sqs, const char *queue_url, struct iris_err *err) {
  json_t *req = new_req(queue_url);
  int rc = req ? call(sqs, "DeleteQueue", req, NULL, err)
               : iris_err_set(err, IRIS_ENOMEM, "sqs DeleteQueue: building the request");
  json_decref(req);
  return rc;
}

int iris_sqs_get_queue_attribute(struct iris_sqs *sqs, const char *queue_url, const char *name,
                                 char **value, struct iris_err *err) {
  json_t *req = new_req(queue_url), *answer = NULL;
  int rc;
  *value = NULL;
  rc = (req && name) ? set(req, "AttributeNames", json_pack("[s]", name)) : IRIS_EINVAL;
  if (rc == IRIS_OK)
    rc = call(sqs, "GetQueueAttributes", req, &answer, err);
  else
    iris_err_set(err, rc, "sqs GetQueueAttributes: an attribute name is required");
  if (rc == IRIS_OK) {
    json_t *v = json_object_get(json_object_get(answer, "Attributes"), name);
    if (json_is_string(v)) {
      *value = iris_strdup(json_string_value(v));
      if (!*value)
        rc = iris_err_set(err, IRIS_ENOMEM, "sqs GetQueueAttributes: copying the value");
    }
  }
  json_decref(req);
  json_decref(answer);
  return rc;
}
