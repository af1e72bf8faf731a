-- 0002_sender_lease.sql — the coordinator's lease: at most one coordinator works at a time.
--
-- Reserved concurrency 1 is not a lock (a retried or duplicated tick, a second stack, a manual
-- invoke can all overlap), so the coordinator also holds this row. Acquire and renew are one
-- conditional UPDATE; "affected rows = 1" means the caller holds the lease:
--   UPDATE sender_lease
--      SET token = IF(owner <=> ?, token, token + 1),
--          acquired_at = IF(owner <=> ?, acquired_at, UTC_TIMESTAMP(3)), …counters…,
--          owner = ?, expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND
--    WHERE name = ? AND (owner IS NULL OR owner = ? OR expires_at < UTC_TIMESTAMP(3))
-- MariaDB evaluates SET assignments left to right, so everything that compares with the old
-- owner must come before `owner = ?`.
-- Release: UPDATE … SET owner = NULL, expires_at = UTC_TIMESTAMP(3) WHERE name = ? AND owner = ?.
-- Every time is the database server's UTC clock, so the Lambda hosts' clocks never matter.
-- `token` is a fencing token: it grows on every change of owner, so work stamped with an older
-- token can be recognised as coming from a worker that lost the lease.

CREATE TABLE IF NOT EXISTS `sender_lease` (
  `name` VARCHAR(64) CHARACTER SET ascii NOT NULL,       -- which lease ('coordinator')
  `owner` VARCHAR(128) DEFAULT NULL,                     -- holder id (Lambda request id / host:pid); NULL = free
  `token` BIGINT UNSIGNED NOT NULL DEFAULT 0,            -- fencing token, +1 per new holder
  `acquired_at` DATETIME(3) DEFAULT NULL,                -- when the current holder took it
  `expires_at` DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:00.000',  -- free for others after this
  `acquired_count` BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- times it changed hands (takeovers included)
  `renewed_count` BIGINT UNSIGNED NOT NULL DEFAULT 0,    -- renewals by the same holder
  `takeover_count` BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- acquisitions of an expired, unreleased lease
  `updated_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`name`)                                   -- serves acquire/renew/release by name
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The row exists from the start so acquisition is always a plain conditional UPDATE.
INSERT IGNORE INTO `sender_lease` (`name`) VALUES ('coordinator');
