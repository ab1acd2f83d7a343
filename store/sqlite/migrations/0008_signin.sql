-- Sign-in that resists abuse (issue 12 §3, §4): roles, idle sessions, and
-- sign-in throttles shared by every daemon on this database.

-- A user is a clinic admin (manages users, and later keys, settings and
-- audit) or staff (enrolls, views and acts on patients). Everyone who could
-- sign in before had every power, so existing users become admins.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'staff' CHECK (role IN ('admin', 'staff'));
UPDATE users SET role = 'admin';
-- When the password was last set (0: at created_at). Kept for the audit
-- trail and for telling staff when their password changed.
ALTER TABLE users ADD COLUMN password_set_at INTEGER NOT NULL DEFAULT 0;

-- A session now ends at the first of expires_at (absolute lifetime) and
-- idle_until (pushed forward while the browser is in use). Sessions from
-- before carry no idle deadline: they end here, and staff sign in again once.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN idle_until INTEGER NOT NULL DEFAULT 0;

-- Failed sign-ins per key: "account:<email>" or "ip:<address or /64>".
-- After a number of free failures a key is blocked until blocked_until,
-- doubling with each further failure up to a cap; a quiet period resets it.
-- Never permanent. Rows are pruned once stale (see PruneLoginThrottles).
CREATE TABLE login_throttle (
    key             TEXT    PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX login_throttle_last ON login_throttle(last_failure_at);
