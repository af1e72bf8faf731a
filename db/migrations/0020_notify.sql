-- 0020_notify.sql — the notify function's own records (core/notify, docs/api-integration.md).
--
-- notify_request: one row per accepted POST /v0/notifications. A retried POST carrying the
-- same Idempotency-Key header from the same application finds its row and gets the first
-- answer back instead of enqueueing again; `request_sha256` (of the body) tells a retry from a
-- reuse of the key for different content, which is refused. Requests without the header get a
-- row too (idempotency_key NULL), so GET /v0/notifications/{id} can find them.
CREATE TABLE IF NOT EXISTS `notify_request` (
  `id` CHAR(36) CHARACTER SET ascii NOT NULL,           -- notification id minted by notify (uuid)
  `application_id` INT NOT NULL,                        -- the authenticated application
  `idempotency_key` VARCHAR(128) CHARACTER SET ascii DEFAULT NULL,
  `request_sha256` CHAR(64) CHARACTER SET ascii NOT NULL,
  `targets` INT UNSIGNED NOT NULL,                      -- rows in notify_target
  `created_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `ux_notify_request_app_key` (`application_id`, `idempotency_key`),
    -- serves the idempotent insert (NULL keys never collide)
  KEY `ix_notify_request_created` (`created_at`)       -- pruning by age
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- notify_target: one row per (role, target) of a request, in request order. Each queued target
-- went onto the notifications lane as its own envelope whose notification_id is `envelope_id`
-- (the sender's sender_notification.id and sender_claim.notification_id), so its fate is read
-- from the sender's tables. `state` is notify's own verdict: queued (handed to SQS, or to be
-- handed again by a retry when `enqueued` is 0) or dropped (never enqueued: reason says why —
-- an invalid role:target of a target_list, the application's hard quota).
CREATE TABLE IF NOT EXISTS `notify_target` (
  `request_id` CHAR(36) CHARACTER SET ascii NOT NULL,
  `idx` INT UNSIGNED NOT NULL,
  `envelope_id` VARCHAR(64) CHARACTER SET ascii NOT NULL,
  `role` VARCHAR(64) NOT NULL,
  `target` VARCHAR(255) NOT NULL,
  `state` ENUM('queued','dropped') NOT NULL,
  `enqueued` TINYINT(1) NOT NULL DEFAULT 0,             -- 1 once SQS accepted the envelope
  `reason` VARCHAR(1024) DEFAULT NULL,
  `envelope` MEDIUMTEXT DEFAULT NULL,                   -- the envelope, kept until enqueued
  PRIMARY KEY (`request_id`, `idx`),
  UNIQUE KEY `ux_notify_target_envelope` (`envelope_id`),
  CONSTRAINT `notify_target_request_fk` FOREIGN KEY (`request_id`)
    REFERENCES `notify_request` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- notify_signature: digests of accepted signed POSTs, so a captured request replayed inside
-- Iris's timestamp window (up to a minute) is refused. Rows older than two minutes are pruned
-- by notify itself.
CREATE TABLE IF NOT EXISTS `notify_signature` (
  `application_id` INT NOT NULL,
  `digest_sha256` CHAR(64) CHARACTER SET ascii NOT NULL,
  `seen_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`application_id`, `digest_sha256`),
  KEY `ix_notify_signature_seen` (`seen_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
