-- How an endpoint signs: 'hmac-sha256' (every endpoint before this
-- migration: secret is an HMAC secret) or 'ed25519' (secret and the
-- previous secrets are whsk_ signing keys; the public key is derived from
-- them, not stored).

-- +goose Up
ALTER TABLE endpoints ADD COLUMN signature_algorithm TEXT NOT NULL DEFAULT 'hmac-sha256';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN signature_algorithm;
