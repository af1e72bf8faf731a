-- 0012_sender_mark.sql — named high-water marks the coordinator keeps between invocations.
--
-- `adopted_through`: every incident with an id up to this value that had entered a step had its
-- escalation state in `sender_escalation` when the coordinator last checked (the adoption of
-- incidents escalated by Iris's old sender, docs/coordinator.md). Each invocation used to check
-- every active incident again (100 000 active incidents: ~300 ms once per invocation); now it
-- checks only incidents above the mark, and moves the mark up once a check finds everything
-- adopted. Only the coordinator escalates incidents, so an incident at or below the mark
-- never needs adopting later.

CREATE TABLE IF NOT EXISTS `sender_mark` (
  `name` VARCHAR(64) CHARACTER SET ascii NOT NULL,
  `value` BIGINT NOT NULL,
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
