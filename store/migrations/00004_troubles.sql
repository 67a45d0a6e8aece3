-- +goose Up
-- A ticket whose job keeps failing for a reason other than Zendesk (an instance
-- that does not answer): the ticket hears about it once, within a minute, and
-- again once it is resolved. id keys the announcements of one episode.
CREATE TABLE ticket_troubles (
    ticket_id    bigint PRIMARY KEY,
    id           bigserial   NOT NULL UNIQUE,
    job          text        NOT NULL,
    since        timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 1,
    last_error   text        NOT NULL,
    announced_at timestamptz
);

-- +goose Down
DROP TABLE ticket_troubles;
