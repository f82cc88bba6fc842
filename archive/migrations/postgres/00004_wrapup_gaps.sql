-- Issue 16: the agent's wrap-up on the conversation (what it was about: an
-- FAQ intent id or a configured label id, and whether it was resolved;
-- resolved NULL: no wrap-up), and the clusters of unanswered questions an
-- editor dismissed: by a hash of each of their messages' folded text
-- (archive.GapKey), so no customer's words are kept here.

-- +goose Up
ALTER TABLE conversations ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN resolved INTEGER;
CREATE INDEX conversations_label ON conversations (label, started DESC);

CREATE TABLE gap_dismissals (
    text_key TEXT PRIMARY KEY,
    by_agent TEXT NOT NULL DEFAULT '',
    at       BIGINT NOT NULL
);

-- +goose Down
DROP TABLE gap_dismissals;
DROP INDEX conversations_label;
ALTER TABLE conversations DROP COLUMN resolved;
ALTER TABLE conversations DROP COLUMN label;
