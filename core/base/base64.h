/*
 * base64.h — Base64 text of bytes (RFC 4648), in the variants outside services expect.
 *
 * Layer: base; used wherever a signature or token is written as text (Oncall's and Iris's
 * HMAC headers, one-click tokens, JWT segments, webhook signatures).
 */
#ifndef IRIS_BASE64_H
#define IRIS_BASE64_H

#include <stddef.h>

#include "buf.h"

enum {
  IRIS_B64_URL = 1,  /* the URL-safe alphabet (RFC 4648 §5: '-' and '_' for '+' and '/') */
  IRIS_B64_NOPAD = 2 /* no '=' padding (JWT, RFC 7515) */
};

/* Append the Base64 text of n bytes at p to out. IRIS_OK, IRIS_ENOMEM or IRIS_ETOOBIG. */
int iris_base64_append(struct iris_buf *out, const void *p, size_t n, int flags) IRIS_WARN_UNUSED;

#endif /* IRIS_BASE64_H */
