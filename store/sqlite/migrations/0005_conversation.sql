-- Conversations with patients: every reply that needs a person joins a
-- concern (one open concern per patient), which is alerted once, answered
-- once and re-alerted only while nobody has acknowledged it.

-- Given to patients who write outside opening hours (optional).
ALTER TABLE clinics ADD COLUMN after_hours_phone TEXT NOT NULL DEFAULT '';

CREATE TABLE concerns (
    id              INTEGER PRIMARY KEY,
    clinic_id       INTEGER NOT NULL REFERENCES clinics(id),
    patient_id      INTEGER NOT NULL REFERENCES patients(id),
    -- question: an ordinary reply nobody has answered yet; red_flag: a
    -- reply that reads like a complication (staff are alerted).
    kind            TEXT    NOT NULL CHECK (kind IN ('question', 'red_flag')),
    status          TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    emergency       INTEGER NOT NULL DEFAULT 0,
    signs           TEXT    NOT NULL DEFAULT '', -- which sign matched which words
    opened_at       INTEGER NOT NULL,
    last_reply_at   INTEGER NOT NULL,
    replies         INTEGER NOT NULL DEFAULT 0,
    alerted_at      INTEGER NOT NULL DEFAULT 0,  -- last alert to staff
    alerts          INTEGER NOT NULL DEFAULT 0,
    answered_at     INTEGER NOT NULL DEFAULT 0,  -- last text to the patient about it
    acknowledged_at INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT    NOT NULL DEFAULT '',
    resolved_at     INTEGER NOT NULL DEFAULT 0,
    resolved_by     TEXT    NOT NULL DEFAULT '',
    -- Set when no route (email, on-call text) could deliver an alert.
    alert_failed_at INTEGER NOT NULL DEFAULT 0,
    alert_failure   TEXT    NOT NULL DEFAULT ''
);
-- One concern per patient that is not resolved.
CREATE UNIQUE INDEX concerns_unresolved ON concerns(patient_id) WHERE status <> 'resolved';
CREATE INDEX concerns_clinic ON concerns(clinic_id, status, last_reply_at);

ALTER TABLE replies ADD COLUMN concern_id INTEGER REFERENCES concerns(id);
CREATE INDEX replies_concern ON replies(concern_id) WHERE concern_id IS NOT NULL;

-- The concern an alert or answer is about, so housekeeping can tell an
-- alert that reached nobody.
ALTER TABLE messages ADD COLUMN concern_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_concern ON messages(concern_id) WHERE concern_id <> 0;
-- An answer to a message the patient sent: it may reach a patient who
-- opted out (they wrote to us); nothing else may.
ALTER TABLE messages ADD COLUMN answer INTEGER NOT NULL DEFAULT 0;
-- Who at the clinic wrote a text sent from the console inbox.
ALTER TABLE messages ADD COLUMN sent_by TEXT NOT NULL DEFAULT '';
