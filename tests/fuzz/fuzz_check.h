/*
 * fuzz_check.h — invariants every fuzz target asserts on what core hands back: error messages
 * are NUL-terminated within their buffer and valid UTF-8 (issue #14.4). A violation traps,
 * which libFuzzer records as a finding.
 */
#ifndef IRIS_FUZZ_CHECK_H
#define IRIS_FUZZ_CHECK_H

#include <string.h>

#include "err.h"
#include "utf8.h"

static inline void fuzz_check_err(const struct iris_err *err) {
  size_t n = strnlen(err->msg, sizeof err->msg);
  if (n == sizeof err->msg || !iris_utf8_valid(err->msg, n))
    __builtin_trap();
}

#endif /* IRIS_FUZZ_CHECK_H */
