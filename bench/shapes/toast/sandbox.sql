-- The sandbox's own data: a little of production's shape, drifted.
\set ON_ERROR_STOP on
INSERT INTO template_groups (id, name) SELECT g, 'group ' || g FROM generate_series(1, 50) g;
INSERT INTO locales VALUES ('en', 'English', NULL), ('it', 'Italian', 'en');
INSERT INTO templates (group_id, locale, subject, body) SELECT 1 + g % 50, 'en', 'draft ' || g, repeat(md5(g::text), 40) FROM generate_series(1, 2000) g;
INSERT INTO documents (template_id, title, content) SELECT 1 + g % 2000, 'draft ' || g, repeat(md5(g::text), 30) FROM generate_series(1, 1000) g;
INSERT INTO customers (name, email) SELECT 'test ' || g, 't' || g || '@example.com' FROM generate_series(1, 100) g;
INSERT INTO messages_sent (customer_id, template_id, rendered) SELECT 1 + g % 100, 1 + g % 2000, 'x' FROM generate_series(1, 500) g;
