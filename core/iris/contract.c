/* contract.c — the queue envelope (see contract.h and docs/message-contract.md). */
#include "contract.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "utf8.h"

void iris_envelope_cleanup(struct iris_envelope *e) {
  if (!e)
    return;
  iris_free(e->message_ids);
  json_decref(e->notification);
  memset(e, 0, sizeof *e);
}

/* A positive id, as JSON Schema's {"type": "integer", "minimum": 1} reads it: a number with
 * no fractional part (5 or 5.0) that fits int64. */
static int positive_id(json_t *v, int64_t *out) {
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (!(d >= 1.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d)
      return 0;
    *out = (int64_t)d;
    return 1;
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return 0;
  *out = json_integer_value(v);
  return 1;
}

/* Only these keys may appear; report the first other one. */
static int only_fields(json_t *o, const char *const *allowed, const char *kind,
                       struct iris_err *err) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    size_t i;
    int ok = 0;
    for (i = 0; allowed[i] && !ok; i++)
      ok = strcmp(allowed[i], k) == 0;
    if (!ok)
      return iris_err_set(err, IRIS_EINVAL, "envelope: unknown field '%.*s' in a %s",
                          iris_utf8_prec(k, 60), k, kind);
  }
  return IRIS_OK;
}

/* A text field: absent is fine unless required; null or another type is refused (the schema
 * says "string"); its length counts characters, as JSON Schema and MySQL's VARCHAR do. */
static int str_field(json_t *o, const char *name, size_t min, size_t max, int required,
                     struct iris_err *err) {
  json_t *v = json_object_get(o, name);
  size_t chars;
  if (!v)
    return required ? iris_err_set(err, IRIS_EINVAL, "envelope: field '%s' is required", name)
                    : IRIS_OK;
  if (json_is_null(v))
    return iris_err_set(err, IRIS_EINVAL, "envelope: field '%s' must be a string, not null", name);
  if (!json_is_string(v))
    return iris_err_set(err, IRIS_EINVAL, "envelope: field '%s' must be a string", name);
  chars = iris_utf8_count(json_string_value(v), json_string_length(v));
  if (chars > max)
    return iris_err_set(err, IRIS_EINVAL, "envelope: field '%s' is longer than %zu characters",
                        name, max);
  if (chars < min)
    return iris_err_set(err, IRIS_EINVAL, "envelope: field '%s' must not be empty", name);
  return IRIS_OK;
}

