-- +goose Up
-- When the request's current fingerprint was first seen: an approval counts only if
-- it was given at or after this instant, so editing a request needs a new approval.
ALTER TABLE clone_requests ADD COLUMN fingerprint_since timestamptz;
-- The newest ticket snapshot applied; older snapshots (late syncs) are ignored.
ALTER TABLE clone_requests ADD COLUMN ticket_updated_at timestamptz;
-- When the request last failed: a retry needs an approval given after it.
ALTER TABLE clone_requests ADD COLUMN failed_at timestamptz;
-- An end user's approval attempts already answered, by the time they added the tag.
ALTER TABLE clone_requests ADD COLUMN refused_approvals timestamptz[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE clone_requests DROP COLUMN refused_approvals;
ALTER TABLE clone_requests DROP COLUMN failed_at;
ALTER TABLE clone_requests DROP COLUMN ticket_updated_at;
ALTER TABLE clone_requests DROP COLUMN fingerprint_since;
