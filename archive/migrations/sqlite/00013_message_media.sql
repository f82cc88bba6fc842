-- Issue 17: the stored file a message carries (package media's key; ''
-- none), so that history shows a customer's or an agent's image.

-- +goose Up
ALTER TABLE messages ADD COLUMN media TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE messages DROP COLUMN media;