static int parse_notification(json_t *root, struct iris_envelope *out, struct iris_err *err) {
  static const char *const allowed[] = {"v",           "kind",       "notification_id",
                                        "application", "target",     "role",
                                        "priority",    "mode",       "category",
                                        "subject",     "body",       "template",
                                        "context",     "email_html", NULL};
  json_t *ctx = json_object_get(root, "context");
  int rc, chosen;
  if ((rc = only_fields(root, allowed, "notification", err)))
    return rc;
  if ((rc = str_field(root, "notification_id", 1, 64, 1, err)) ||
      (rc = str_field(root, "application", 0, 255, 1, err)) ||
      (rc = str_field(root, "target", 0, 255, 1, err)) ||
      (rc = str_field(root, "role", 0, 64, 1, err)) ||
      (rc = str_field(root, "priority", 0, 64, 0, err)) ||
      (rc = str_field(root, "mode", 0, 64, 0, err)) ||
      (rc = str_field(root, "category", 0, 255, 0, err)) ||
      (rc = str_field(root, "subject", 0, 255, 0, err)) ||
      (rc = str_field(root, "body", 0, 1024 * 1024, 0, err)) ||
      (rc = str_field(root, "template", 0, 255, 0, err)) ||
      (rc = str_field(root, "email_html", 0, 1024 * 1024, 0, err)))
    return rc;
  {
    /* The id keys the sender's rows (ASCII columns) and its recipients' claims: another
     * character could not be stored, and the record would fail on every receive. */
    const char *id = json_string_value(json_object_get(root, "notification_id"));
    for (; *id; id++)
      if (!iris_ascii_graphic(*id))
        return iris_err_set(err, IRIS_EINVAL,
                            "envelope: field 'notification_id' must be printable ASCII"
                            " without spaces (a UUID, say)");
  }
  chosen = (json_object_get(root, "priority") != NULL) + (json_object_get(root, "mode") != NULL) +
           (json_object_get(root, "category") != NULL);
  if (chosen == 0)
    return iris_err_set(err, IRIS_EINVAL,
                        "envelope: a notification needs one of priority, mode, category");
  /* Iris's API takes several and uses the first of priority, mode, category (its own tests
   * send priority and mode together): the others are dropped here, so the sender sees one. */
  if (json_object_get(root, "priority")) {
    json_object_del(root, "mode");
    json_object_del(root, "category");
  } else if (json_object_get(root, "mode")) {
    json_object_del(root, "category");
  }
  if (!json_object_get(root, "body") && !json_object_get(root, "template") &&
      !json_object_get(root, "email_html"))
    return iris_err_set(err, IRIS_EINVAL,
                        "envelope: a notification needs a body, a template or email_html");
  if (ctx && !json_is_object(ctx))
    return iris_err_set(err, IRIS_EINVAL, "envelope: field 'context' must be an object");
  if (json_object_get(root, "template") && !ctx)
    return iris_err_set(err, IRIS_EINVAL, "envelope: a template notification needs a context");
  out->kind = IRIS_ENV_NOTIFICATION;
  out->notification = json_incref(root);
  return IRIS_OK;
}

int iris_envelope_parse(const char *text, size_t len, struct iris_envelope *out,
                        struct iris_err *err) {
  json_error_t jerr;
  json_t *root, *v, *kind;
  const char *k;
  int64_t version = 0;
  int rc = IRIS_OK;

  memset(out, 0, sizeof *out);
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return iris_err_set(err, IRIS_EPARSE, "envelope: not valid JSON (line %d column %d: %s)",
                        jerr.line, jerr.column, jerr.text);
  if (!json_is_object(root)) {
    rc = iris_err_set(err, IRIS_EPARSE, "envelope: not a JSON object");
    goto out;
  }
  v = json_object_get(root, "v");
  if (!json_is_number(v)) {
    rc = iris_err_set(err, IRIS_EINVAL, "envelope: field 'v' (the version) must be an integer");
    goto out;
  }
  /* 1.0 is 1, as JSON Schema compares numbers. */
  if (!positive_id(v, &version) || version != IRIS_CONTRACT_VERSION) {
    if (json_is_integer(v))
      rc = iris_err_set(err, IRIS_EINVAL, "envelope: unsupported version %" PRId64,
                        (int64_t)json_integer_value(v));
    else
      rc = iris_err_set(err, IRIS_EINVAL, "envelope: unsupported version %g", json_real_value(v));
    goto out;
  }
  kind = json_object_get(root, "kind");
  k = json_string_value(kind);
  if (!k) {
    rc = iris_err_set(err, IRIS_EINVAL, "envelope: field 'kind' must be a string");
    goto out;
  }
  if (strcmp(k, "message") == 0) {
    static const char *const allowed[] = {"v", "kind", "message_id", NULL};
    if ((rc = only_fields(root, allowed, "message", err)))
      goto out;
    if (!positive_id(json_object_get(root, "message_id"), &out->message_id)) {
      rc = iris_err_set(err, IRIS_EINVAL,
                        "envelope: field 'message_id' must be a positive integer");
      goto out;
    }
    out->kind = IRIS_ENV_MESSAGE;
  } else if (strcmp(k, "batch") == 0) {
    static const char *const allowed[] = {"v", "kind", "batch_id", "message_ids", NULL};
    const char *b = json_string_value(json_object_get(root, "batch_id"));
    json_t *ids = json_object_get(root, "message_ids");
    size_t i;
    if ((rc = only_fields(root, allowed, "batch", err)))
      goto out;
    if (!b || strlen(b) != 32 || strspn(b, "0123456789abcdef") != 32) {
      rc = iris_err_set(err, IRIS_EINVAL,
                        "envelope: field 'batch_id' must be 32 lower-case hex digits");
      goto out;
    }
    if (!json_is_array(ids) || json_array_size(ids) < 1 ||
        json_array_size(ids) > IRIS_CONTRACT_MAX_BATCH) {
      rc = iris_err_set(err, IRIS_EINVAL, "envelope: field 'message_ids' must list 1-%d ids",
                        IRIS_CONTRACT_MAX_BATCH);
      goto out;
    }
    out->message_ids = iris_calloc(json_array_size(ids), sizeof *out->message_ids);
    if (!out->message_ids) {
      rc = iris_err_set(err, IRIS_ENOMEM, "envelope: batch ids");
      goto out;
    }
    for (i = 0; i < json_array_size(ids); i++) {
      if (!positive_id(json_array_get(ids, i), &out->message_ids[i])) {
        rc = iris_err_set(err, IRIS_EINVAL,
                          "envelope: message_ids[%zu] must be a positive integer", i);
        goto out;
      }
    }
    out->nmessage_ids = i;
    memcpy(out->batch_id, b, 33);
    out->kind = IRIS_ENV_BATCH;
  } else if (strcmp(k, "tracking") == 0) {
    static const char *const allowed[] = {"v", "kind", "incident_id", NULL};
    if ((rc = only_fields(root, allowed, "tracking", err)))
      goto out;
    if (!positive_id(json_object_get(root, "incident_id"), &out->incident_id)) {
      rc = iris_err_set(err, IRIS_EINVAL,
                        "envelope: field 'incident_id' must be a positive integer");
      goto out;
    }
    out->kind = IRIS_ENV_TRACKING;
  } else if (strcmp(k, "notification") == 0) {
    rc = parse_notification(root, out, err);
  } else {
    rc = iris_err_set(err, IRIS_EINVAL, "envelope: unknown kind '%.*s'", iris_utf8_prec(k, 40), k);
  }
out:
  if (rc)
    iris_envelope_cleanup(out);
  json_decref(root);
  return rc;
}

