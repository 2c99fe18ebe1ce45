-- The delivery log keeps each attempt's response headers (at most 4 KiB);
-- UI sessions carry a one-time flash message set by the server, and a
-- portal session's limits (the event types it may choose, read-only).

-- +goose Up
ALTER TABLE attempts ADD COLUMN response_headers TEXT NOT NULL DEFAULT '{}';
ALTER TABLE ui_sessions ADD COLUMN flash TEXT NOT NULL DEFAULT '';
ALTER TABLE ui_sessions ADD COLUMN portal BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ui_sessions ADD COLUMN portal_events TEXT NOT NULL DEFAULT '';
ALTER TABLE ui_sessions ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE attempts DROP COLUMN response_headers;
ALTER TABLE ui_sessions DROP COLUMN flash;
ALTER TABLE ui_sessions DROP COLUMN portal;
ALTER TABLE ui_sessions DROP COLUMN portal_events;
ALTER TABLE ui_sessions DROP COLUMN read_only;
