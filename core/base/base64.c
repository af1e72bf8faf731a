/* base64.c — Base64 text of bytes (see base64.h). */
#include "base64.h"

#include <stdint.h>

int iris_base64_append(struct iris_buf *out, const void *data, size_t n, int flags) {
  static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char *al = flags & IRIS_B64_URL ? url : std;
  const unsigned char *p = data;
  int rc = IRIS_OK;
  size_t i;
  for (i = 0; i < n && rc == IRIS_OK; i += 3) {
    size_t left = n - i, emit = left > 2 ? 4 : left + 1;
    uint32_t v = (uint32_t)p[i] << 16;
    char q[4];
    if (left > 1)
      v |= (uint32_t)p[i + 1] << 8;
    if (left > 2)
      v |= p[i + 2];
    q[0] = al[(v >> 18) & 63];
    q[1] = al[(v >> 12) & 63];
    q[2] = left > 1 ? al[(v >> 6) & 63] : '=';
    q[3] = left > 2 ? al[v & 63] : '=';
    rc = iris_buf_append(out, q, flags & IRIS_B64_NOPAD ? emit : 4);
  }
  return rc;
}