int iris_envelope_encode_message(int64_t message_id, struct iris_buf *out) {
  return iris_buf_appendf(out, "{\"kind\":\"message\",\"message_id\":%" PRId64 ",\"v\":%d}",
                          message_id, IRIS_CONTRACT_VERSION);
}

int iris_envelope_encode_tracking(int64_t incident_id, struct iris_buf *out) {
  return iris_buf_appendf(out, "{\"incident_id\":%" PRId64 ",\"kind\":\"tracking\",\"v\":%d}",
                          incident_id, IRIS_CONTRACT_VERSION);
}

int iris_envelope_encode_batch(const char *batch_id, const int64_t *ids, size_t n,
                               struct iris_buf *out) {
  size_t i;
  int rc = iris_buf_appendf(out, "{\"batch_id\":\"%s\",\"kind\":\"batch\",\"message_ids\":[",
                            batch_id);
  for (i = 0; i < n && rc == IRIS_OK; i++)
    rc = iris_buf_appendf(out, "%s%" PRId64, i ? "," : "", ids[i]);
  return rc ? rc : iris_buf_appendf(out, "],\"v\":%d}", IRIS_CONTRACT_VERSION);
}

/* The one list of lanes: a lane per Iris mode with its own vendors, then the lane for
 * out-of-band notifications and quota notices, which may name any mode. */
static const char *const lanes[] = {"email", "sms",     "call",          "im",
                                    "slack", "hipchat", "notifications", NULL};

const char *const *iris_contract_lanes(void) { return lanes; }

const char *iris_contract_lane(const char *mode) {
  size_t i;
  for (i = 0; mode && lanes[i + 1]; i++) /* every lane but "notifications" */
    if (strcmp(mode, lanes[i]) == 0)
      return lanes[i];
  return "notifications";
}
