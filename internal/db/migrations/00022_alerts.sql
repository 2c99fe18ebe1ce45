-- Operational events, alerts to the people who own an endpoint, skipped
-- deliveries and per-organization retention.
--
-- endpoints.alert_emails: the addresses (a JSON list) mailed when the
-- endpoint starts failing, is about to be disabled, is disabled, recovers.
-- organizations.retention_us: the organization's own retention in
-- microseconds (NULL: the operator's HOOKBOOK_RETENTION), never longer.
-- endpoint_notices: when hookbook last told about an endpoint, per kind
-- ("event:failing", "mail:failing", …, and "open:failing" while a
-- reported failure has not recovered): the bound of one delivery.failing
-- per endpoint per hour and of one mail per endpoint and kind per day,
-- shared by every instance and kept across restarts.
-- alert_mails: the outbox of alert mails, sent by a periodic job so that
-- delivery workers never wait on a mail server; a mail that cannot be sent
-- after a few tries is given up.
-- Deliveries may now be 'skipped' (published while their endpoint was
-- disabled; never attempted, never claimed: every queue index and claim
-- reads status = 'pending' only).

-- +goose Up
ALTER TABLE endpoints ADD COLUMN alert_emails TEXT NOT NULL DEFAULT '[]';
ALTER TABLE organizations ADD COLUMN retention_us BIGINT;

CREATE TABLE endpoint_notices (
    endpoint_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, kind)
);

CREATE TABLE alert_mails (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX alert_mails_due ON alert_mails (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE alert_mails;
DROP TABLE endpoint_notices;
ALTER TABLE organizations DROP COLUMN retention_us;
ALTER TABLE endpoints DROP COLUMN alert_emails;
