-- 0015_sender_notification_conflicts.sql — a reused notification id with different content is
-- refused, and recorded on the notification it would have been merged into.
--
-- A producer that reuses a notification_id for a different notification (another target, another
-- body) gets nothing sent for the second one: the sender compares the record's payload_sha256 with
-- the one first seen, refuses the record (dead-lettered with the reason) and counts the refusal
-- here, so an operator looking at the notification sees that its id was reused and when.

ALTER TABLE `sender_notification`
  ADD COLUMN IF NOT EXISTS `conflicts` INT UNSIGNED NOT NULL DEFAULT 0
    AFTER `recipients_failed`,                      -- records refused for reusing this id
  ADD COLUMN IF NOT EXISTS `last_conflict` VARCHAR(1024) DEFAULT NULL
    AFTER `conflicts`;                              -- the last refusal's reason (with its SQS id)
