-- Every secret rotated out within its overlap keeps signing, not only the
-- last one: a JSON list of {"secret","expires_at"} (microseconds), newest
-- first. The single previous_secret columns are read until the next
-- rotation moves them into the list.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN previous_secrets TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN previous_secrets;
