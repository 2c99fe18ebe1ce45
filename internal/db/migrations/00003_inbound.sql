-- Inbound signed commands: settings, the replay guard and the command log.

-- +goose Up
CREATE TABLE inbound_settings (
    organization_id TEXT PRIMARY KEY,
    enabled         BOOLEAN NOT NULL,
    secret          TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Request ids seen within the timestamp tolerance; older ones are pruned,
-- since a request that old is refused for its timestamp anyway.
CREATE TABLE inbound_requests (
    organization_id TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (organization_id, request_id)
);
CREATE INDEX inbound_requests_received ON inbound_requests (received_at);

CREATE TABLE inbound_commands (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    action          TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    status          INTEGER NOT NULL,
    error_code      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX inbound_commands_org ON inbound_commands (organization_id, id);

-- +goose Down
DROP TABLE inbound_commands;
DROP TABLE inbound_requests;
DROP TABLE inbound_settings;
