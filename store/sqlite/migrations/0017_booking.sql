-- Booking systems (issue 14 §3).
--
-- A clinic's booking webhook secret: the key of the HMAC-SHA256 its booking
-- system signs each request with. It is kept as is (verifying a signature
-- needs the key itself, unlike an API key's hash) and shown once, when it is
-- made. The current secret has expires_at 0; rotating keeps the previous one
-- working until expires_at (24 hours), so a booking system can switch over.
CREATE TABLE booking_secrets (
    id         INTEGER PRIMARY KEY,
    clinic_id  INTEGER NOT NULL REFERENCES clinics(id),
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX booking_secrets_clinic ON booking_secrets(clinic_id);

-- Every booking event accepted, once per (clinic, appointment, event): a
-- repeat is answered with the first one's outcome and changes nothing.
-- patient_id and enrollment_id are what it matched or made (NULL for none);
-- outcome is a word (enrolled, reminders_cancelled, reopened, no_patient,
-- ...), detail says why in words (never a phone, an email or a name).
CREATE TABLE booking_events (
    id             INTEGER PRIMARY KEY,
    clinic_id      INTEGER NOT NULL REFERENCES clinics(id),
    appointment_id TEXT    NOT NULL,
    event          TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    occurred_at    INTEGER NOT NULL,
    starts_at      INTEGER NOT NULL DEFAULT 0,
    patient_id     INTEGER REFERENCES patients(id),
    enrollment_id  INTEGER REFERENCES enrollments(id),
    outcome        TEXT    NOT NULL,
    detail         TEXT    NOT NULL DEFAULT '',
    messages       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (clinic_id, appointment_id, event)
);
CREATE INDEX booking_events_clinic_time ON booking_events(clinic_id, occurred_at);
CREATE INDEX booking_events_patient ON booking_events(patient_id);
