-- 0003_sender_notification.sql — out-of-band notifications (POST /v0/notifications and other
-- producers of the queue contract), which Iris never stored.
--
-- Written by the sender when it first takes a notification record off the notifications lane
-- (INSERT IGNORE keyed by the producer's notification id, so a redelivery adds nothing), then
-- updated as its recipients are sent. One notification may expand to several recipients (a team,
-- a mailing list, a target_list): each recipient gets its own sender_claim row pointing here.
-- Content (body, context) is not stored: it travels in the SQS record; `payload_sha256` lets a
-- redelivery be checked against what was first seen, so a reused id with different content is
-- refused instead of silently merged.

CREATE TABLE IF NOT EXISTS `sender_notification` (
  `id` VARCHAR(64) CHARACTER SET ascii NOT NULL,     -- producer-assigned id (uuid) from the envelope
  `application_id` INT DEFAULT NULL,                 -- authenticated application
  `target` VARCHAR(255) DEFAULT NULL,                -- target name as requested (NULL for target_list)
  `role` VARCHAR(255) DEFAULT NULL,                  -- role as requested (user, team, literal_target…)
  `priority_id` INT DEFAULT NULL,                    -- exactly one of priority/mode/category was given
  `mode_id` INT DEFAULT NULL,
  `category_id` BIGINT DEFAULT NULL,
  `template` VARCHAR(255) DEFAULT NULL,              -- template name when rendered from a template
  `subject` VARCHAR(255) DEFAULT NULL,               -- truncated, for operators; not the rendered one
  `payload_sha256` CHAR(64) CHARACTER SET ascii NOT NULL,
  `state` ENUM('received','sending','done','failed','rejected') NOT NULL DEFAULT 'received',
    -- received: recorded, recipients not all settled; sending: at least one claim in flight;
    -- done: every recipient sent or suppressed; failed: gave up on at least one recipient;
    -- rejected: invalid (reason in last_error), nothing sent
  `recipients_total` INT UNSIGNED NOT NULL DEFAULT 0,
  `recipients_sent` INT UNSIGNED NOT NULL DEFAULT 0,
  `recipients_failed` INT UNSIGNED NOT NULL DEFAULT 0,
  `sqs_message_id` VARCHAR(128) CHARACTER SET ascii DEFAULT NULL,  -- first delivery, for tracing
  `last_error` VARCHAR(1024) DEFAULT NULL,
  `received_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  `finished_at` DATETIME(3) DEFAULT NULL,
  PRIMARY KEY (`id`),                                -- serves the idempotent INSERT IGNORE and lookups by id
  KEY `ix_sender_notification_app_received` (`application_id`, `received_at`),
    -- serves "notifications of application X since T" (operators, per-app metrics)
  KEY `ix_sender_notification_state_updated` (`state`, `updated_at`),
    -- serves the sweep for unfinished notifications and pruning of finished ones by age
  CONSTRAINT `sender_notification_application_fk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE SET NULL ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
