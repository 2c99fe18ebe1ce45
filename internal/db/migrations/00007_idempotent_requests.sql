-- The answers of API requests sent with an Idempotency-Key (other than
-- event publications, which keep their key beside the event): a repeat
-- with the same request gets the same answer; a different request with
-- the same key is refused.

-- +goose Up
CREATE TABLE idempotent_requests (
    organization_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          INTEGER NOT NULL, -- 0 while the first request runs
    response        TEXT NOT NULL,
    location        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotent_requests_created ON idempotent_requests (created_at);

-- +goose Down
DROP TABLE idempotent_requests;
