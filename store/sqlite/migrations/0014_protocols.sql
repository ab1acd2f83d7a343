-- Protocols per clinic, treatment and language (issue 13).
--
-- Clinics: the settings planning uses. '' and 0 mean the daemon's defaults
-- (English, the daemon's quiet_hours, aftercare.DefaultDailyTextCap, no
-- weekly cap, every treatment the daemon has a protocol for), so existing
-- clinics plan exactly as before. treatments is the list of treatments
-- offered, one per line (treatment names contain spaces, never newlines).
ALTER TABLE clinics ADD COLUMN default_language TEXT NOT NULL DEFAULT '';
ALTER TABLE clinics ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE clinics ADD COLUMN daily_text_cap INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clinics ADD COLUMN weekly_text_cap INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clinics ADD COLUMN treatments TEXT NOT NULL DEFAULT '';

-- Patients: the language they are written to in; '' is the clinic's
-- default language. Existing patients keep '': they never chose one, and
-- with every clinic's default '' (English) they go on getting English.
ALTER TABLE patients ADD COLUMN language TEXT NOT NULL DEFAULT '';

-- Enrollments: the protocol (name), version and language each was planned
-- with. Before this migration a daemon ran one protocol and an enrollment's
-- treatment had to equal its name (case aside), in English: existing rows
-- get protocol = their treatment lower-cased ('microneedling' on every
-- daemon that ran the default protocol), language 'en', and version 0
-- (unknown: the version was not recorded).
ALTER TABLE enrollments ADD COLUMN protocol TEXT NOT NULL DEFAULT '';
ALTER TABLE enrollments ADD COLUMN protocol_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE enrollments ADD COLUMN language TEXT NOT NULL DEFAULT '';
UPDATE enrollments SET protocol = lower(trim(treatment)), language = 'en';

-- A clinic's own protocol files: every uploaded version is kept (plans
-- record the version they used), and at most one per clinic, treatment and
-- language is active (used for new plans instead of the daemon's).
CREATE TABLE clinic_protocols (
    id          INTEGER PRIMARY KEY,
    clinic_id   INTEGER NOT NULL REFERENCES clinics(id),
    treatment   TEXT NOT NULL,
    language    TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    source      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (clinic_id, treatment, language, version)
);
CREATE UNIQUE INDEX clinic_protocols_active ON clinic_protocols(clinic_id, treatment, language) WHERE active <> 0;
