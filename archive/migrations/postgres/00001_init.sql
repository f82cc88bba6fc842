-- The archive's first schema, PostgreSQL. Times are Unix milliseconds (UTC)
-- in both dialects, so the Go code reads and compares them the same way.

-- +goose Up
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    customer   TEXT NOT NULL DEFAULT '',
    channel    TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    started    BIGINT NOT NULL,
    ended      BIGINT,
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
    at     BIGINT NOT NULL,
    type   TEXT NOT NULL,
    fields JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX events_conv ON events (conv, at);

-- words holds the segmented words joined by spaces; the 'simple'
-- configuration neither stems nor drops words, so Chinese words stay whole.
CREATE TABLE messages (
    id       BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    conv     TEXT NOT NULL,
    at       BIGINT NOT NULL,
    dir      TEXT NOT NULL CHECK (dir IN ('in', 'out', 'note')),
    kind     TEXT NOT NULL DEFAULT 'text',
    text     TEXT NOT NULL DEFAULT '',
    agent    TEXT NOT NULL DEFAULT '',
    intent   TEXT NOT NULL DEFAULT '',
    words    TEXT NOT NULL DEFAULT '',
    entities TEXT NOT NULL DEFAULT '',
    tsv      TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED
);
CREATE INDEX messages_conv ON messages (conv, at);
CREATE INDEX messages_tsv ON messages USING GIN (tsv);

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
DROP TABLE messages;
DROP TABLE events;
DROP TABLE conversations;
