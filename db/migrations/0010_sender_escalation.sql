-- 0010_sender_escalation.sql — where each (incident, plan notification) stands in its plan.
--
-- Iris derived repeats, step escalation and deactivation every minute from COUNT/MAX over all
-- message rows of all active incidents (QUEUE_SQL, GET_INACTIVE_IDS_SQL): the cost grew with
-- every active incident, a round that created no rows (all targets unresolvable, optional
-- notification) left the incident stuck forever, and `age` came from an arbitrary row.
-- The coordinator keeps one row here per notification an incident has reached, written in the
-- same transaction as the messages of each round, so a tick only reads the rows that are due
-- (ix_sender_escalation_due): its cost follows the work to do, not the number of incidents.
--
-- Lifecycle of a row (written by the coordinator only):
--   repeating   rounds < max_rounds; due_at = last_round_at + wait_s → another round
--   exhausted   every round created; due_at = last_round_at + wait_s → if its step is the
--               incident's current step: escalate (not the last step) or check deactivation
--               (last step); due_at NULL while it waits for the other final-step rows
--   finished    nothing more to do (its step was left, or the incident ended); due_at NULL
-- A round counts even when it paged nobody (so the plan moves on). A round whose role lookup
-- failed with no one to fall back to is retried (due_at in a minute) without counting.
-- Incidents escalated before this table existed are adopted from their message rows.

CREATE TABLE IF NOT EXISTS `sender_escalation` (
  `incident_id` BIGINT NOT NULL,
  `plan_notification_id` BIGINT NOT NULL,
  `step` INT NOT NULL,                              -- plan_notification.step
  `rounds` INT UNSIGNED NOT NULL,                   -- rounds created so far
  `max_rounds` INT UNSIGNED NOT NULL,               -- plan_notification.repeat + 1
  `wait_s` INT NOT NULL,                            -- plan_notification.wait
  `state` ENUM('repeating','exhausted','finished') NOT NULL,
  `last_round_at` DATETIME(3) NOT NULL,             -- when the latest round was created
  `due_at` DATETIME(3) DEFAULT NULL,                -- next thing to do; NULL = nothing scheduled
  `messages` INT UNSIGNED NOT NULL DEFAULT 0,       -- messages created over all rounds
  `last_error` VARCHAR(1024) DEFAULT NULL,          -- last role lookup failure of a round
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`incident_id`, `plan_notification_id`),
    -- serves the per-incident reads (deactivation check, finishing an incident's rows)
  KEY `ix_sender_escalation_due` (`due_at`),
    -- serves the tick: rows with due_at <= now, oldest first
  CONSTRAINT `sender_escalation_incident_fk` FOREIGN KEY (`incident_id`) REFERENCES `incident` (`id`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `sender_escalation_notification_fk` FOREIGN KEY (`plan_notification_id`)
    REFERENCES `plan_notification` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The schedule of the coordinator's housekeeping (core/housekeeping.h) is a lease row too:
-- taken for `housekeeping.every_seconds` and never released, so pruning runs at most that
-- often across invocations and coordinators.
INSERT IGNORE INTO `sender_lease` (`name`) VALUES ('housekeeping');
