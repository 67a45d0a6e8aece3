-- +goose Up
-- A clone or rollback runner that stops to wait (another clone holds the sandbox, a
-- transient fault) leaves its request running or rolling back, and its job to run
-- again later. It notes until when, before it lets the request go: the due rescue,
-- which restarts requests whose runner died, then leaves the request to its job,
-- also in the moment before the queue records the job as waiting.
ALTER TABLE clone_requests ADD COLUMN waits_until timestamptz;

-- +goose Down
ALTER TABLE clone_requests DROP COLUMN waits_until;
