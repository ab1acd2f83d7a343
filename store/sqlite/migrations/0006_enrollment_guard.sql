-- Patients reached by email only (no phone) and by phone only. Before this
-- migration, patients had a table-level UNIQUE (clinic_id, phone), which an
-- empty phone would have turned into "one email-only patient per clinic";
-- the Go side of this migration (store.rebuildPatients) rebuilt the table
-- without it. A patient is now who the store resolves by their phone, or,
-- without one, by their email address.
CREATE UNIQUE INDEX patients_clinic_phone ON patients(clinic_id, phone) WHERE phone <> '';
CREATE UNIQUE INDEX patients_clinic_email_only ON patients(clinic_id, lower(email)) WHERE phone = '' AND email <> '';

-- The duplicate-enrollment guard looks up a patient's enrollments of one
-- treatment and session.
CREATE INDEX enrollments_patient_session ON enrollments(patient_id, treatment, session_number) WHERE cancelled_at IS NULL;
