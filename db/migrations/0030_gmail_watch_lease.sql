-- The schedule of the coordinator's Gmail watch renewal (core/coordinator/gmail_watch.h) is a
-- lease row, like housekeeping's: taken for gmail.every_seconds (8 hours, as Iris renewed it)
-- and never released, so the watch is renewed at most that often whichever coordinator runs.
-- Safe to run again.
INSERT IGNORE INTO `sender_lease` (`name`) VALUES ('gmail-watch');
