-- Endpoints of several kinds: a webhook (an HTTPS URL, every endpoint
-- before this migration) or a message broker. config is the kind's
-- settings as JSON, credentials included (never shown: answers show it
-- redacted); NULL for webhooks.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN type TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE endpoints ADD COLUMN config TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN config;
ALTER TABLE endpoints DROP COLUMN type;
