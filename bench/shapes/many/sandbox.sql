\set ON_ERROR_STOP on
INSERT INTO cfg.option_001 (id, code, name) SELECT g, 'draft-' || g, 'draft' FROM generate_series(1, 20) g;
INSERT INTO sites SELECT g, 'test site ' || g, 'lab' FROM generate_series(1, 10) g;
INSERT INTO devices SELECT g, 1 + g % 10, ('02:00:00:00:00:' || lpad(to_hex(g), 2, '0'))::macaddr, '192.168.0.0'::inet + g, 'lab', now(), 0 FROM generate_series(1, 200) g;
INSERT INTO coverage SELECT g, date '2025-03-01', 1, 1, '{}' FROM generate_series(1, 100) g;
INSERT INTO cust.subscribers SELECT g, 'test ' || g, g FROM generate_series(1, 20) g;
