-- Fill production; psql -v scale=1 gives about 1 GB of cloned data.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
INSERT INTO products (sku, attributes)
SELECT 'SKU-' || g, jsonb_build_object('name', 'product ' || g, 'speed', jsonb_build_object('down', g % 1000, 'up', g % 100),
       'tags', to_jsonb(ARRAY['fiber', 'residential', md5(g::text)]), 'price', (g % 9000) / 100.0,
       'options', (SELECT jsonb_agg(jsonb_build_object('code', 'opt' || o, 'label', md5((g * o)::text))) FROM generate_series(1, 1 + g % 8) o))
FROM generate_series(1, (280000 * :scale)::int) g;
INSERT INTO workflows (key, name, enabled, definition)
SELECT 'wf-' || g, 'Workflow ' || g, g % 7 <> 0,
       jsonb_build_object('version', 1 + g % 9, 'trigger', jsonb_build_object('event', 'evt' || g % 40),
         'graph', (SELECT jsonb_agg(jsonb_build_object('node', n, 'next', ARRAY[n + 1, n + 2], 'label', md5((g + n)::text), 'expr', 'x > ' || n)) FROM generate_series(1, 10 + g % 30) n))
FROM generate_series(1, (84000 * :scale)::int) g;
INSERT INTO workflow_steps (workflow_id, position, kind, settings)
SELECT 1 + g / 40, g % 40, (ARRAY['http', 'email', 'wait', 'branch'])[1 + g % 4],
       jsonb_build_object('timeout', g % 300, 'retry', jsonb_build_object('max', g % 5, 'backoff', 'exp'), 'target', md5(g::text), 'headers', jsonb_build_object('x-a', g, 'x-b', md5((g * 3)::text)))
FROM generate_series(0, (84000 * 40 * :scale)::int - 1) g;
INSERT INTO rules (product_id, conditions, actions)
SELECT 1 + g % (280000 * :scale)::int, jsonb_build_object('all', jsonb_build_array(jsonb_build_object('field', 'region', 'eq', g % 50), jsonb_build_object('field', 'plan', 'in', ARRAY[g % 7, g % 11]))),
       jsonb_build_object('discount', g % 30, 'note', md5(g::text))
FROM generate_series(1, (420000 * :scale)::int) g;
INSERT INTO feature_flags SELECT 'flag' || g, jsonb_build_object('percent', g % 100) FROM generate_series(1, 200) g;
INSERT INTO accounts (profile) SELECT jsonb_build_object('name', 'acct ' || g, 'email', 'a' || g || '@example.com', 'address', md5(g::text)) FROM generate_series(1, (420000 * :scale)::int) g;
INSERT INTO workflow_runs (workflow_id, account_id, state)
SELECT 1 + g % (84000 * :scale)::int, 1 + g % (300000 * :scale)::int, jsonb_build_object('step', g % 40, 'ok', g % 2 = 0) FROM generate_series(1, (500000 * :scale)::int) g;
