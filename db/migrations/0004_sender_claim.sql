-- 0004_sender_claim.sql — idempotent claim of one delivery, taken before any vendor call.
--
-- SQS delivers at least once and a worker may die at any instruction, so the sender first
-- claims the delivery here, keyed by what is being delivered (never by the SQS message id,
-- which differs between a record and its re-enqueued copy):
--   'm:<message.id>'                      a coordinator message
--   'b:<batch uuid>'                      an aggregated batch (message_id = the representative)
--   'n:<notification id>:<sha256 hex>'   one recipient of an out-of-band notification; the hash
--                                         is of the recipient's identity (user target name, or
--                                         the destination of a literal target), which stays the
--                                         same on a redelivery even if a list's membership or
--                                         its order changed in between
-- Claim = INSERT IGNORE the row in state 'claimed' with owner and lease; if it already exists,
-- take it over only with a conditional UPDATE (state claimed/sending/failed whose lease expired,
-- or failed and retryable) — "affected rows = 1" decides. A row in sent or suppressed is final:
-- a duplicate delivery of it sends nothing and is acknowledged.
--
-- States (docs/db-schema.md has the diagram):
--   claimed     owned by `owner` until lease_expires_at; rendering/quota/contact, no vendor call yet
--   sending     committed just before the vendor call; if the owner dies here the outcome is
--               unknown (the one documented window): a takeover resends, so a duplicate is
--               possible but a loss is not
--   sent        vendor accepted; vendor + vendor_message_id recorded (final)
--   failed      last attempt failed (last_error); retried by a later delivery, or final when
--               `final` = 1 (permanent vendor error, attempts exhausted)
--   suppressed  decided not to send: incident claimed, message inactive, hard quota, drop mode,
--               no contact (final)
-- Times are the database's UTC clock (UTC_TIMESTAMP(3)).

CREATE TABLE IF NOT EXISTS `sender_claim` (
  `claim_key` VARCHAR(160) CHARACTER SET ascii NOT NULL,
  `kind` ENUM('message','batch','notification') NOT NULL,
  `message_id` BIGINT DEFAULT NULL,                 -- message (or batch representative)
  `batch_id` CHAR(32) CHARACTER SET ascii DEFAULT NULL,  -- message.batch value of a batch
  `notification_id` VARCHAR(64) CHARACTER SET ascii DEFAULT NULL,
  `lane` VARCHAR(32) CHARACTER SET ascii NOT NULL,  -- queue/lane the delivery came from (mode name)
  `state` ENUM('claimed','sending','sent','failed','suppressed') NOT NULL DEFAULT 'claimed',
  `final` TINYINT(1) NOT NULL DEFAULT 0,            -- 1: no further attempt will be made
  `owner` VARCHAR(128) DEFAULT NULL,                -- Lambda request id / worker id of the holder
  `lease_expires_at` DATETIME(3) DEFAULT NULL,      -- a claimed/sending row past this may be taken over
  `attempts` INT UNSIGNED NOT NULL DEFAULT 0,       -- vendor calls started (state → sending)
  `takeovers` INT UNSIGNED NOT NULL DEFAULT 0,      -- times a dead owner's lease was taken over
  `mode` VARCHAR(32) DEFAULT NULL,                  -- mode actually used (after fallback/reprioritisation)
  `vendor` VARCHAR(64) DEFAULT NULL,                -- plugin instance that handled the last attempt
  `vendor_message_id` VARCHAR(255) DEFAULT NULL,    -- vendor's id (Twilio SID, SMTP Message-ID, Slack ts…)
  `sqs_message_id` VARCHAR(128) CHARACTER SET ascii DEFAULT NULL,  -- last delivery that touched the row
  `last_error` VARCHAR(1024) DEFAULT NULL,          -- why the last attempt failed / why suppressed
  `next_attempt_at` DATETIME(3) DEFAULT NULL,       -- rate-limited: not before this (retry-after)
  `created_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  `finished_at` DATETIME(3) DEFAULT NULL,           -- set when the row reaches sent/suppressed/final failed
  PRIMARY KEY (`claim_key`),
    -- serves the claim itself (INSERT IGNORE, then SELECT … FOR UPDATE / conditional UPDATE by key)
  KEY `ix_sender_claim_message` (`message_id`),
    -- serves "is message M already claimed/sent?" from the coordinator's re-enqueue sweep, and the FK
  KEY `ix_sender_claim_notification` (`notification_id`),
    -- serves settling a notification: counting its recipients' claims by state, and the FK
  KEY `ix_sender_claim_state_lease` (`state`, `lease_expires_at`),
    -- serves the stale-claim sweep/metric: state IN ('claimed','sending') AND lease_expires_at < now
    -- (the count of 'sending' rows found expired measures the documented duplicate window)
  KEY `ix_sender_claim_finished` (`finished_at`),
    -- serves pruning of settled claims older than the retention period
  CONSTRAINT `sender_claim_message_fk` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_claim_notification_fk` FOREIGN KEY (`notification_id`)
    REFERENCES `sender_notification` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
