-- Check-in answers (issue 14 §2): a patient's answer to a question text
-- ("How is your skin? Reply 1, 2 or 3"). One per reply (a provider's
-- repeated webhook records nothing twice). The reply's own text stays in
-- replies; this holds only what it means.
CREATE TABLE checkin_answers (
    id            INTEGER PRIMARY KEY,
    clinic_id     INTEGER NOT NULL REFERENCES clinics(id),
    patient_id    INTEGER NOT NULL REFERENCES patients(id),
    enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
    reply_id      INTEGER NOT NULL UNIQUE REFERENCES replies(id),
    message_id    INTEGER NOT NULL REFERENCES messages(id),
    step          TEXT NOT NULL,
    day           INTEGER NOT NULL,
    answer        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    follow_up_id  INTEGER NOT NULL DEFAULT 0,
    at            INTEGER NOT NULL
);
CREATE INDEX checkin_answers_patient ON checkin_answers(patient_id, at);
CREATE INDEX checkin_answers_clinic ON checkin_answers(clinic_id, at);
