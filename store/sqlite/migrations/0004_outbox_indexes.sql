-- The dispatcher changes a message's status twice per send (claimed, then
-- its outcome), and an index on (patient_id, status) was rewritten both
-- times. A patient has a few dozen messages, so the patient id alone
-- serves every per-patient lookup as well.
DROP INDEX messages_patient;
CREATE INDEX messages_patient ON messages(patient_id);
