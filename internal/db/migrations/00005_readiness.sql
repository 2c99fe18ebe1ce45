-- One row that the readiness probe writes, so that /readyz reports a
-- database that answers but cannot store anything (disk full, read-only).

-- +goose Up
CREATE TABLE readiness (
    id         INTEGER PRIMARY KEY,
    checked_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE readiness;
