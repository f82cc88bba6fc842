-- Telling the customer their ticket is solved (package tickets, Notifier):
-- one row per solved event (ticket_events.id), claimed by the instance that
-- tells the customer; done once they were told (or could not be: outcome).
-- The primary key makes two instances' claims of one solve exclusive.

-- +goose Up
CREATE TABLE ticket_notices (
    event    INTEGER PRIMARY KEY,
    ticket   INTEGER NOT NULL,
    claimed  INTEGER NOT NULL,
    claimer  TEXT NOT NULL DEFAULT '',
    done     INTEGER,
    outcome  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_type ON ticket_events (type, at);

-- +goose Down
DROP INDEX ticket_events_type;
DROP TABLE ticket_notices;
