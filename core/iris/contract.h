/*
 * contract.h — the versioned JSON envelope on the sender's queues (docs/message-contract.md).
 *
 * Layer: core, low (jansson, err); producers (coordinator, notify) encode, the sender
 * parses. Version 1 has three kinds:
 *   {"v":1, "kind":"message", "message_id":123}                  one Iris message row
 *   {"v":1, "kind":"batch", "batch_id":"<32 hex>", "message_ids":[1,2,3]}   an aggregation
 *   {"v":1, "kind":"notification", "notification_id":"<uuid>", "application":"app",
 *    "target":"jdoe", "role":"user", "priority":"high" | "mode":"email" | "category":"x",
 *    "subject":"...", "body":"..." | "template":"name", "context":{...}, "email_html":"..."}
 *   {"v":1, "kind":"tracking", "incident_id":42}                 a plan's tracking copy of a
 *                                                                 new incident (sender_tracking)
 * Everything about a message is re-read from MySQL (the source of truth); a notification
 * carries only whitelisted fields — never a destination, message id or aggregated ids from a
 * client. Unknown versions, kinds or fields are refused with a reason (dead-letter).
 */
#ifndef IRIS_CONTRACT_H
#define IRIS_CONTRACT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define IRIS_CONTRACT_VERSION 1
#define IRIS_CONTRACT_MAX_BATCH 10000

enum iris_envelope_kind {
  IRIS_ENV_MESSAGE = 1,
  IRIS_ENV_BATCH,
  IRIS_ENV_NOTIFICATION,
  IRIS_ENV_TRACKING
};

struct iris_envelope {
  enum iris_envelope_kind kind;
  int64_t message_id;   /* message */
  int64_t incident_id;  /* tracking */
  char batch_id[33];    /* batch: 32 lower-case hex digits */
  int64_t *message_ids; /* batch: owned */
  size_t nmessage_ids;
  json_t *notification; /* notification: the validated object (owned reference) */
};

/*
 * Parse and validate `len` bytes of JSON. On failure IRIS_EPARSE (not JSON / not an object)
 * or IRIS_EINVAL with the reason ("envelope: field 'message_id' must be a positive integer",
 * "envelope: unsupported version 2", "envelope: unknown kind 'foo'",
 * "envelope: unknown field 'destination' in a notification").
 */
int iris_envelope_parse(const char *json, size_t len, struct iris_envelope *out,
                        struct iris_err *err) IRIS_WARN_UNUSED;
void iris_envelope_cleanup(struct iris_envelope *e);

/* Producers: append the compact JSON text of an envelope. */
int iris_envelope_encode_message(int64_t message_id, struct iris_buf *out) IRIS_WARN_UNUSED;
int iris_envelope_encode_tracking(int64_t incident_id, struct iris_buf *out) IRIS_WARN_UNUSED;
int iris_envelope_encode_batch(const char *batch_id, const int64_t *ids, size_t n,
                               struct iris_buf *out) IRIS_WARN_UNUSED;

/* Every lane, NULL-terminated: the per-mode lanes, then "notifications". Static storage. */
const char *const *iris_contract_lanes(void);

/* The lane (queue) for an Iris mode: email, sms, call, im, slack, hipchat; anything else
 * (out-of-band notifications before resolution, unknown modes) goes to "notifications". */
const char *iris_contract_lane(const char *mode);

#endif /* IRIS_CONTRACT_H */
