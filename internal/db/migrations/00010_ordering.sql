-- Ordered delivery: every event may have an ordering key (a booking's id,
-- a customer's, …) and a sequence that grows with each event of that key
-- in its organization. An ordered endpoint gets a key's deliveries one at
-- a time: the later ones wait "parked" (pending with no next_attempt_at)
-- until the one before them succeeds or fails for good.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN ordered BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
CREATE INDEX deliveries_ordering ON deliveries (endpoint_id, ordering_key, sequence) WHERE status = 'pending' AND ordering_key <> '';
CREATE TABLE ordering_sequences (
    organization_id TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    last_sequence   BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, ordering_key)
);
CREATE INDEX ordering_sequences_updated ON ordering_sequences (updated_at);

-- +goose Down
DROP TABLE ordering_sequences;
DROP INDEX deliveries_ordering;
ALTER TABLE deliveries DROP COLUMN sequence;
ALTER TABLE deliveries DROP COLUMN ordering_key;
ALTER TABLE endpoints DROP COLUMN ordered;
