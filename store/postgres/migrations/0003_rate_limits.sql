-- Rate limits shared by every replica (store.Allow); SQLite's 0013.
CREATE TABLE rate_limits (
    key TEXT COLLATE "C" PRIMARY KEY,
    tat BIGINT NOT NULL
);
