-- 0001_schema_migrations.sql — the ledger of applied sender migrations.
--
-- Place: first of the sender's own, additive migrations (db/migrations/NNNN_<name>.sql). Every
-- migration is idempotent on its own (CREATE … IF NOT EXISTS, INSERT IGNORE); this ledger only
-- lets scripts/db.sh skip what was applied and refuse a file that changed after it was applied.
-- Written by scripts/db.sh migrate only; nothing in the running sender touches it.

CREATE TABLE IF NOT EXISTS `schema_migrations` (
  `version` INT UNSIGNED NOT NULL,            -- NNNN of the file name
  `name` VARCHAR(255) NOT NULL,               -- the file name, for humans
  `checksum` CHAR(64) CHARACTER SET ascii NOT NULL,  -- sha256 of the file as applied
  `applied_at` DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
