-- The audit trail: who did what to which patient's record, when, from where.
-- Append-only: the application never updates or deletes a row except the
-- retention purge (rows older than the configured retention, default six
-- years). Details never hold phones, emails or message bodies, so rows
-- survive a patient's erasure without identifying them.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    clinic_id     INTEGER,
    at            INTEGER NOT NULL,
    actor_kind    TEXT    NOT NULL,
    actor_id      INTEGER,
    actor_label   TEXT    NOT NULL DEFAULT '',
    ip            TEXT    NOT NULL DEFAULT '',
    action        TEXT    NOT NULL,
    patient_id    INTEGER,
    enrollment_id INTEGER,
    detail        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_clinic_at ON audit_log (clinic_id, at);
CREATE INDEX audit_log_patient ON audit_log (patient_id) WHERE patient_id IS NOT NULL;
