-- 0008_sender_tracking.sql — tracking messages of new incidents (Iris §4.1), made durable.
--
-- A plan with tracking_type, tracking_key and a tracking_template entry for the incident's
-- application copies every new incident to that destination (an email list, an SMS number…).
-- Iris sent it straight from memory, with no row and no audit, so a crash lost it and a retried
-- step sent it twice. Here the coordinator inserts one row per incident in the transaction
-- that moves the incident to step 1 (so it exists exactly once), the enqueue pass puts a
-- {"kind":"tracking","incident_id":N} envelope on the lane of tracking_type, and the sender
-- claims it ("t:<incident_id>"), renders the plan's tracking templates and records the outcome
-- here. Tracking of type 'call' is not created (Iris skips it with a warning).
--
-- States: pending (due at next_attempt_at) → enqueued (due again at next_attempt_at unless
-- settled) → done (sent, or failed for good: outcome says which).

CREATE TABLE IF NOT EXISTS `sender_tracking` (
  `incident_id` BIGINT NOT NULL,
  `plan_id` BIGINT NOT NULL,
  `mode` VARCHAR(255) NOT NULL,                      -- plan.tracking_type at creation
  `destination` VARCHAR(255) NOT NULL,               -- plan.tracking_key at creation
  `state` ENUM('pending','enqueued','done') NOT NULL DEFAULT 'pending',
  `outcome` ENUM('sent','failed') DEFAULT NULL,      -- set with state 'done'
  `vendor` VARCHAR(64) DEFAULT NULL,                 -- plugin instance that sent it
  `vendor_message_id` VARCHAR(255) DEFAULT NULL,
  `attempts` INT UNSIGNED NOT NULL DEFAULT 0,        -- enqueue attempts
  `last_error` VARCHAR(1024) DEFAULT NULL,
  `created_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  `next_attempt_at` DATETIME(3) DEFAULT NULL,
  `enqueued_at` DATETIME(3) DEFAULT NULL,
  `sqs_message_id` VARCHAR(128) CHARACTER SET ascii DEFAULT NULL,
  `done_at` DATETIME(3) DEFAULT NULL,
  PRIMARY KEY (`incident_id`),
    -- serves the one-row-per-incident guarantee and the sender's update by incident
  KEY `ix_sender_tracking_due` (`state`, `next_attempt_at`),
    -- serves the enqueue pass: state IN ('pending','enqueued') AND next_attempt_at <= now
  KEY `ix_sender_tracking_done` (`done_at`),
    -- serves pruning of settled rows
  CONSTRAINT `sender_tracking_incident_fk` FOREIGN KEY (`incident_id`) REFERENCES `incident` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_tracking_plan_fk` FOREIGN KEY (`plan_id`) REFERENCES `plan` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The sender's claims gain the kind 'tracking' (claim key "t:<incident_id>").
ALTER TABLE `sender_claim`
  MODIFY `kind` ENUM('message','batch','notification','tracking') NOT NULL;
