-- Erasure and retention (issue 12).

-- A patient's erasure keeps the row (ids hold the delivery counts
-- together) but replaces name, phone and email; erased_at says when.
ALTER TABLE patients ADD COLUMN erased_at INTEGER;

-- The fact and time of an erased patient's opt-out, without identity: an
-- HMAC of the clinic, channel and address under a key in settings
-- (secret:erased-optout), so the address is never contacted again unless
-- the patient consents anew (START).
CREATE TABLE erased_optouts (
    hash         TEXT    PRIMARY KEY,
    clinic_id    INTEGER NOT NULL,
    channel      TEXT    NOT NULL CHECK (channel IN ('sms', 'email')),
    opted_out_at INTEGER NOT NULL,
    erased_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- When the retention purge removed an enrollment's message bodies (and
-- its patient's reply texts), leaving the delivery log's metadata.
ALTER TABLE enrollments ADD COLUMN bodies_purged_at INTEGER;
