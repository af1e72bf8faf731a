-- 0006_sender_quota.sql — quota and reprioritisation windows shared by every concurrent sender.
--
-- The old sender kept per-minute buckets in each process's memory, so N processes allowed N
-- times the quota. Here one row per (scope, subject, mode, minute) is incremented atomically by
-- whichever sender instance sends:
--   INSERT INTO sender_quota_counter (scope, subject_id, mode_id, bucket, hits)
--     VALUES (?, ?, ?, <UTC minute>, 1) ON DUPLICATE KEY UPDATE hits = hits + 1
-- and a window is the sum of its last N minutes:
--   SELECT COALESCE(SUM(hits), 0) FROM sender_quota_counter
--    WHERE scope = ? AND subject_id = ? AND mode_id = ? AND bucket > <now − N minutes>
-- Scopes: 'application' (subject = application.id, mode_id 0) for application_quota — the hard
-- and soft windows count the same sends and differ only in length, so one counter serves both;
-- 'target_mode' (subject = target.id, mode_id = source mode) for target_reprioritization.
-- The minute is the database's UTC clock truncated to the minute.

CREATE TABLE IF NOT EXISTS `sender_quota_counter` (
  `scope` ENUM('application','target_mode') NOT NULL,
  `subject_id` BIGINT NOT NULL,
  `mode_id` INT NOT NULL DEFAULT 0,                 -- 0 when the scope has no mode
  `bucket` DATETIME NOT NULL,                       -- start of the UTC minute
  `hits` INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (`scope`, `subject_id`, `mode_id`, `bucket`),
    -- serves the atomic increment and the window sum (a range scan on bucket within one key)
  KEY `ix_sender_quota_counter_bucket` (`bucket`)
    -- serves pruning of buckets older than the longest window
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What the quota logic must remember between invocations: when the soft-breach emails last
-- went out and which incident the last hard breach opened, so breaches are announced at most
-- once per wait period however many instances notice them.
CREATE TABLE IF NOT EXISTS `sender_quota_state` (
  `application_id` INT NOT NULL,
  `soft_notified_at` DATETIME(3) DEFAULT NULL,      -- last soft-breach email round (1800 s spacing)
  `hard_incident_id` BIGINT DEFAULT NULL,           -- incident opened for the last hard breach
  `hard_incident_at` DATETIME(3) DEFAULT NULL,      -- when it was opened (wait_time spacing)
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`application_id`),
    -- serves the conditional UPDATE that elects one instance to announce a breach
  CONSTRAINT `sender_quota_state_application_fk` FOREIGN KEY (`application_id`)
    REFERENCES `application` (`id`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
