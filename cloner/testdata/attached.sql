-- A schema with everything a swap must carry over: the staged tables replace the live
-- ones, and a schema-only dump of the sandbox must read the same afterwards.
CREATE SCHEMA app;
DO $$ BEGIN CREATE ROLE clonebot_test_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION app.forbid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'read only'; END $$;

CREATE TABLE app.regions (
    id serial PRIMARY KEY,
    code text NOT NULL CONSTRAINT regions_code_key UNIQUE,
    name text NOT NULL CHECK (name <> ''),
    parent_id integer REFERENCES app.regions (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED
) WITH (fillfactor = 80, autovacuum_enabled = false);
COMMENT ON TABLE app.regions IS 'regions, it''s a comment';
COMMENT ON COLUMN app.regions.code IS 'short code';
COMMENT ON CONSTRAINT regions_code_key ON app.regions IS 'codes are unique';
ALTER TABLE app.regions ALTER COLUMN name SET STATISTICS 500;
ALTER TABLE app.regions ALTER COLUMN code SET (n_distinct = -1);
CLUSTER app.regions USING regions_pkey;

CREATE TABLE app.plans (
    id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5) PRIMARY KEY,
    region_id integer NOT NULL REFERENCES app.regions (id),
    name text NOT NULL,
    price numeric(10, 2) NOT NULL DEFAULT 0,
    price_cents bigint GENERATED ALWAYS AS ((price * 100)::bigint) STORED,
    tags text[] NOT NULL DEFAULT '{}',
    attributes jsonb,
    updated_at timestamptz,
    EXCLUDE USING btree (name WITH =) WHERE (price > 1000)
);
CREATE INDEX plans_lower_name ON app.plans (lower(name)) INCLUDE (price) WHERE price > 0;
CREATE INDEX plans_attributes ON app.plans USING gin (attributes);
COMMENT ON INDEX app.plans_lower_name IS 'search';
CREATE TRIGGER plans_touch BEFORE UPDATE ON app.plans FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION app.touch();
CREATE TRIGGER plans_forbid BEFORE TRUNCATE ON app.plans FOR EACH STATEMENT EXECUTE FUNCTION app.forbid();
ALTER TABLE app.plans DISABLE TRIGGER plans_forbid;
COMMENT ON TRIGGER plans_touch ON app.plans IS 'keeps updated_at';
CREATE STATISTICS app.plans_region_price ON region_id, price FROM app.plans;
ALTER TABLE app.plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY plans_visible ON app.plans FOR SELECT TO clonebot_test_reader USING (price >= 0 AND region_id IN (SELECT id FROM app.regions));
GRANT SELECT, INSERT ON app.plans TO clonebot_test_reader;
GRANT UPDATE (name) ON app.plans TO clonebot_test_reader WITH GRANT OPTION;
ALTER TABLE app.plans REPLICA IDENTITY FULL;

CREATE TABLE app.events (
    id bigint NOT NULL,
    at date NOT NULL,
    region_id integer REFERENCES app.regions (id),
    note text,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') WITH (fillfactor = 90);
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_region ON app.events (region_id);
CREATE INDEX events_2026_note ON app.events_2026 (note);
CREATE TRIGGER events_touch BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.events DISABLE TRIGGER events_touch;

CREATE TABLE app.customers (
    id bigserial PRIMARY KEY,
    plan_id bigint REFERENCES app.plans (id),
    email text NOT NULL
);
CREATE UNLOGGED TABLE app.sessions (id uuid PRIMARY KEY, customer_id bigint REFERENCES app.customers (id));

CREATE VIEW app.plan_names WITH (security_barrier) AS SELECT p.id, p.name, r.code FROM app.plans p JOIN app.regions r ON r.id = p.region_id;
CREATE VIEW app.cheap_plans AS SELECT id, name FROM app.plan_names WHERE id IN (SELECT id FROM app.plans WHERE price < 10) WITH LOCAL CHECK OPTION;
GRANT SELECT ON app.plan_names TO clonebot_test_reader;
CREATE MATERIALIZED VIEW app.plans_per_region AS SELECT region_id, count(*) AS plans FROM app.plans GROUP BY region_id;
CREATE UNIQUE INDEX plans_per_region_key ON app.plans_per_region (region_id);
COMMENT ON MATERIALIZED VIEW app.plans_per_region IS 'refreshed nightly';
GRANT SELECT ON app.plans_per_region TO clonebot_test_reader;
CREATE MATERIALIZED VIEW app.plan_name_count AS SELECT count(*) AS n FROM app.plan_names;
