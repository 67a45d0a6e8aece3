-- +goose Up
-- A ready clone can be rolled back from its ticket: rolling_back while the
-- rollback job restores the sandbox, rolled_back once it is done (final).
ALTER TABLE clone_requests DROP CONSTRAINT clone_requests_state_check;
ALTER TABLE clone_requests ADD CONSTRAINT clone_requests_state_check CHECK (state IN (
    'received', 'needs_info', 'awaiting_approval', 'approved', 'scheduled', 'running', 'ready',
    'rolling_back', 'rolled_back', 'on_hold', 'rejected', 'cancelled', 'failed'));

-- clone_id names the clone a ready request ran, and so the rollback copy that clone
-- kept in its sandbox: a rollback restores that copy only, never a newer clone's.
-- rollback_until is when that copy expires. rollback_audit_id is the audit of the
-- last rollback tag answered (each addition is answered once). rollback_report is
-- the evidence of the rollback.
ALTER TABLE clone_requests ADD COLUMN clone_id text, ADD COLUMN rollback_until timestamptz,
    ADD COLUMN rollback_audit_id bigint NOT NULL DEFAULT 0, ADD COLUMN rollback_report jsonb;

-- Clones ready before this release: their report names the clone and its copy.
UPDATE clone_requests SET clone_id = nullif(report->>'id', ''),
    rollback_until = (report->'rollback'->>'expires_at')::timestamptz
    WHERE state = 'ready' AND report IS NOT NULL;

-- +goose Down
-- The previous release knows no rollback: to it a rolled back request, like a
-- ready one, is done.
UPDATE clone_requests SET state = 'ready' WHERE state IN ('rolling_back', 'rolled_back');
ALTER TABLE clone_requests DROP COLUMN rollback_report, DROP COLUMN rollback_audit_id,
    DROP COLUMN rollback_until, DROP COLUMN clone_id;
ALTER TABLE clone_requests DROP CONSTRAINT clone_requests_state_check;
ALTER TABLE clone_requests ADD CONSTRAINT clone_requests_state_check CHECK (state IN (
    'received', 'needs_info', 'awaiting_approval', 'approved', 'scheduled', 'running', 'ready',
    'on_hold', 'rejected', 'cancelled', 'failed'));
