-- Search over many conversations (BENCHMARKS.md, "Archive search"): a
-- common word is searched by reading conversations newest first and
-- checking each one's messages for the words; this index holds both, so
-- the check reads no message rows.

-- +goose Up
CREATE INDEX messages_conv_words ON messages (conv, words);

-- +goose Down
DROP INDEX messages_conv_words;
