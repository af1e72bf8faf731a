/*
 * record.h — writing the outcome of a delivery into Iris's own tables, as Iris's sender did:
 * the message row (sent time, mode, destination, template, rendered subject and body), the
 * message changelog (mode changes, drops), the delivery status rows (twilio_delivery_status
 * for Twilio, generic_message_sent_status for other modes), and the coordinator's enqueue
 * marker (sender_enqueue → done). Every function is one statement; callers group them with
 * the claim's final state in one transaction.
 *
 * Layer: core, above db; used by sender.c.
 */
#ifndef IRIS_RECORD_H
#define IRIS_RECORD_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/* UPDATE message: sent now, inactive, with what was sent (subject cut to 255, body kept);
 * batch_id (or NULL) marks the members of an aggregated batch. That the message was sent is
 * written first, on its own, and never depends on the content: subject and body that Iris's
 * latin1 columns cannot hold are stored narrowed to latin-1 ('?' for other characters), and
 * if even that is refused the content is left as it was and a warning logged (as Iris's
 * sender does). Returns IRIS_OK, or the database error of the sent-marking statement, or
 * IRIS_ECONN/IRIS_EBUSY/IRIS_ESTATE/IRIS_ENOMEM from the content statement (retry the whole
 * transaction). */
int iris_record_sent(struct iris_db *db, int64_t message_id, const char *mode,
                     const char *destination, int64_t template_id, const char *subject,
                     const char *body, const char *batch_id,
                     struct iris_err *err) IRIS_WARN_UNUSED;
/* message.active = 0 (no contact, gave up). */
int iris_record_deactivate(struct iris_db *db, int64_t message_id,
                           struct iris_err *err) IRIS_WARN_UNUSED;
/* One message_changelog row; old/new/description cut to 255 characters as the columns
 * require, and narrowed to latin-1 when the column's character set refuses them. */
int iris_record_change(struct iris_db *db, int64_t message_id, const char *type,
                       const char *old_value, const char *new_value, const char *description,
                       struct iris_err *err) IRIS_WARN_UNUSED;
/* Delivery status: twilio_delivery_status(sid, message) for the twilio plugin's sms/call,
 * else generic_message_sent_status(message, ok) for other modes. */
int iris_record_status(struct iris_db *db, int64_t message_id, const char *mode,
                       const char *plugin, const char *vendor_message_id, int ok,
                       struct iris_err *err) IRIS_WARN_UNUSED;
/* sender_enqueue → done (the coordinator stops re-enqueueing it). */
int iris_record_enqueue_done(struct iris_db *db, int64_t message_id,
                             struct iris_err *err) IRIS_WARN_UNUSED;

/*
 * The same for many messages of one SQS batch, a statement for each step instead of one per
 * message (the sender records a batch's sent pages in one transaction). Rows are borrowed.
 */
struct iris_record_sent_row {
  int64_t message_id;
  const char *mode, *destination;
  int64_t template_id; /* 0: none */
  const char *subject, *body;
  const char *batch_id;          /* NULL unless an aggregated batch's member */
  const char *plugin;            /* the vendor's plugin, NULL when nothing was called */
  const char *vendor_message_id; /* or NULL */
};
/* iris_record_sent + iris_record_status for n rows (ascending message id: the lock order):
 * at most four statements. IRIS_ESTATE when fewer rows were marked sent than given (a row
 * gone): the caller rolls back and records them one by one to find out which. Content the
 * columns refuse is stored row by row as iris_record_sent does. */
int iris_record_sent_many(struct iris_db *db, const struct iris_record_sent_row *rows, size_t n,
                          struct iris_err *err) IRIS_WARN_UNUSED;
/* iris_record_enqueue_done for n message ids, in one statement. */
int iris_record_enqueue_done_many(struct iris_db *db, const int64_t *message_ids, size_t n,
                                  struct iris_err *err) IRIS_WARN_UNUSED;

#endif /* IRIS_RECORD_H */
