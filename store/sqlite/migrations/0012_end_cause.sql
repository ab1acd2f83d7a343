-- Why a message ended, for the state machine (store/machine.go):
-- 'opt_out' (the patient opted out of the channel; opting back in brings
-- back the ones still ahead), '' otherwise. The reason column stays the
-- words for people; nothing matches on it any more.
ALTER TABLE messages ADD COLUMN end_cause TEXT NOT NULL DEFAULT '';
UPDATE messages SET end_cause = 'opt_out' WHERE status = 'cancelled' AND reason LIKE 'patient opted out of %';
