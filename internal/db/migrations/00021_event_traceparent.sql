-- The W3C traceparent of an event's publication span ('' when tracing
-- was off), so that each attempt of its deliveries, made later and
-- perhaps by another instance, continues the publication's trace.

-- +goose Up
ALTER TABLE events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN traceparent;
