/*
 * google.h — calls to Google APIs with OAuth 2.0 access tokens: Gmail's watch renewal (the
 * reply-by-email feed Iris's relay reads) and Firebase Cloud Messaging push (HTTP v1 API).
 *
 * Layer: clients, above base and http.h. Used by the coordinator's housekeeping (Gmail) and
 * the sender (push before SMS and calls, as Iris's Twilio vendor did).
 *
 * Credentials are Google's JSON key files, the text itself (keep it in Secrets Manager):
 *   - a service account ({"type": "service_account", "client_email", "private_key",
 *     "token_uri"}): the client signs a JWT (RS256) and trades it for an access token at
 *     token_uri (RFC 7523); `subject` makes it act for a Workspace user (domain-wide
 *     delegation), which Gmail needs;
 *   - an authorised user ({"type": "authorized_user", "client_id", "client_secret",
 *     "refresh_token"}), as the OAuth consent flow Iris's Gmail watch used leaves behind: the
 *     refresh token is traded at token_uri (default https://oauth2.googleapis.com/token).
 * Access tokens are kept until a minute before they expire. The private key, the refresh
 * token, the client secret and every access token are registered for log redaction.
 *
 * A client is not thread-safe (it owns one HTTP connection).
 */
#ifndef IRIS_GOOGLE_H
#define IRIS_GOOGLE_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "http.h"

struct iris_google; /* opaque */

struct iris_google_opts {
  const char *credentials; /* the JSON key file's text (borrowed during iris_google_new) */
  const char *scope;       /* space-separated scopes a service account asks for */
  const char *subject;     /* service account: the user to act for, or NULL */
  const char *token_uri;   /* NULL: the key file's token_uri, else Google's */
  struct iris_http_opts http;
};

/* Parse the credentials and set up the client; no network. *out owned by the caller.
 * IRIS_ECONFIG names what is wrong with the key file (never its secret values). */
int iris_google_new(const struct iris_google_opts *opts, struct iris_google **out,
                    struct iris_err *err) IRIS_WARN_UNUSED;
void iris_google_free(struct iris_google *g);

/*
 * POST `json` to `url` with a bearer token (fetched or reused). The answer's body goes to
 * `body` (caller-owned); *status is the HTTP status. A 401 drops the cached token and tries
 * once more. Returns IRIS_OK for any answer of the API, IRIS_EAUTH when no token could be
 * had (the token endpoint's error named), or the http.h transport errors.
 */
int iris_google_post_json(struct iris_google *g, const char *url, const char *json, long *status,
                          struct iris_buf *body, struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * Gmail users.watch: ask Gmail to publish changes of `user`'s INBOX (unread mail, as Iris
 * asked) to the Pub/Sub topic `topic` ("projects/<p>/topics/<t>"). `api` is the Gmail API
 * base URL (NULL: https://gmail.googleapis.com). On success *history_id and *expiration_ms
 * (Unix milliseconds) are Gmail's answer. IRIS_EHTTP with Gmail's error on refusal.
 */
int iris_gmail_watch(struct iris_google *g, const char *api, const char *user, const char *topic,
                     int64_t *history_id, int64_t *expiration_ms,
                     struct iris_err *err) IRIS_WARN_UNUSED;

/* One push notification to one device, as Iris sent them (legacy API) in FCM's HTTP v1 form. */
struct iris_fcm_push {
  const char *token;    /* the device's registration token */
  const char *platform; /* "ios" or "android" (Iris's device.platform) */
  const char *title;    /* the page's subject, or the configured title */
  const char *body;     /* the page's text */
  int64_t incident_id;  /* 0: none */
  int64_t ttl_s;        /* time to live (0: deliver now or never) */
};

/*
 * Send one push through FCM HTTP v1 (`api`: NULL for https://fcm.googleapis.com) for Firebase
 * project `project`. iOS gets a notification (title, body, default sound, the incident id,
 * click action "incident"); Android a data message (incident id, title, message and a
 * "Claim" action), as Iris's push did. Returns IRIS_OK, IRIS_ENOTFOUND when FCM says the
 * token is no longer registered (the caller forgets the device), IRIS_EHTTP otherwise.
 */
int iris_fcm_send(struct iris_google *g, const char *api, const char *project,
                  const struct iris_fcm_push *push, struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_GOOGLE_H */
