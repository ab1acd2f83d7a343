-- Rate limits shared by every process on the database (store.Allow): one
-- row per key, its theoretical arrival time (GCRA) in unix milliseconds.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
