-- Throttling: an endpoint may have a rate limit ("10/s", kept as written
-- in its normal form) and a bound on its attempts in flight, enforced by
-- the claim across every instance. throttle_tat is the rate's theoretical
-- arrival time (GCRA, microseconds), throttle_next when the rate allows
-- the next attempt: the claim advances both. Deliveries of
-- a throttled endpoint carry throttled = TRUE: they are never handed over
-- at publication and the claim takes them endpoint by endpoint, within
-- its allowance; deliveries_due_open lets the claim of everything else
-- pass a throttled backlog by without reading it.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN rate_limit TEXT;
ALTER TABLE endpoints ADD COLUMN max_in_flight INTEGER;
ALTER TABLE endpoints ADD COLUMN throttle_tat BIGINT NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN throttle_next BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN throttled BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX deliveries_due_open ON deliveries (next_attempt_at) WHERE status = 'pending' AND NOT throttled;
CREATE INDEX deliveries_throttled ON deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending' AND throttled;
CREATE INDEX endpoints_throttled ON endpoints (throttle_next) WHERE rate_limit IS NOT NULL OR max_in_flight IS NOT NULL;

-- +goose Down
DROP INDEX endpoints_throttled;
DROP INDEX deliveries_throttled;
DROP INDEX deliveries_due_open;
ALTER TABLE deliveries DROP COLUMN throttled;
ALTER TABLE endpoints DROP COLUMN throttle_next;
ALTER TABLE endpoints DROP COLUMN throttle_tat;
ALTER TABLE endpoints DROP COLUMN max_in_flight;
ALTER TABLE endpoints DROP COLUMN rate_limit;
