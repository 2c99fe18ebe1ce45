-- The booking domain: the source of most events and the target of inbound commands.

-- +goose Up
CREATE TABLE services (
    id                TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL REFERENCES organizations (id),
    name              TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    price             BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    capacity          INTEGER NOT NULL,
    location          TEXT NOT NULL DEFAULT '',
    requires_approval BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at        BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX services_org ON services (organization_id, id);

CREATE TABLE slots (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    service_id      TEXT NOT NULL REFERENCES services (id),
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    capacity        INTEGER NOT NULL,
    booked          INTEGER NOT NULL DEFAULT 0,
    deleted_at      BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX slots_org ON slots (organization_id, starts_at);

CREATE TABLE customers (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, email)
);

CREATE TABLE bookings (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    slot_id         TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    status          TEXT NOT NULL,
    participants    INTEGER NOT NULL,
    notes           TEXT NOT NULL DEFAULT '',
    total_amount    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX bookings_org ON bookings (organization_id, id);
CREATE INDEX bookings_start ON bookings (status, starts_at);
CREATE INDEX bookings_end ON bookings (status, ends_at);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    booking_id      TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    method          TEXT NOT NULL,
    status          TEXT NOT NULL,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    error_code      TEXT,
    error_message   TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX payments_booking ON payments (booking_id);

CREATE TABLE reviews (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    booking_id      TEXT NOT NULL UNIQUE,
    customer_id     TEXT NOT NULL,
    rating          INTEGER NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE community_events (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL,
    slug               TEXT NOT NULL,
    title              TEXT NOT NULL,
    starts_at          BIGINT NOT NULL,
    approvals_required INTEGER NOT NULL,
    approvals_count    INTEGER NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    activated_at       BIGINT,
    created_at         BIGINT NOT NULL,
    UNIQUE (organization_id, slug)
);

CREATE TABLE community_approvals (
    community_event_id TEXT NOT NULL,
    person_key         TEXT NOT NULL,
    full_name          TEXT NOT NULL,
    email              TEXT,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (community_event_id, person_key)
);

CREATE TABLE links (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    slug            TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, slug)
);

CREATE TABLE planner_blocks (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);
CREATE INDEX planner_blocks_org ON planner_blocks (organization_id, starts_at);

CREATE TABLE reminder_settings (
    organization_id  TEXT PRIMARY KEY,
    reminder_offsets TEXT NOT NULL,
    follow_up_offset TEXT NOT NULL
);

-- One row per reminder or follow-up sent: the primary key makes each fire
-- exactly once per booking, kind, offset and start time (a reschedule
-- plans anew), across restarts and instances.
CREATE TABLE reminders_sent (
    booking_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    offset_text TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (booking_id, kind, offset_text, starts_at)
);

-- +goose Down
DROP TABLE reminders_sent;
DROP TABLE reminder_settings;
DROP TABLE planner_blocks;
DROP TABLE links;
DROP TABLE community_approvals;
DROP TABLE community_events;
DROP TABLE reviews;
DROP TABLE payments;
DROP TABLE bookings;
DROP TABLE customers;
DROP TABLE slots;
DROP TABLE services;
