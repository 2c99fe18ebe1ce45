-- Community approvals are counted per person: the same email (case aside),
-- or the same name when either approval has no email. name_key is the
-- approval's name as compared (lower case, single spaces). Existing
-- approvals with an email get their name lower-cased and trimmed.

-- +goose Up
ALTER TABLE community_approvals ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE community_approvals SET name_key = CASE WHEN person_key LIKE 'name:%' THEN substr(person_key, 6) ELSE lower(trim(full_name)) END;
CREATE INDEX community_approvals_name ON community_approvals (community_event_id, name_key);

-- +goose Down
DROP INDEX community_approvals_name;
ALTER TABLE community_approvals DROP COLUMN name_key;
