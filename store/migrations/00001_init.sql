-- +goose Up
-- One row per ticket that asked for a clone: the request's current state.
CREATE TABLE clone_requests (
    ticket_id            bigint PRIMARY KEY,
    state                text        NOT NULL,
    production           text,
    sandbox              text,
    tenant               text,
    organization_id      bigint,
    requester_id         bigint,
    fingerprint          text,
    request              jsonb,
    problems             jsonb,
    plan                 jsonb,
    approved_fingerprint text,
    approved_by          bigint,
    approved_at          timestamptz,
    scheduled_for        timestamptz,
    attempts             integer     NOT NULL DEFAULT 0,
    last_error           text,
    report               jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clone_requests_state ON clone_requests (state);

-- Every state change, never updated or deleted.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint      NOT NULL,
    from_state text,
    to_state   text        NOT NULL,
    reason     text        NOT NULL,
    actor_id   bigint,
    detail     jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_ticket ON audit_log (ticket_id, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Ticket updates to post, written in the same transaction as the state change that
-- caused them and delivered in id order per ticket.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint      NOT NULL,
    key         text        NOT NULL,
    public      boolean     NOT NULL,
    body        text        NOT NULL,
    status_tag  text,
    attachments jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    posted_at   timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    UNIQUE (ticket_id, key)
);
CREATE INDEX outbox_pending ON outbox (ticket_id, id) WHERE posted_at IS NULL;

-- Webhook deliveries accepted, for de-duplication of retried and repeated deliveries.
CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint      NOT NULL,
    invocation_id text,
    event_id      text,
    kind          text        NOT NULL,
    actor_id      bigint,
    event_time    timestamptz,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX webhook_deliveries_invocation ON webhook_deliveries (invocation_id) WHERE invocation_id IS NOT NULL;
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- At most one pending ticket sync per ticket: a burst of events collapses into it.
CREATE TABLE ticket_sync_pending (
    ticket_id  bigint PRIMARY KEY,
    queued_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE ticket_sync_pending;
DROP TABLE webhook_deliveries;
DROP TABLE outbox;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE clone_requests;
