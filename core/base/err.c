/* err.c — rc names and the iris_err message helpers (see err.h). */
#include "err.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

const char *iris_rc_name(int rc) {
  switch (rc) {
#define IRIS__RC_NAME(name, value, desc) \
  case value: return "IRIS_" #name;
    IRIS_RC_LIST(IRIS__RC_NAME)
#undef IRIS__RC_NAME
  default: return "IRIS_E?";
  }
}

const char *iris_rc_str(int rc) {
  switch (rc) {
#define IRIS__RC_DESC(name, value, desc) \
  case value: return desc;
    IRIS_RC_LIST(IRIS__RC_DESC)
#undef IRIS__RC_DESC
  default: return "unknown error";
  }
}

void iris_err_clear(struct iris_err *err) {
  if (err) {
    err->rc = IRIS_OK;
    err->msg[0] = '\0';
  }
}

int iris_err_vset(struct iris_err *err, int rc, const char *fmt, va_list ap) {
  if (err) {
    err->rc = (enum iris_rc)rc;
    if (fmt) {
      /* Messages quote outside text (vendor answers, names, JSON keys): cut to the buffer
       * or not, they leave here as valid UTF-8 (logs, dead-letter reasons, changelogs). */
      vsnprintf(err->msg, sizeof err->msg, fmt, ap);
      iris_utf8_repair(err->msg, sizeof err->msg - 1);
    } else
      snprintf(err->msg, sizeof err->msg, "%s", iris_rc_str(rc));
  }
  return rc;
}

int iris_err_set(struct iris_err *err, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  iris_err_vset(err, rc, fmt, ap);
  va_end(ap);
  return rc;
}

int iris_err_prefix(struct iris_err *err, const char *fmt, ...) {
  /* Room for both parts in full; the result is cut to IRIS_ERR_SIZE on purpose. */
  char joined[2 * IRIS_ERR_SIZE + 2];
  size_t n;
  va_list ap;
  if (!err)
    return IRIS_OK;
  va_start(ap, fmt);
  vsnprintf(joined, IRIS_ERR_SIZE, fmt, ap);
  iris_utf8_repair(joined, IRIS_ERR_SIZE - 1);
  va_end(ap);
  n = strlen(joined);
  joined[n++] = ':';
  joined[n++] = ' ';
  memcpy(joined + n, err->msg, strnlen(err->msg, IRIS_ERR_SIZE - 1));
  joined[n + strnlen(err->msg, IRIS_ERR_SIZE - 1)] = '\0';
  iris_utf8_repair(joined, IRIS_ERR_SIZE - 1);
  memcpy(err->msg, joined, IRIS_ERR_SIZE - 1);
  err->msg[IRIS_ERR_SIZE - 1] = '\0';
  return err->rc;
}
