-- 0007_sender_aggregation.sql — aggregation mode per key, surviving coordinator invocations.
--
-- Key = (plan, application, priority, target), as in Iris. The coordinator counts a key's
-- recent messages in sender_enqueue (ix_sender_enqueue_aggkey); when more than the plan's
-- threshold_count arrive within threshold_window it sets aggregating_since and holds further
-- messages of the key (sender_enqueue.state = 'held'). Every aggregation_window it flushes the
-- held, still active messages as one batch; after aggregation_reset without a new message it
-- leaves aggregation mode (aggregating_since back to NULL). Written by the coordinator only.

CREATE TABLE IF NOT EXISTS `sender_aggregation` (
  `plan_id` BIGINT NOT NULL,
  `application_id` INT NOT NULL,
  `priority_id` INT NOT NULL,
  `target_id` BIGINT NOT NULL,
  `aggregating_since` DATETIME(3) DEFAULT NULL,     -- NULL = not aggregating
  `last_message_at` DATETIME(3) DEFAULT NULL,       -- last message seen for the key (reset clock)
  `last_flush_at` DATETIME(3) DEFAULT NULL,         -- last batch flushed (Iris's sent[key])
  `next_flush_at` DATETIME(3) DEFAULT NULL,         -- last_flush_at (or start) + aggregation_window
  `batches_flushed` INT UNSIGNED NOT NULL DEFAULT 0,
  `messages_held` INT UNSIGNED NOT NULL DEFAULT 0,  -- messages held since aggregation started
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`plan_id`, `application_id`, `priority_id`, `target_id`),
    -- serves "is this key aggregating?" for each message the coordinator decides on
  KEY `ix_sender_aggregation_flush` (`next_flush_at`),
    -- serves the flush pass: keys with next_flush_at <= now
  KEY `ix_sender_aggregation_since` (`aggregating_since`),
    -- serves the reset pass and the "keys in aggregation" metric
  CONSTRAINT `sender_aggregation_plan_fk` FOREIGN KEY (`plan_id`) REFERENCES `plan` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_aggregation_application_fk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_aggregation_priority_fk` FOREIGN KEY (`priority_id`)
    REFERENCES `priority` (`id`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_aggregation_target_fk` FOREIGN KEY (`target_id`) REFERENCES `target` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
