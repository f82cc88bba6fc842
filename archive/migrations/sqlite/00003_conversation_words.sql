-- Search at conversation level (BENCHMARKS.md, "Archive search"): words
-- match a conversation whose messages have them all, so the full-text
-- index holds one document per conversation (its messages' words,
-- conversations.words) instead of one per message. The document's rowid is
-- seq, the conversation's place in the newest-first order: its start in
-- milliseconds << 20, plus a tiebreak among those of the same millisecond.
-- FTS5 walks a word's matches in rowid order, so the newest page of a
-- common word and a capped count read only what they return, and a page
-- goes on from a cursor (seq < the last one's) instead of skipping rows.

-- +goose Up
ALTER TABLE conversations ADD COLUMN seq INTEGER;
ALTER TABLE conversations ADD COLUMN words TEXT NOT NULL DEFAULT '';
UPDATE conversations SET seq = x.seq
FROM (SELECT id, (started << 20) + ROW_NUMBER() OVER (PARTITION BY started ORDER BY id) - 1 AS seq FROM conversations) AS x
WHERE x.id = conversations.id;
UPDATE conversations SET words = COALESCE(
    (SELECT group_concat(m.words, ' ') FROM messages m WHERE m.conv = conversations.id AND m.words <> ''), '');

CREATE UNIQUE INDEX conversations_seq ON conversations (seq);
DROP INDEX conversations_started;
DROP INDEX conversations_customer;
DROP INDEX conversations_agent;
DROP INDEX conversations_channel;
CREATE INDEX conversations_customer ON conversations (customer, seq);
CREATE INDEX conversations_agent ON conversations (agent, seq);
-- The rating beside: a channel's low ratings over a period are counted
-- from the index alone.
CREATE INDEX conversations_channel ON conversations (channel, seq, rating);
-- Low (or high) ratings over a period: few conversations are rated.
CREATE INDEX conversations_rating ON conversations (rating, seq) WHERE rating IS NOT NULL;

-- External content: the words are stored once, in conversations. A
-- conversation without seq yet (the archiver gives it one in the same
-- transaction) has no document.
CREATE VIRTUAL TABLE conv_fts USING fts5(
    words, content = 'conversations', content_rowid = 'seq', tokenize = 'unicode61'
);
INSERT INTO conv_fts (conv_fts) VALUES ('rebuild');
-- +goose StatementBegin
CREATE TRIGGER conv_fts_insert AFTER INSERT ON conversations WHEN new.seq IS NOT NULL BEGIN
    INSERT INTO conv_fts (rowid, words) VALUES (new.seq, new.words);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER conv_fts_update AFTER UPDATE OF seq, words ON conversations BEGIN
    INSERT INTO conv_fts (conv_fts, rowid, words) SELECT 'delete', old.seq, old.words WHERE old.seq IS NOT NULL;
    INSERT INTO conv_fts (rowid, words) SELECT new.seq, new.words WHERE new.seq IS NOT NULL;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER conv_fts_delete AFTER DELETE ON conversations WHEN old.seq IS NOT NULL BEGIN
    INSERT INTO conv_fts (conv_fts, rowid, words) VALUES ('delete', old.seq, old.words);
END;
-- +goose StatementEnd

-- The per-message index and the covering index of the scan it needed.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TABLE messages_fts;
DROP INDEX messages_conv_words;

-- +goose Down
CREATE INDEX messages_conv_words ON messages (conv, words);
CREATE VIRTUAL TABLE messages_fts USING fts5(
    words, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
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
DROP TRIGGER conv_fts_delete;
DROP TRIGGER conv_fts_update;
DROP TRIGGER conv_fts_insert;
DROP TABLE conv_fts;
DROP INDEX conversations_rating;
DROP INDEX conversations_channel;
DROP INDEX conversations_agent;
DROP INDEX conversations_customer;
DROP INDEX conversations_seq;
CREATE INDEX conversations_started ON conversations (started DESC, id DESC);
CREATE INDEX conversations_customer ON conversations (customer, started DESC);
CREATE INDEX conversations_agent ON conversations (agent, started DESC);
CREATE INDEX conversations_channel ON conversations (channel, started DESC);
ALTER TABLE conversations DROP COLUMN words;
ALTER TABLE conversations DROP COLUMN seq;
