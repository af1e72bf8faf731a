-- 0011_sender_incident_step.sql — an index so the coordinator finds new incidents without
-- reading every active one.
--
-- Every tick the coordinator looks for incidents that have not entered their plan yet
-- (`current_step = 0 AND active = 1`, core/coordinator/escalate.c). Iris's schema only indexes
-- `active`, so that read walked every active incident: at 100 000 active incidents a tick with
-- nothing due took ~100 ms. With (current_step, active) — InnoDB appends the primary key, so
-- the rows come in id order — the read touches only the new incidents.
--
-- Additive: Iris's own code neither needs nor notices the index. The index is built online
-- (InnoDB adds a secondary index without blocking reads or writes).

-- Safe to run again (MySQL has no ADD INDEX IF NOT EXISTS): the index is added only when missing.
SET @iris_ddl = IF((SELECT COUNT(*) FROM information_schema.statistics
                    WHERE table_schema = DATABASE() AND table_name = 'incident'
                      AND index_name = 'ix_sender_incident_step') = 0,
                   'ALTER TABLE `incident` ADD INDEX `ix_sender_incident_step` (`current_step`, `active`)',
                   'DO 0');
PREPARE iris_ddl FROM @iris_ddl;
EXECUTE iris_ddl;
DEALLOCATE PREPARE iris_ddl;
