-- +goose Up
-- Where the reconciliation sweep stands in Zendesk's incremental ticket export:
-- one row, the cursor after the last page read.
CREATE TABLE sweep_cursor (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cursor     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE sweep_cursor;
