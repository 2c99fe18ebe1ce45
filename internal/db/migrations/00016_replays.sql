-- Bulk replays of an endpoint's deliveries: one row per replay, carried on
-- batch by batch by whichever instance runs the replay job. after_id is
-- the last delivery id a batch went through (the stored cursor), so that a
-- restart resumes where the replay stood. At most one replay of an
-- endpoint runs at a time (replays_running).

-- +goose Up
CREATE TABLE replays (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    since_at        BIGINT NOT NULL,
    until_at        BIGINT NOT NULL,
    filter_status   TEXT NOT NULL,
    event           TEXT NOT NULL,
    total           INTEGER NOT NULL,
    capped          BOOLEAN NOT NULL DEFAULT FALSE,
    queued          INTEGER NOT NULL DEFAULT 0,
    after_id        TEXT NOT NULL DEFAULT '',
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE UNIQUE INDEX replays_running ON replays (endpoint_id) WHERE status = 'running';
CREATE INDEX replays_org ON replays (organization_id, id);

-- +goose Down
DROP TABLE replays;
