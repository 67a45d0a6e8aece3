-- +goose Up
-- Approvals are ordered by audit id, never by time (Zendesk stamps audits to the
-- second): the request remembers which audits it applied and acted on.
ALTER TABLE clone_requests ADD COLUMN last_audit_id bigint NOT NULL DEFAULT 0;
ALTER TABLE clone_requests ADD COLUMN approval_audit_id bigint NOT NULL DEFAULT 0;
ALTER TABLE clone_requests ADD COLUMN approvals_after bigint NOT NULL DEFAULT 0;
ALTER TABLE clone_requests ADD COLUMN refused_audits bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE clone_requests ADD COLUMN acknowledged boolean NOT NULL DEFAULT false;
-- Requests past the first announcement were acknowledged under the old rules.
UPDATE clone_requests SET acknowledged = true WHERE state NOT IN ('received', 'needs_info', 'cancelled');
-- The time-ordered columns are no longer written; they go in a later release, so
-- that replicas of the previous one keep running during a rolling upgrade.
COMMENT ON COLUMN clone_requests.fingerprint_since IS 'unused since 00003';
COMMENT ON COLUMN clone_requests.refused_approvals IS 'unused since 00003';

-- The role of the author of each decision-tag audit, as judged when the bot first
-- saw it: promoting a user later does not turn an earlier tag into a decision.
CREATE TABLE tag_authors (
    ticket_id  bigint      NOT NULL,
    audit_id   bigint      NOT NULL,
    author_id  bigint      NOT NULL,
    role       text        NOT NULL,
    judged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, audit_id)
);

-- +goose Down
DROP TABLE tag_authors;
ALTER TABLE clone_requests DROP COLUMN acknowledged;
ALTER TABLE clone_requests DROP COLUMN refused_audits;
ALTER TABLE clone_requests DROP COLUMN approvals_after;
ALTER TABLE clone_requests DROP COLUMN approval_audit_id;
ALTER TABLE clone_requests DROP COLUMN last_audit_id;
