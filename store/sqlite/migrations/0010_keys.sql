-- API keys and password resets (issue 12 §3).

-- A clinic has several API keys, each with a label staff chose ("front desk
-- tablet", "EHR integration") and the time it was last used (written at
-- most once a minute per key, so authentication is not a write per
-- request). Keys made before this migration are labelled "default".
ALTER TABLE api_keys ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET label = 'default' WHERE label = '';
CREATE INDEX api_keys_clinic ON api_keys(clinic_id);

-- "Forgot password" links: only the SHA-256 of the link's token is kept,
-- so a copy of the database cannot reset a password. A link works once
-- (used_at) and only until expires_at.
CREATE TABLE password_resets (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    clinic_id  INTEGER NOT NULL REFERENCES clinics(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX password_resets_user ON password_resets(user_id);
CREATE INDEX password_resets_expiry ON password_resets(expires_at);
