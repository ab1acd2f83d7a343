-- Core schema. Times are INTEGER unix milliseconds (UTC).

CREATE TABLE clinics (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT    NOT NULL,
    phone                 TEXT    NOT NULL,
    timezone              TEXT    NOT NULL,
    booking_url           TEXT    NOT NULL DEFAULT '',
    alert_email           TEXT    NOT NULL DEFAULT '',
    on_call_phone         TEXT    NOT NULL DEFAULT '',
    sms_from              TEXT    NOT NULL DEFAULT '',
    messaging_service_sid TEXT    NOT NULL DEFAULT '',
    email_from            TEXT    NOT NULL DEFAULT '',
    reply_to              TEXT    NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL
);

-- API keys are stored as SHA-256 hashes; the key itself is shown once.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    clinic_id  INTEGER NOT NULL REFERENCES clinics(id),
    key_hash   TEXT    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE patients (
    id            INTEGER PRIMARY KEY,
    clinic_id     INTEGER NOT NULL REFERENCES clinics(id),
    first_name    TEXT    NOT NULL,
    last_name     TEXT    NOT NULL,
    phone         TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    timezone      TEXT    NOT NULL,
    sms_opt_out   INTEGER NOT NULL DEFAULT 0,
    email_opt_out INTEGER NOT NULL DEFAULT 0,
    phone_bad     TEXT    NOT NULL DEFAULT '',
    email_bad     TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (clinic_id, phone)
);
CREATE INDEX patients_phone ON patients(phone);

-- Consent is evidence: every grant and revocation, how and when.
CREATE TABLE consents (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    channel         TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    granted         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    method          TEXT    NOT NULL,
    wording_version TEXT    NOT NULL,
    detail          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX consents_patient ON consents(patient_id, channel, at);

CREATE TABLE enrollments (
    id              INTEGER PRIMARY KEY,
    clinic_id       INTEGER NOT NULL REFERENCES clinics(id),
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    treatment       TEXT    NOT NULL,
    treated_at      INTEGER NOT NULL,
    session_number  INTEGER NOT NULL CHECK (session_number >= 1),
    series_length   INTEGER NOT NULL CHECK (series_length >= session_number),
    external_ref    TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL DEFAULT '',
    request_hash    TEXT    NOT NULL DEFAULT '',
    cancelled_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX enrollments_external_ref ON enrollments(clinic_id, external_ref) WHERE external_ref <> '';
CREATE UNIQUE INDEX enrollments_idempotency ON enrollments(clinic_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX enrollments_patient ON enrollments(patient_id, session_number);

-- The outbox. One row per (enrollment, step, channel, occurrence): planning
-- twice is impossible, not merely unlikely.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    enrollment_id   INTEGER NOT NULL REFERENCES enrollments(id),
    clinic_id       INTEGER NOT NULL REFERENCES clinics(id),
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    step            TEXT    NOT NULL,
    occurrence      INTEGER NOT NULL DEFAULT 0,
    channel         TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    send_at         INTEGER NOT NULL,
    stale_at        INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'delivered', 'failed', 'skipped', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    ambiguous       INTEGER NOT NULL DEFAULT 0,
    provider_id     TEXT    NOT NULL DEFAULT '',
    error_code      TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    body            TEXT    NOT NULL,
    html_body       TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    UNIQUE (enrollment_id, step, channel, occurrence)
);
-- The claim reads only this small partial index.
CREATE INDEX messages_due ON messages(next_attempt_at, id) WHERE status = 'scheduled';
CREATE INDEX messages_lease ON messages(lease_until) WHERE status = 'sending';
CREATE INDEX messages_sent ON messages(sent_at) WHERE status = 'sent';
CREATE INDEX messages_provider ON messages(provider_id) WHERE provider_id <> '';
CREATE INDEX messages_clinic_send ON messages(clinic_id, send_at);
CREATE INDEX messages_patient ON messages(patient_id, status);

-- Every state change of a message, and notes on it.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    at          INTEGER NOT NULL,
    from_status TEXT    NOT NULL DEFAULT '',
    to_status   TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_message ON events(message_id, id);

-- Inbound SMS from patients.
CREATE TABLE replies (
    id          INTEGER PRIMARY KEY,
    clinic_id   INTEGER NOT NULL REFERENCES clinics(id),
    patient_id  INTEGER NOT NULL REFERENCES patients(id),
    provider_id TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (provider_id, patient_id)
);
CREATE INDEX replies_patient ON replies(patient_id, at);

-- Webhooks already processed (providers retry them).
CREATE TABLE webhook_seen (
    kind TEXT    NOT NULL,
    key  TEXT    NOT NULL,
    at   INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX messages_stale ON messages(stale_at) WHERE status = 'scheduled';
