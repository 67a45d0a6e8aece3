-- +goose Up
-- Every clone the bot ran to the end, with how far its sandbox had drifted then:
-- the agents' note of a later request for the same sandbox shows the last one, and
-- flags a request made soon after it (policy.min_days_between_clones). Append-only.
CREATE TABLE clones (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint      NOT NULL,
    clone_id    text        NOT NULL UNIQUE,  -- cloner.Report.ID, which names its rollback copy
    production  text        NOT NULL,
    sandbox     text        NOT NULL,
    tenant      text        NOT NULL,
    finished_at timestamptz NOT NULL,
    drift       jsonb       NOT NULL,         -- per cloned table: cloner.Drift
    drift_rows  bigint      NOT NULL,         -- added, deleted and overwritten, all tables
    exported_rows bigint    NOT NULL          -- sandbox rows saved before the wipe
);
CREATE INDEX clones_sandbox ON clones (sandbox, finished_at DESC);

-- +goose Down
DROP TABLE clones;
