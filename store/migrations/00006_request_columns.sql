-- +goose Up
-- The state column takes the life cycle's states only (lifecycle/rules.States): a
-- new state comes with a migration that widens this CHECK.
ALTER TABLE clone_requests ADD CONSTRAINT clone_requests_state_check CHECK (state IN (
    'received', 'needs_info', 'awaiting_approval', 'approved', 'scheduled', 'running', 'ready',
    'on_hold', 'rejected', 'cancelled', 'failed'));

-- Never written by any release.
ALTER TABLE clone_requests DROP COLUMN organization_id, DROP COLUMN requester_id,
    DROP COLUMN plan, DROP COLUMN approved_at;
-- Not written since 00003, and not read by the release before this one either.
ALTER TABLE clone_requests DROP COLUMN fingerprint_since, DROP COLUMN refused_approvals;

-- No longer written: last_audit_id orders readings, approvals_after bars a retry
-- on a failed clone's approval. The previous release still writes and reads them,
-- so they go in a later release and replicas of this one and the previous one can
-- share the database during a rolling upgrade.
COMMENT ON COLUMN clone_requests.ticket_updated_at IS 'unused since 00006';
COMMENT ON COLUMN clone_requests.failed_at IS 'unused since 00006';

-- audit_log.reason holds a short code from now on (lifecycle/rules.Reason; its
-- wording is in the code). Rows written before, and by the previous release during
-- a rolling upgrade, keep their sentence: the log is append-only.
COMMENT ON COLUMN audit_log.reason IS 'a reason code (lifecycle/rules.Reason); a sentence in rows written before 00006';

-- +goose Down
COMMENT ON COLUMN audit_log.reason IS NULL;
COMMENT ON COLUMN clone_requests.failed_at IS NULL;
COMMENT ON COLUMN clone_requests.ticket_updated_at IS NULL;
ALTER TABLE clone_requests ADD COLUMN refused_approvals timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN fingerprint_since timestamptz;
COMMENT ON COLUMN clone_requests.fingerprint_since IS 'unused since 00003';
COMMENT ON COLUMN clone_requests.refused_approvals IS 'unused since 00003';
ALTER TABLE clone_requests ADD COLUMN organization_id bigint, ADD COLUMN requester_id bigint,
    ADD COLUMN plan jsonb, ADD COLUMN approved_at timestamptz;
ALTER TABLE clone_requests DROP CONSTRAINT clone_requests_state_check;
