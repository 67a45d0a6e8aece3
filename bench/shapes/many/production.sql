-- Fill production; psql -v scale=1 gives about 1 GB of cloned data.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
DO $$
BEGIN
  FOR i IN 1..500 LOOP
    EXECUTE format('INSERT INTO cfg.%I (id, code, name, amount, flags%s)
      SELECT g, %L || g, md5(g::text), g * 1.25, ARRAY[g %% 7, g %% 11]%s FROM generate_series(1, 200) g',
      'option_' || lpad(i::text, 3, '0'), CASE WHEN i > 1 AND i % 5 = 0 THEN ', parent_id' ELSE '' END,
      'code-' || i || '-', CASE WHEN i > 1 AND i % 5 = 0 THEN ', 1 + g % 200' ELSE '' END);
  END LOOP;
END $$;
INSERT INTO sites SELECT g, 'site ' || g, 'region ' || g % 40 FROM generate_series(1, 5000) g;
INSERT INTO devices
SELECT g, 1 + g % 5000, ('02:00:' || lpad(to_hex((g >> 24) & 255), 2, '0') || ':' || lpad(to_hex((g >> 16) & 255), 2, '0') || ':' || lpad(to_hex((g >> 8) & 255), 2, '0') || ':' || lpad(to_hex(g & 255), 2, '0'))::macaddr,
       ('10.0.0.0'::inet + g), 'model-' || g % 50, timestamptz '2020-01-01' + g * interval '37 seconds', (g % 4)::smallint
FROM generate_series(1, (6000000 * :scale)::int) g;
INSERT INTO ports
SELECT 1 + g / 4, (g % 4)::smallint, CASE WHEN g % 3 = 0 THEN NULL ELSE g % 4000 END, 1000
FROM generate_series(0, (6000000 * 4 * :scale)::int - 1) g;
INSERT INTO coverage
SELECT g, date '2025-01-01' + (g % 12) * interval '1 month', 1 + g % 5000, g % 900,
       ARRAY[point(g % 90, g % 180), point(g % 89, g % 179), point(g % 88, g % 178)]
FROM generate_series(1, (3000000 * :scale)::int) g;
INSERT INTO cust.subscribers SELECT g, 'subscriber ' || g, 1 + g % (6000000 * :scale)::int FROM generate_series(1, (500000 * :scale)::int) g;
INSERT INTO cust.usage SELECT 1 + g % (500000 * :scale)::int, date '2025-01-01' + g % 300, g::bigint * 1000 FROM generate_series(1, (2000000 * :scale)::int) g;
