-- The patient's aftercare page (issue 14 §1, §3).
--
-- patient_links: one link per enrollment, created in the enrollment's
-- transaction. Only an HMAC-SHA256 of the token (keyed with the daemon's
-- secret, hex) is stored, so a copy of the database alone cannot open a
-- page. revoked_at is set by staff, by cancelling the enrollment; erasing
-- the patient deletes the rows.
CREATE TABLE patient_links (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
    clinic_id     INTEGER NOT NULL REFERENCES clinics(id),
    patient_id    INTEGER NOT NULL REFERENCES patients(id),
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX patient_links_enrollment ON patient_links(enrollment_id);
CREATE INDEX patient_links_patient ON patient_links(patient_id);

-- Clicks on the booking redirect (/c/{token}/book), one row each.
CREATE TABLE booking_clicks (
    id            INTEGER PRIMARY KEY,
    clinic_id     INTEGER NOT NULL REFERENCES clinics(id),
    enrollment_id INTEGER NOT NULL REFERENCES enrollments(id),
    at            INTEGER NOT NULL
);
CREATE INDEX booking_clicks_clinic ON booking_clicks(clinic_id, at);
CREATE INDEX booking_clicks_enrollment ON booking_clicks(enrollment_id);

-- A photo sent with a concern from the page (JPEG or PNG, at most 5 MB).
CREATE TABLE reply_photos (
    reply_id     INTEGER PRIMARY KEY REFERENCES replies(id),
    clinic_id    INTEGER NOT NULL REFERENCES clinics(id),
    patient_id   INTEGER NOT NULL REFERENCES patients(id),
    content_type TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX reply_photos_patient ON reply_photos(patient_id);
