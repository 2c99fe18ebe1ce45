-- Several named API keys per organization, each revocable. Existing
-- organizations keep their key as one named "initial".

-- +goose Up
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_keys_org ON api_keys (organization_id, id);

INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at)
    SELECT 'key_' || id, id, 'initial', 'hk_', api_key_hash, created_at FROM organizations;

-- +goose Down
DROP TABLE api_keys;
