/*
 * oneclick.h — Gmail one-click "Claim" links, signed exactly as iris-relay verifies them.
 *
 * Layer: core, used by the renderer (render.c) for email messages of incidents when
 * `oneclick.enabled` is set. Pure computation: OpenSSL HMAC, no I/O.
 *
 * The relay recomputes token = urlsafe_base64(HMAC-SHA512(key, "<msg_id> <email> <cmd>"))
 * (fields joined by one space, in this order, padding kept) and compares it with the
 * `token` query parameter; the URL is `<endpoint>?msg_id=..&email_address=..&cmd=..&token=..`
 * with every value form-encoded (space as '+', everything but [A-Za-z0-9_.~-] as %XX).
 */
#ifndef IRIS_ONECLICK_H
#define IRIS_ONECLICK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * Append to `out` the URL-safe base64 token for (msg_id, email, cmd) under `key`.
 * `key` must be non-empty (IRIS_EINVAL otherwise: an empty key would sign with nothing).
 * Returns IRIS_OK, IRIS_EINVAL, IRIS_ENOMEM/IRIS_ETOOBIG (from out).
 */
int iris_oneclick_token(const char *key, int64_t msg_id, const char *email, const char *cmd,
                        struct iris_buf *out, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Append the full signed claim URL: `endpoint` "?" msg_id, email_address, cmd=claim, token.
 * `endpoint` must start with "https://" or "http://" (IRIS_EINVAL otherwise).
 */
int iris_oneclick_url(const char *endpoint, const char *key, int64_t msg_id, const char *email,
                      struct iris_buf *out, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Append the schema.org JSON-LD block (EmailMessage with a ConfirmAction "Claim" whose
 * HttpActionHandler points at the signed URL, description "Claim incident <incident_id>")
 * that Gmail shows as a one-click button. The URL is JSON-escaped and '<', '>' are
 * written as \u003c / \u003e so the block cannot close its <script> element.
 */
int iris_oneclick_markup(const char *endpoint, const char *key, int64_t msg_id,
                         int64_t incident_id, const char *email, struct iris_buf *out,
                         struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_ONECLICK_H */
