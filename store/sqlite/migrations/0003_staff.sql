-- Clinic staff who sign in to the web console, and their sessions.

-- A staff user belongs to one clinic; the same address may exist at two
-- clinics (two separate accounts). Emails are stored lower-cased.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    clinic_id     INTEGER NOT NULL REFERENCES clinics(id),
    email         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,           -- bcrypt
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    UNIQUE (clinic_id, email)
);
CREATE INDEX users_email ON users(email);

-- A signed-in browser. Only the SHA-256 of the session token is stored, so
-- a copy of the database cannot be used to sign in. csrf is the session's
-- anti-forgery token, checked on every form post.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    clinic_id  INTEGER NOT NULL REFERENCES clinics(id),
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX sessions_user ON sessions(user_id);
