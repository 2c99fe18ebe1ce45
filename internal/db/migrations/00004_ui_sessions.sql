-- Sessions of the admin UI: the cookie holds a random token, the table its hash.

-- +goose Up
CREATE TABLE ui_sessions (
    token_hash      TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);

-- +goose Down
DROP TABLE ui_sessions;
