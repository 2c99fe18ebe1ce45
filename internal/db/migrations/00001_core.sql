-- Core tables of the outbound engine. One text serves SQLite and PostgreSQL:
-- times are BIGINT unix microseconds (UTC), JSON is TEXT kept byte for byte.

-- +goose Up
CREATE TABLE organizations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    api_key_hash     TEXT NOT NULL UNIQUE,
    outbound_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       BIGINT NOT NULL
);

CREATE TABLE event_types (
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    schema          TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, name)
);

CREATE TABLE endpoints (
    id                          TEXT PRIMARY KEY,
    organization_id             TEXT NOT NULL REFERENCES organizations (id),
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL DEFAULT '',
    events                      TEXT NOT NULL,
    enabled                     BOOLEAN NOT NULL,
    disabled_reason             TEXT,
    secret                      TEXT NOT NULL,
    previous_secret             TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at  BIGINT,
    max_attempts                INTEGER NOT NULL,
    timeout_seconds             INTEGER NOT NULL,
    signature_scheme            TEXT NOT NULL,
    headers                     TEXT NOT NULL DEFAULT '{}',
    last_success_at             BIGINT,
    last_failure_at             BIGINT,
    consecutive_failures        INTEGER NOT NULL DEFAULT 0,
    failing_since               BIGINT,
    deleted_at                  BIGINT,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);
CREATE INDEX endpoints_org ON endpoints (organization_id, id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_org ON events (organization_id, id);

CREATE TABLE idempotency_keys (
    organization_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, key)
);

-- deliveries is also the work queue: pending rows whose next_attempt_at has
-- come and whose lease has run out are claimed by workers.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error       TEXT,
    next_attempt_at  BIGINT,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_until      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    delivery_id     TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    response_body   TEXT NOT NULL DEFAULT '',
    request_url     TEXT NOT NULL DEFAULT '',
    request_headers TEXT NOT NULL DEFAULT '{}',
    worker          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE endpoints;
DROP TABLE event_types;
DROP TABLE organizations;
