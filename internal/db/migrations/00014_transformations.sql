-- An endpoint's transformation: JSON {"code", "enabled", "connector"} or
-- NULL when it has none (package transform runs it at attempt time).

-- +goose Up
ALTER TABLE endpoints ADD COLUMN transformation TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN transformation;
