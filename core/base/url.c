/* url.c — percent-encoding of URL components (see url.h). */
#include "url.h"

#include <string.h>

static int is_kept(unsigned char c, const char *safe) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
    return 1;
  if (c == '_' || c == '.' || c == '~' || c == '-')
    return 1;
  return c != '\0' && safe != NULL && strchr(safe, c) != NULL;
}

int iris_url_append_quoted(struct iris_buf *out, const char *s, size_t n, const char *safe,
                           int space_as_plus) {
  static const char hex[] = "0123456789ABCDEF";
  int rc = IRIS_OK;
  size_t i;
  for (i = 0; i < n && rc == IRIS_OK; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_kept(c, safe)) {
      rc = iris_buf_appendc(out, (char)c);
    } else if (c == ' ' && space_as_plus) {
      rc = iris_buf_appendc(out, '+');
    } else {
      char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
      rc = iris_buf_append(out, esc, sizeof esc);
    }
  }
  return rc;
}
