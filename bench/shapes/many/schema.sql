-- Shape "many": 500 small configuration tables beside two huge narrow ones and a
-- table partitioned by month.
CREATE SCHEMA cfg;
CREATE SCHEMA cust;
DO $$
BEGIN
  FOR i IN 1..500 LOOP
    EXECUTE format('CREATE TABLE cfg.%I (id integer PRIMARY KEY, code text NOT NULL UNIQUE, name text NOT NULL,
      amount numeric(12,2), flags integer[] NOT NULL DEFAULT ''{}'', updated_at timestamptz NOT NULL DEFAULT now()%s)',
      'option_' || lpad(i::text, 3, '0'),
      CASE WHEN i > 1 AND i % 5 = 0 THEN format(', parent_id integer REFERENCES cfg.%I (id)', 'option_' || lpad((i - 1)::text, 3, '0')) ELSE '' END);
  END LOOP;
END $$;
CREATE TABLE sites (
    id integer PRIMARY KEY,
    name text NOT NULL UNIQUE,
    region text NOT NULL
);
CREATE TABLE devices (
    id bigint PRIMARY KEY,
    site_id integer NOT NULL REFERENCES sites (id),
    mac macaddr NOT NULL,
    ip inet NOT NULL,
    model text NOT NULL,
    installed_at timestamptz NOT NULL,
    status smallint NOT NULL
);
CREATE INDEX devices_site ON devices (site_id);
CREATE UNIQUE INDEX devices_mac ON devices (mac);
CREATE TABLE ports (
    device_id bigint NOT NULL REFERENCES devices (id),
    port smallint NOT NULL,
    vlan integer,
    speed_mbps integer NOT NULL,
    PRIMARY KEY (device_id, port)
);
CREATE TABLE coverage (
    id bigint NOT NULL,
    month date NOT NULL,
    site_id integer NOT NULL REFERENCES sites (id),
    addresses integer NOT NULL,
    polygon point[] NOT NULL,
    PRIMARY KEY (id, month)
) PARTITION BY RANGE (month);
DO $$
BEGIN
  FOR m IN 0..11 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF coverage FOR VALUES FROM (%L) TO (%L)',
      'coverage_' || to_char(date '2025-01-01' + m * interval '1 month', 'YYYY_MM'),
      date '2025-01-01' + m * interval '1 month', date '2025-01-01' + (m + 1) * interval '1 month');
  END LOOP;
END $$;
CREATE INDEX coverage_site ON coverage (site_id);
-- excluded
CREATE TABLE cust.subscribers (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    device_id bigint REFERENCES devices (id)
);
CREATE TABLE cust.usage (
    subscriber_id bigint NOT NULL REFERENCES cust.subscribers (id),
    day date NOT NULL,
    bytes bigint NOT NULL
);
