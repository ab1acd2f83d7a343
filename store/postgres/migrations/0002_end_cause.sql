-- Why a message ended, for the state machine (store/machine.go); SQLite's
-- 0012_end_cause.sql.
ALTER TABLE messages ADD COLUMN end_cause TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE messages SET end_cause = 'opt_out' WHERE status = 'cancelled' AND reason LIKE 'patient opted out of %';
