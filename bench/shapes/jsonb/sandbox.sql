\set ON_ERROR_STOP on
INSERT INTO products (sku, attributes) SELECT 'SKU-' || g, jsonb_build_object('draft', true) FROM generate_series(1, 500) g;
INSERT INTO workflows (key, name, definition) SELECT 'wf-' || g, 'Sandbox workflow ' || g, '{"draft": true}' FROM generate_series(1, 300) g;
INSERT INTO workflow_steps (workflow_id, position, kind, settings) SELECT 1 + g / 5, g % 5, 'http', '{}' FROM generate_series(0, 1499) g;
INSERT INTO accounts (profile) SELECT '{"test": true}' FROM generate_series(1, 50) g;
INSERT INTO workflow_runs (workflow_id, account_id, state) SELECT 1 + g % 300, 1 + g % 50, '{}' FROM generate_series(1, 200) g;
