-- Fill production; psql -v scale=1 gives about 1 GB of cloned data.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
INSERT INTO template_groups (id, name) SELECT g, 'group ' || g FROM generate_series(1, 2000) g;
INSERT INTO locales VALUES ('en', 'English', NULL), ('fr', 'French', 'en'), ('es', 'Spanish', 'en'), ('de', 'German', 'en');
INSERT INTO settings SELECT 'setting.' || g, md5(g::text) FROM generate_series(1, 500) g;
INSERT INTO signatures (name, html) SELECT 'sig ' || g, repeat('<p>' || md5(g::text) || '</p>', 20) FROM generate_series(1, 300) g;
-- Bodies of 0.5 to 4 KB of hex words: pglz finds little to compress, and those over
-- about 2 KB go to TOAST.
INSERT INTO templates (group_id, locale, subject, body, updated_at)
SELECT 1 + g % 2000, (ARRAY['en', 'fr', 'es', 'de'])[1 + g % 4], 'subject ' || g,
       (SELECT string_agg(md5(random()::text || g || x), ' ') FROM generate_series(1, 15 + (g::bigint * 7919) % 110) x),
       timestamptz '2024-01-01' + g * interval '1 second'
FROM generate_series(1, (330000 * :scale)::int) g;
INSERT INTO documents (template_id, title, content, version)
SELECT 1 + (g * 13) % (330000 * :scale)::int, 'document ' || g,
       (SELECT string_agg(md5(random()::text || g || x), ' ') FROM generate_series(1, 20 + (g * 31) % 60) x), 1 + g % 5
FROM generate_series(1, (150000 * :scale)::int) g;
INSERT INTO customers (name, email, notes)
SELECT 'customer ' || g, 'c' || g || '@example.com', repeat(md5(g::text), 8) FROM generate_series(1, (200000 * :scale)::int) g;
INSERT INTO messages_sent (customer_id, template_id, rendered)
SELECT 1 + g % (200000 * :scale)::int, 1 + g % (330000 * :scale)::int, repeat(md5(g::text), 12)
FROM generate_series(1, (300000 * :scale)::int) g;
