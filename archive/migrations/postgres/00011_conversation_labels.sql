-- The labels (tags) agents put on a conversation at any time (console
-- labels_changed events): one row per conversation and label, the set of
-- the conversation's labels_changed event with the highest seq
-- (conversations.labels_seq), so events arriving in any order and any number
-- of times leave the last change's set.

-- +goose Up
CREATE TABLE conversation_labels (
    conv  TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (conv, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label, conv);
ALTER TABLE conversations ADD COLUMN labels_seq BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE conversations DROP COLUMN labels_seq;
DROP INDEX conversation_labels_label;
DROP TABLE conversation_labels;
