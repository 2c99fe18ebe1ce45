-- Listeners: the endpoints of type 'listen' that `hookbook listen` keeps
-- over a WebSocket (GET /api/v1/listen). name is the listener's identity
-- (with its endpoint's patterns): the same name and patterns reconnect to
-- the same endpoint, its secret and queue. seen_at is when an instance
-- last knew the connection alive (refreshed while it lasts, and when it
-- ends); a listener unseen for the grace period loses its endpoint.

-- +goose Up
CREATE TABLE listeners (
    endpoint_id     TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    events          TEXT NOT NULL,
    seen_at         BIGINT NOT NULL
);
CREATE INDEX listeners_identity ON listeners (organization_id, name);
CREATE INDEX listeners_seen ON listeners (seen_at);

-- +goose Down
DROP TABLE listeners;
