-- An endpoint's own security: auth (how hookbook authenticates to the
-- receiver: an OAuth2 client, basic auth or a bearer token) and tls (a
-- client certificate and key, CA certificates trusted for its receiver).
-- Both JSON with their credentials (never shown: answers show a view
-- without them); NULL when unset.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN auth TEXT;
ALTER TABLE endpoints ADD COLUMN tls TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN tls;
ALTER TABLE endpoints DROP COLUMN auth;
