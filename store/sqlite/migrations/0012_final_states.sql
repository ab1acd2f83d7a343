-- Final states are final (store/machine.go): a resend, one more try for an
-- unreachable handset, or a patient opting back in makes a new message
-- that follows the ended one, instead of reopening it.
ALTER TABLE messages ADD COLUMN follows INTEGER NOT NULL DEFAULT 0;
-- Why a message ended, for the machine: 'opt_out' (the patient opted out
-- of the channel; opting back in brings the future ones back), '' otherwise.
-- The reason column stays the words for people.
ALTER TABLE messages ADD COLUMN end_cause TEXT NOT NULL DEFAULT '';
UPDATE messages SET end_cause = 'opt_out' WHERE status = 'cancelled' AND reason LIKE 'patient opted out of %';
CREATE INDEX messages_follows ON messages(follows) WHERE follows <> 0;
