-- 0005_sender_enqueue.sql — the coordinator's durable decision about each message: "seen",
-- "held for a batch", "to be put on SQS", "on SQS", "settled". Replaces the old sender's
-- in-memory message_ids_being_sent and aggregation buffers.
--
-- Written by the coordinator only, except done_at/state 'done', which the sender sets in the
-- same transaction that records the message's outcome. The row is inserted in the transaction
-- that creates the message (or, for messages created by the API, the first time the coordinator
-- sees them active), BEFORE SendMessageBatch; so a crash between commit and SQS loses nothing:
-- the next tick finds the row 'pending' and due. A row 'enqueued' whose message has not settled
-- by next_attempt_at (the redrive timeout) is enqueued again; the sender's claim makes the copy
-- harmless. A message is never enqueued twice concurrently because the coordinator holds the
-- lease and message_id is the primary key.
--
-- States:
--   held      buffered for aggregation: its key (plan, application, priority, target) is in
--             aggregation mode (sender_aggregation); not due until the key flushes
--   pending   marker committed, SQS not yet confirmed; due at next_attempt_at
--   enqueued  SQS accepted (sqs_message_id); due again at next_attempt_at unless settled
--   done      the sender recorded an outcome, or the message went inactive (claimed incident)
-- The aggregation key is copied from `message` so that threshold counting and "held ids of a
-- key" are served by an index here (Iris's own tables are never altered, so no index is added
-- to `message`).

CREATE TABLE IF NOT EXISTS `sender_enqueue` (
  `message_id` BIGINT NOT NULL,
  `state` ENUM('held','pending','enqueued','done') NOT NULL DEFAULT 'pending',
  `lane` VARCHAR(32) CHARACTER SET ascii DEFAULT NULL,  -- queue chosen (mode name); NULL while held
  `plan_id` BIGINT DEFAULT NULL,                    -- aggregation key, copied from message
  `application_id` INT NOT NULL,
  `priority_id` INT NOT NULL,
  `target_id` BIGINT NOT NULL,
  `batch_id` CHAR(32) CHARACTER SET ascii DEFAULT NULL,  -- set when flushed as part of a batch
  `created_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),   -- when the coordinator first saw it
  `next_attempt_at` DATETIME(3) DEFAULT NULL,       -- due time for (re-)enqueue; NULL when held/done
  `enqueued_at` DATETIME(3) DEFAULT NULL,           -- last time SQS accepted it
  `sqs_message_id` VARCHAR(128) CHARACTER SET ascii DEFAULT NULL,  -- SQS MessageId of the last send
  `attempts` INT UNSIGNED NOT NULL DEFAULT 0,       -- SendMessage attempts (first + re-enqueues)
  `last_error` VARCHAR(1024) DEFAULT NULL,          -- last SQS failure (code + message)
  `done_at` DATETIME(3) DEFAULT NULL,
  PRIMARY KEY (`message_id`),
    -- serves "active messages the coordinator has not seen": message LEFT JOIN sender_enqueue
    -- ON message_id … WHERE message_id IS NULL, and the sender's update by message id
  KEY `ix_sender_enqueue_due` (`state`, `next_attempt_at`),
    -- serves the enqueue pass: state IN ('pending','enqueued') AND next_attempt_at <= now
  KEY `ix_sender_enqueue_aggkey` (`plan_id`, `application_id`, `priority_id`, `target_id`, `created_at`),
    -- serves the threshold count (rows of a key created within threshold_window) and the
    -- flush (held rows of a key)
  KEY `ix_sender_enqueue_batch` (`batch_id`),
    -- serves settling every member of a batch when the batch's claim finishes
  KEY `ix_sender_enqueue_done` (`done_at`),
    -- serves pruning of settled rows older than the retention period
  CONSTRAINT `sender_enqueue_message_fk` FOREIGN KEY (`message_id`) REFERENCES `message` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
