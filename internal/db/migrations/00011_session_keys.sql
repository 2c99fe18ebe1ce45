-- An admin UI session remembers the API key it was signed in with, so that
-- revoking the key ends the session. Admin sessions started before (no key
-- recorded) are ended: their users sign in again.

-- +goose Up
ALTER TABLE ui_sessions ADD COLUMN api_key_id TEXT NOT NULL DEFAULT '';
DELETE FROM ui_sessions WHERE NOT portal;
CREATE INDEX ui_sessions_key ON ui_sessions (api_key_id);

-- +goose Down
DROP INDEX ui_sessions_key;
ALTER TABLE ui_sessions DROP COLUMN api_key_id;
