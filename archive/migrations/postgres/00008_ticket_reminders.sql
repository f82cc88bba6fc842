-- Ticket reminders (package tickets): the durable claim of a push about a
-- ticket — kind 'new' (due 0), 'due_soon' or 'overdue' for one due time
-- (Unix ms). The first instance to insert a row sends it; every other
-- instance, and the same one after a restart, finds it there and does not.
-- done is 1 once pushed; a claim not done within the lease (its instance
-- died pushing) is taken again (at: the claim's time). A due time moved (a
-- pending ticket back to open) is a new row.

-- +goose Up
CREATE TABLE ticket_reminders (
    ticket   BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    due      BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    instance TEXT NOT NULL DEFAULT '',
    done     SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket, kind, due)
);
CREATE INDEX tickets_due ON tickets (state, due);

-- +goose Down
DROP INDEX tickets_due;
DROP TABLE ticket_reminders;
