-- The archive's first schema, SQLite. Times are Unix milliseconds (UTC) in
-- both dialects, so the Go code reads and compares them the same way.

-- +goose Up
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    customer   TEXT NOT NULL DEFAULT '',
    channel    TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    started    INTEGER NOT NULL,
    ended      INTEGER,
    agent      TEXT NOT NULL DEFAULT '',
    rating     INTEGER,
    outcome    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conversations_started ON conversations (started DESC, id DESC);
CREATE INDEX conversations_customer ON conversations (customer, started DESC);
CREATE INDEX conversations_agent ON conversations (agent, started DESC);
CREATE INDEX conversations_channel ON conversations (channel, started DESC);

-- Every event once: the Redis stream id is the key that makes a replayed
-- batch store nothing twice.
CREATE TABLE events (
    id     TEXT PRIMARY KEY,
    conv   TEXT NOT NULL,
    at     INTEGER NOT NULL,
    type   TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_conv ON events (conv, at);

-- A rowid table: messages_fts points at its rowid.
CREATE TABLE messages (
    event_id TEXT NOT NULL UNIQUE,
    conv     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    dir      TEXT NOT NULL CHECK (dir IN ('in', 'out', 'note')),
    kind     TEXT NOT NULL DEFAULT 'text',
    text     TEXT NOT NULL DEFAULT '',
    agent    TEXT NOT NULL DEFAULT '',
    intent   TEXT NOT NULL DEFAULT '',
    words    TEXT NOT NULL DEFAULT '',
    entities TEXT NOT NULL DEFAULT ''
);
CREATE INDEX messages_conv ON messages (conv, at);

-- words holds the segmented words joined by spaces: unicode61 keeps a run of
-- Chinese characters as one token, so the segmenter must split it first.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    words, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61'
);
-- +goose StatementBegin
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, words) VALUES (new.rowid, new.words);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, words) VALUES ('delete', old.rowid, old.words);
END;
-- +goose StatementEnd

-- Order, tracking and phone numbers, for exact search.
CREATE TABLE entities (
    value    TEXT NOT NULL,
    conv     TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (value, conv, event_id)
);
CREATE INDEX entities_conv ON entities (conv);

-- +goose Down
DROP TABLE entities;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_insert;
DROP TABLE messages_fts;
DROP TABLE messages;
DROP TABLE events;
DROP TABLE conversations;
