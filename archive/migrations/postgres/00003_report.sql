-- Reports (package report owns these tables; nothing else writes them).
-- report_facts: one row per archived conversation, what the reports need of
-- it (JSON, derived from its events); report_rollups: per dimension, day
-- (in the configured time zone) and key, the sums of its conversations'
-- figures (JSON: counts and histogram buckets); report_state: how the
-- rollups were built (version, time zone, reopen window).

-- +goose Up
CREATE TABLE report_facts (
    conv TEXT PRIMARY KEY,
    data TEXT NOT NULL DEFAULT ''
);
CREATE TABLE report_rollups (
    dim  TEXT NOT NULL,
    day  TEXT NOT NULL,
    key  TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (dim, day, key)
);
CREATE TABLE report_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE report_state;
DROP TABLE report_rollups;
DROP TABLE report_facts;
