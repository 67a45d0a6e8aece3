-- Rows for the attached schema; :'side' is production or sandbox, so the two differ.
INSERT INTO app.regions (code, name) SELECT :'side' || '-' || g, 'Region ' || g FROM generate_series(1, 12) g;
UPDATE app.regions SET parent_id = id - 1 WHERE id > 1;
INSERT INTO app.plans (region_id, name, price, tags, attributes)
SELECT 1 + g % 12, :'side' || ' plan ' || g, (g * 7) % 1500, ARRAY['t' || g], jsonb_build_object('g', g)
FROM generate_series(1, 300) g;
INSERT INTO app.events (id, at, region_id, note)
SELECT g, date '2025-03-01' + (g * 3) % 900, 1 + g % 12, :'side' || ' event ' || g FROM generate_series(1, 500) g;
INSERT INTO app.tiers (label, internal_note) SELECT :'side' || ' tier ' || g, 'note ' || g FROM generate_series(1, 5) g;
INSERT INTO app.tier_limits (tier_id, max_plans) SELECT 1 + g % 5, g FROM generate_series(1, 8) g;
INSERT INTO app.customers (plan_id, email) SELECT (SELECT id FROM app.plans ORDER BY id OFFSET g % 100 LIMIT 1), :'side' || g || '@example.com' FROM generate_series(1, 40) g;
INSERT INTO app.sessions SELECT gen_random_uuid(), (SELECT min(id) FROM app.customers) + g % 40 FROM generate_series(1, 20) g;
REFRESH MATERIALIZED VIEW app.plans_per_region;
REFRESH MATERIALIZED VIEW app.plan_name_count;
REFRESH MATERIALIZED VIEW app.plan_prices;
