-- 0009_sender_reprioritization.sql — Iris's target reprioritisation (§8.2), decided once per delivery.
--
-- The rules stay in Iris's own table target_reprioritization (target_id, src_mode_id →
-- dst_mode_id, count, duration in seconds): "if this user gets more than `count` messages by
-- the source mode within `duration`, page by the destination mode instead"; rules chain.
-- Iris counted in each sender process's memory (and, under Python 3, not at all: building its
-- buckets raised on a float). Here the counts are sender_quota_counter rows of scope
-- 'target_mode' (migration 0006): one per (user, source mode, UTC minute), incremented by
-- whichever sender instance resolves a message by priority.
--
-- This table remembers the decision taken for each delivery, written in the same transaction
-- that counts it, so that a retry, a redelivery or a takeover of the claim reuses the decision
-- instead of counting the message a second time (and perhaps switching it because of itself).
-- One row per claim (sender_claim.claim_key) whose target had a rule for the resolved mode;
-- deleted with the claim.

CREATE TABLE IF NOT EXISTS `sender_reprioritization` (
  `claim_key` VARCHAR(160) CHARACTER SET ascii NOT NULL,  -- the delivery (sender_claim)
  `target_id` BIGINT NOT NULL,                      -- the user
  `src_mode_id` INT NOT NULL,                       -- the mode the priority chain resolved
  `dst_mode_id` INT NOT NULL,                       -- the mode decided (= src_mode_id: no switch)
  `hops` TINYINT UNSIGNED NOT NULL DEFAULT 0,       -- rules followed (a chain has several)
  `decided_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`claim_key`),
    -- serves "was this delivery decided already?" (one lookup by key per delivery with a rule)
  CONSTRAINT `sender_reprioritization_claim_fk` FOREIGN KEY (`claim_key`)
    REFERENCES `sender_claim` (`claim_key`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
