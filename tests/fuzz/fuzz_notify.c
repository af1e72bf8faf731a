/*
 * fuzz_notify.c — the notify function's request parsers on arbitrary bytes: the API Gateway
 * event (core/notify/apigw.c, both payload formats, base64 bodies) and, inside a parsed
 * event or on the raw bytes, the form decoding and both signatures (core/notify/sign.c).
 * Built by tests/fuzz/build.sh; a short run is a test (fuzz.notify), bench/fuzz.sh runs it long.
 *
 * Checked beyond "no crash, no leak, no UB": an accepted body is within the limit and
 * NUL-terminated, a refusal says why, decoded form parameters never hold a NUL byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apigw.h"
#include "sign.h"

#define FUZZ_MAX_BODY 4096

static void check_err(const struct iris_err *err) {
  if (err->msg[0] == '\0' || memchr(err->msg, '\0', sizeof err->msg) == NULL)
    __builtin_trap();
}

static void forms(const char *body, size_t len) {
  struct iris_sign_params p;
  struct iris_err err = {0};
  if (iris_sign_form_parse(body, len, 20, &p, &err) == IRIS_OK) {
    struct iris_buf sig;
    size_t i;
    for (i = 0; i < p.n; i++)
      if (!p.v[i].name || !p.v[i].value)
        __builtin_trap();
    iris_buf_init(&sig, 1024);
    if (iris_sign_twilio("token", "https://example.com/v0/twilio/messages/status", &p, &sig) ==
        IRIS_OK) {
      if (iris_buf_len(&sig) != 28) /* base64 of a SHA-1 */
        __builtin_trap();
      if (!iris_sign_twilio_check("token", "https://example.com/v0/twilio/messages/status", &p,
                                  iris_buf_ptr(&sig)))
        __builtin_trap();
    }
    (void)iris_sign_param(&p, "MessageSid");
    iris_buf_cleanup(&sig);
    iris_sign_params_cleanup(&p);
  } else {
    check_err(&err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct iris_apigw_request req;
  struct iris_err err = {0};
  if (iris_apigw_parse((const char *)data, size, FUZZ_MAX_BODY, &req, &err) == IRIS_OK) {
    struct iris_sign_request sr = {req.method,   req.path,
                                   req.query,    req.body,
                                   req.body_len, iris_apigw_header(&req, "x-iris-username")};
    struct iris_buf d;
    if (!req.method || !req.path || !req.query || !req.full_path || !req.body ||
        req.body_len > FUZZ_MAX_BODY || req.body[req.body_len] != '\0')
      __builtin_trap();
    iris_buf_init(&d, 1024);
    if (iris_sign_iris_digest("key", &sr, 12345, &d) == IRIS_OK &&
        !iris_sign_iris_check("key", &sr, 12345 * 5, iris_buf_ptr(&d)))
      __builtin_trap();
    (void)iris_apigw_header(&req, "authorization");
    iris_buf_cleanup(&d);
    forms(req.body, req.body_len);
    iris_apigw_request_cleanup(&req);
  } else {
    check_err(&err);
  }
  forms((const char *)data, size);
  return 0;
}
