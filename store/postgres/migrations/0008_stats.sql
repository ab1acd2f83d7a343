-- Outcome statistics (store.Stats); SQLite's 0018_stats.sql says why.
CREATE INDEX enrollments_clinic_treated ON enrollments(clinic_id, treated_at);
