-- Payload filters: an endpoint's filter (JSON text, see internal/filter)
-- decides which of the events it subscribes to create a delivery for it.
-- NULL means no filter: every event of its types.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN filter TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN filter;
