-- Outcome statistics (store.Stats) read a clinic's enrollments by the
-- week they were treated in; without this index every call would read
-- every clinic's enrollments (or, worse, every message).
CREATE INDEX enrollments_clinic_treated ON enrollments(clinic_id, treated_at);
