/*
 * url.h — percent-encoding of URL components.
 *
 * Layer: core, low level (buf only). Used wherever we build a query string or a
 * form-encoded body from values a user or a vendor controls (one-click links, the
 * template engine's urlencode filter, form bodies). Byte-exact with Python's
 * urllib.parse so that what we sign or send matches what Iris and its relay compute.
 */
#ifndef IRIS_URL_H
#define IRIS_URL_H

#include <stddef.h>

#include "buf.h"

/*
 * Append n bytes of s percent-encoded: [A-Za-z0-9_.~-] and every byte listed in `safe`
 * (may be NULL) are kept, every other byte becomes %XX (upper-case hex); with
 * `space_as_plus` a space becomes '+' (urllib.parse.quote_plus, form encoding),
 * otherwise %20 (urllib.parse.quote). Returns IRIS_OK, IRIS_ENOMEM or IRIS_ETOOBIG.
 */
int iris_url_append_quoted(struct iris_buf *out, const char *s, size_t n, const char *safe,
                           int space_as_plus) IRIS_WARN_UNUSED;

#endif /* IRIS_URL_H */
