-- Tickets (package tickets owns these tables; nothing else writes them).
-- tickets: one row per ticket; source is the idempotency key of an automatic
-- creation (the rated event's id, the left message's id): a replay creates
-- nothing twice. ticket_convs: the archived conversations linked to a ticket.
-- ticket_notes: internal notes. ticket_events: every change, state changes
-- with from/to. Times are Unix milliseconds (UTC), as in the rest.

-- +goose Up
CREATE TABLE tickets (
    id         BIGSERIAL PRIMARY KEY,
    source     TEXT UNIQUE,
    state      TEXT NOT NULL CHECK (state IN ('open', 'pending', 'solved', 'closed')),
    waiting_on TEXT NOT NULL DEFAULT '',
    priority   TEXT NOT NULL DEFAULT 'normal',
    owner      TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL DEFAULT '',
    due        BIGINT,
    reason     TEXT NOT NULL,
    text       TEXT NOT NULL DEFAULT '',
    customer   TEXT NOT NULL DEFAULT '',
    contact    TEXT NOT NULL DEFAULT '',
    created    BIGINT NOT NULL,
    updated    BIGINT NOT NULL,
    solved     BIGINT
);
CREATE INDEX tickets_state ON tickets (state, created DESC);
CREATE INDEX tickets_customer ON tickets (customer, created DESC);
CREATE TABLE ticket_convs (
    ticket BIGINT NOT NULL,
    conv   TEXT NOT NULL,
    PRIMARY KEY (ticket, conv)
);
CREATE INDEX ticket_convs_conv ON ticket_convs (conv);
CREATE TABLE ticket_notes (
    id     BIGSERIAL PRIMARY KEY,
    ticket BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    text   TEXT NOT NULL
);
CREATE INDEX ticket_notes_ticket ON ticket_notes (ticket, at);
CREATE TABLE ticket_events (
    id         BIGSERIAL PRIMARY KEY,
    ticket     BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    type       TEXT NOT NULL,
    from_state TEXT NOT NULL DEFAULT '',
    to_state   TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket, id);

-- +goose Down
DROP TABLE ticket_events;
DROP TABLE ticket_notes;
DROP TABLE ticket_convs;
DROP TABLE tickets;
