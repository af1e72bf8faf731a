/* record.c — delivery outcomes in Iris's tables (see record.h). */
#include "record.h"

#include <string.h>

int iris_record_sent(struct iris_db *db, int64_t message_id, const char *mode,
                     const char *destination, int64_t template_id, const char *subject,
                     const char *body, const char *batch_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_STR(destination), IRIS_DB_STR(mode),
                              template_id ? IRIS_DB_I64(template_id) : IRIS_DB_NULL,
                              IRIS_DB_STR(subject ? subject : ""), IRIS_DB_STR(body ? body : ""),
                              IRIS_DB_STR(batch_id), IRIS_DB_I64(message_id)};
  int rc = iris_db_exec(db, 0,
                        "UPDATE message SET destination = ?,"
                        " mode_id = (SELECT id FROM mode WHERE name = ?), template_id = ?,"
                        " active = 0, sent = UTC_TIMESTAMP(), subject = LEFT(?, 255), body = ?,"
                        " batch = IFNULL(?, batch) WHERE id = ?",
                        p, 7, NULL, err);
  return rc ? iris_err_prefix(err, "recording message %lld as sent", (long long)message_id) : rc;
}

int iris_record_deactivate(struct iris_db *db, int64_t message_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id)};
  return iris_db_exec(db, 0, "UPDATE message SET active = 0 WHERE id = ?", p, 1, NULL, err);
}

int iris_record_change(struct iris_db *db, int64_t message_id, const char *type,
                       const char *old_value, const char *new_value, const char *description,
                       struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id), IRIS_DB_STR(type),
                              IRIS_DB_STR(old_value ? old_value : ""),
                              IRIS_DB_STR(new_value ? new_value : ""), IRIS_DB_STR(description)};
  return iris_db_exec(db, 0,
                      "INSERT INTO message_changelog (date, message_id, change_type, old, new,"
                      " description) VALUES (UTC_TIMESTAMP(), ?, ?, LEFT(?, 255), LEFT(?, 255),"
                      " LEFT(?, 255))",
                      p, 5, NULL, err);
}

int iris_record_status(struct iris_db *db, int64_t message_id, const char *mode,
                       const char *plugin, const char *vendor_message_id, int ok,
                       struct iris_err *err) {
  if (plugin && strcmp(plugin, "twilio") == 0 &&
      (strcmp(mode, "sms") == 0 || strcmp(mode, "call") == 0)) {
    struct iris_db_param p[] = {IRIS_DB_STR(vendor_message_id), IRIS_DB_I64(message_id)};
    if (!ok || !vendor_message_id || !*vendor_message_id)
      return IRIS_OK;
    return iris_db_exec(db, 0,
                        "INSERT IGNORE INTO twilio_delivery_status (twilio_sid, message_id)"
                        " VALUES (?, ?)",
                        p, 2, NULL, err);
  }
  if (strcmp(mode, "sms") == 0 || strcmp(mode, "call") == 0 || strcmp(mode, "drop") == 0)
    return IRIS_OK;
  {
    struct iris_db_param p[] = {IRIS_DB_I64(message_id), IRIS_DB_I64(ok ? 1 : 0)};
    return iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                        "INSERT INTO generic_message_sent_status (message_id, status) VALUES (?, ?)"
                        " ON DUPLICATE KEY UPDATE status = VALUES(status)",
                        p, 2, NULL, err);
  }
}

int iris_record_enqueue_done(struct iris_db *db, int64_t message_id, struct iris_err *err) {
  struct iris_db_param p[] = {IRIS_DB_I64(message_id)};
  return iris_db_exec(db, IRIS_DB_IDEMPOTENT,
                      "UPDATE sender_enqueue SET state = 'done', done_at = UTC_TIMESTAMP(3),"
                      " next_attempt_at = NULL WHERE message_id = ?",
                      p, 1, NULL, err);
}
