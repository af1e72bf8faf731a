/*
 * err.h — the one error vocabulary of libiris-core.
 *
 * Layer: core, lowest level (depends on nothing). Every fallible core function returns
 * `int` holding an `enum iris_rc` (IRIS_OK == 0) and, where the caller passed one, fills a
 * caller-owned `struct iris_err` with the specific cause: which field, which SQL step,
 * which HTTP status. Values are pinned: never renumber or reuse one; add new codes at the
 * end of IRIS_RC_LIST.
 */
#ifndef IRIS_ERR_H
#define IRIS_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, value, short description) */
#define IRIS_RC_LIST(X) \
  X(OK, 0, "success") \
  X(ENOMEM, 1, "out of memory") \
  X(ETOOBIG, 2, "value exceeds its size limit") \
  X(EINVAL, 3, "invalid argument") \
  X(EPARSE, 4, "malformed input") \
  X(ENOTFOUND, 5, "not found") \
  X(EIO, 6, "input/output error") \
  X(ETIMEOUT, 7, "timed out") \
  X(ECONN, 8, "connection failed or lost") \
  X(EDB, 9, "database error") \
  X(EHTTP, 10, "HTTP error") \
  X(EAWS, 11, "AWS service error") \
  X(ETHROTTLED, 12, "throttled by the remote service") \
  X(ECONFIG, 13, "invalid configuration") \
  X(ESTATE, 14, "operation not valid in the current state") \
  X(EPLUGIN, 15, "plugin error") \
  X(ETEMPLATE, 16, "template error") \
  X(EDUPLICATE, 17, "duplicate") \
  X(EBUSY, 18, "held by another owner") \
  X(ERUNTIME, 19, "Lambda Runtime API error") \
  X(EAUTH, 20, "authentication or authorization failed") \
  X(EUNSUPPORTED, 21, "not supported") \
  X(EFENCED, 22, "fenced off: the lease moved to another holder")

enum iris_rc {
#define IRIS__RC_ENUM(name, value, desc) IRIS_##name = value,
  IRIS_RC_LIST(IRIS__RC_ENUM)
#undef IRIS__RC_ENUM
};

/* Room for one specific message; longer text is truncated, never overflowed. */
#define IRIS_ERR_SIZE 512

/* Caller-owned error detail. Zero-initialise or call iris_err_clear() before use. */
struct iris_err {
  enum iris_rc rc;
  char msg[IRIS_ERR_SIZE];
};

/* "IRIS_ENOMEM" for IRIS_ENOMEM; "IRIS_E?" for an unknown value. Static storage. */
const char *iris_rc_name(int rc);
/* Short English description of rc. Static storage. */
const char *iris_rc_str(int rc);

/* Reset err to IRIS_OK with an empty message. err may be NULL. */
void iris_err_clear(struct iris_err *err);

/*
 * Record rc and a printf-style message in err (err may be NULL) and return rc, so a
 * failing path reads `return iris_err_set(err, IRIS_EINVAL, "field %s missing", f);`.
 * The message is always valid UTF-8: cut on a character boundary when it does not fit, and
 * bytes of quoted outside text that are not UTF-8 become '?' (core/base/utf8.h).
 */
int iris_err_set(struct iris_err *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int iris_err_vset(struct iris_err *err, int rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Prefix context to an error already set by a callee: "sqs SendMessage: <old message>".
 * Returns err->rc (IRIS_OK if err is NULL).
 */
int iris_err_prefix(struct iris_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Debug assertion for our own invariants (never for bad input). Active in IRIS_DEBUG builds. */
#ifdef IRIS_DEBUG
#include <assert.h>
#define IRIS_DEBUGASSERT(x) assert(x)
#else
#define IRIS_DEBUGASSERT(x) ((void)0)
#endif

#define IRIS_WARN_UNUSED __attribute__((warn_unused_result))

#endif /* IRIS_ERR_H */
