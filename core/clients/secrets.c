/* secrets.c — Secrets Manager GetSecretValue with a process cache (see secrets.h). */
#include "secrets.h"

#include <jansson.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

#define IRIS_LOG_MODULE "secrets"
#include "log.h"

struct cached {
  char *id;
  char *value;
  struct cached *next;
};

struct iris_secrets {
  struct iris_aws *aws;
  struct cached *cache;
};

int iris_secrets_new(const struct iris_aws_opts *opts, struct iris_secrets **out,
                     struct iris_err *err) {
  struct iris_secrets *s = iris_calloc(1, sizeof *s);
  int rc;
  *out = NULL;
  if (!s)
    return iris_err_set(err, IRIS_ENOMEM, "secrets: allocating");
  rc = iris_aws_new("secretsmanager", opts, &s->aws, err);
  if (rc) {
    iris_free(s);
    return rc;
  }
  *out = s;
  return IRIS_OK;
}

static void wipe_free(char *p) {
  if (p) {
    memset(p, 0, strlen(p));
    iris_free(p);
  }
}

void iris_secrets_free(struct iris_secrets *s) {
  struct cached *c, *next;
  if (!s)
    return;
  for (c = s->cache; c; c = next) {
    next = c->next;
    iris_free(c->id);
    wipe_free(c->value);
    iris_free(c);
  }
  iris_aws_free(s->aws);
  iris_free(s);
}

int iris_secrets_fetch(void *secrets, const char *id, char **value, struct iris_err *err) {
  struct iris_secrets *s = secrets;
  struct iris_buf resp;
  struct cached *c;
  json_t *req = NULL, *doc = NULL, *str;
  char *body = NULL;
  int rc;

  *value = NULL;
  if (!id || !*id)
    return iris_err_set(err, IRIS_EINVAL, "secrets: empty secret id");
  for (c = s->cache; c; c = c->next) {
    if (strcmp(c->id, id) == 0) {
      *value = iris_strdup(c->value);
      return *value ? IRIS_OK : iris_err_set(err, IRIS_ENOMEM, "secrets: copying");
    }
  }
  iris_buf_init(&resp, 0);
  req = json_pack("{s:s}", "SecretId", id);
  body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  if (!body) {
    rc = iris_err_set(err, IRIS_ENOMEM, "secrets: building the request");
    goto out;
  }
  rc = iris_aws_call(s->aws, "secretsmanager.GetSecretValue", "1.1", body, &resp, err);
  if (rc) {
    iris_err_prefix(err, "secrets: GetSecretValue '%s'", id);
    goto out;
  }
  doc = json_loadb(iris_buf_ptr(&resp), iris_buf_len(&resp), 0, NULL);
  str = json_object_get(doc, "SecretString");
  if (!json_is_string(str)) {
    rc = iris_err_set(err, json_object_get(doc, "SecretBinary") ? IRIS_EUNSUPPORTED : IRIS_EPARSE,
                      "secrets: '%s' has no SecretString (binary secrets are not supported)", id);
    goto out;
  }
  if (json_string_length(str) >= 4) {
    rc = iris_log_add_secret(json_string_value(str));
    if (rc) {
      iris_err_set(err, rc, "secrets: registering for redaction");
      goto out;
    }
  }
  c = iris_calloc(1, sizeof *c);
  if (c) {
    c->id = iris_strdup(id);
    c->value = iris_strdup(json_string_value(str));
  }
  *value = iris_strdup(json_string_value(str));
  if (!c || !c->id || !c->value || !*value) {
    if (c) {
      iris_free(c->id);
      wipe_free(c->value);
      iris_free(c);
    }
    wipe_free(*value);
    *value = NULL;
    rc = iris_err_set(err, IRIS_ENOMEM, "secrets: caching");
    goto out;
  }
  c->next = s->cache;
  s->cache = c;
  IRIS_LOG_INFO("resolved secret '%s'", id);
out:
  /* The answer holds the secret in clear text: wipe it before release. */
  if (iris_buf_len(&resp))
    memset((char *)iris_buf_ptr(&resp), 0, iris_buf_len(&resp));
  iris_buf_cleanup(&resp);
  json_decref(doc);
  json_decref(req);
  iris_free(body);
  return rc;
}
