-- Messages not addressed to the patient's own contact (alerts to clinic
-- staff) carry their recipient; replies and alerts are exempt from quiet
-- hours because a person is waiting on them.
ALTER TABLE messages ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;

-- Settings the daemon generates for itself (e.g. the unsubscribe signing key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
