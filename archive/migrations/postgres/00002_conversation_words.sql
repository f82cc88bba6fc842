-- Search at conversation level (BENCHMARKS.md, "Archive search"): words
-- match a conversation whose messages have them all, so the tsvector is
-- the conversation's (its messages' words, conversations.words), one row
-- to check per conversation: the planner reads a rare word's matches from
-- the GIN index and walks conversations_started for a common one, stopping
-- after the page. Positions are stripped: the search needs none.

-- +goose Up
ALTER TABLE conversations ADD COLUMN words TEXT NOT NULL DEFAULT '';
UPDATE conversations c SET words = m.words
FROM (SELECT conv, string_agg(words, ' ') AS words FROM messages WHERE words <> '' GROUP BY conv) m
WHERE m.conv = c.id;
-- Adding a stored column rewrites the table (and so compacts it after the
-- update above).
ALTER TABLE conversations ADD COLUMN tsv TSVECTOR GENERATED ALWAYS AS (strip(to_tsvector('simple', words))) STORED;
CREATE INDEX conversations_tsv ON conversations USING GIN (tsv);
ALTER TABLE messages DROP COLUMN tsv;
-- Low (or high) ratings over a period: few conversations are rated. With a
-- channel, its index holds the rating: an index-only scan counts them.
CREATE INDEX conversations_rating ON conversations (rating, started) WHERE rating IS NOT NULL;
DROP INDEX conversations_channel;
CREATE INDEX conversations_channel ON conversations (channel, started DESC, id DESC) INCLUDE (rating);
ANALYZE conversations;

-- +goose Down
DROP INDEX conversations_channel;
CREATE INDEX conversations_channel ON conversations (channel, started DESC);
DROP INDEX conversations_rating;
ALTER TABLE messages ADD COLUMN tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED;
CREATE INDEX messages_tsv ON messages USING GIN (tsv);
ALTER TABLE conversations DROP COLUMN tsv;
ALTER TABLE conversations DROP COLUMN words;
