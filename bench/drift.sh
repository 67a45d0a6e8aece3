#!/usr/bin/env bash
# Benchmark: the drift of every cloned table against reading both sides once, on a
# production of CONFIG_MB of configuration and a sandbox drifted from it.
#
#   [RUNS=3] [SHAPE=platform|keys] bench/drift.sh [CONFIG_MB]      (default 1024)
#
# SHAPE=platform (the default) is the platform schema of package fixtures, keyed by
# integers; its sandbox is cloned from production, then drifted. SHAPE=keys is a
# schema of about the same size keyed by text, random uuids and a composite of two
# texts and an integer, with a table without a primary key: keys the servers must
# sort, or read through an index in random heap order; its sandbox is a copy of
# production, then drifted.
#
# Needs a local PostgreSQL (CLONEBOT_BENCH_URL, default postgres://postgres@127.0.0.1:5432)
# with psql and /usr/bin/time. Prints, from BenchmarkDrift (cloner/drift_bench_test.go):
# the time to read both sides once (every compared column of every cloned table, both
# servers at once, by COPY, thrown away), the drift's time, their ratio, the peak Go
# heap during the drift, and the benchmark process's peak RSS. Runs alternate which
# goes first. Then, from BenchmarkExport, the sandbox export (the drift, and every
# row to save read back and zipped) beside the drift alone, with its memory, and the
# check a swap's switch makes, holding the tables, that nothing changed since.
# REUSE=1 keeps the databases of the last run.
# Databases: driftbench_<shape>_prod, driftbench_<shape>_sbx.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG_MB=${1:-1024}
RUNS=${RUNS:-3}
SHAPE=${SHAPE:-platform}
case "$SHAPE" in platform | keys) ;; *) echo "SHAPE must be platform or keys" >&2; exit 2 ;; esac
BASE=${CLONEBOT_BENCH_URL:-postgres://postgres@127.0.0.1:5432}
PROD="$BASE/driftbench_${SHAPE}_prod?sslmode=disable"
SBX="$BASE/driftbench_${SHAPE}_sbx?sslmode=disable"
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT

go build -o "$BIN/clonebot-fixtures" ./cmd/clonebot-fixtures
go build -o "$BIN/clonebot" ./cmd/clonebot
go test -c -o "$BIN/cloner.test" ./cloner
# The benchmark knows the instances as acme-prod and acme-sandbox of tenant acme.
cat > "$BIN/clonebot.yaml" <<EOF
database_url: "postgres://127.0.0.1/unused"
zendesk:
  url: "http://127.0.0.1:1"
  email: "bench@example.com"
  api_token: "unused"
  webhook_secrets: ["unused"]
  bot_user_id: 1
  fields: {production_instance: 1, sandbox_instance: 2, wipe_confirmation: 3, users: 4}
tenants:
  - name: acme
    instances:
      - {name: acme-prod, environment: production, database_url: "$PROD"}
      - {name: acme-sandbox, environment: sandbox, database_url: "$SBX"}
EOF

# platform: a production of the fixtures' schema, a sandbox cloned from it, then
# drifted: in every cloned table with an id, about 0.5% of the rows deleted, 0.5%
# edited in their first free text column, 0.3% added (where no other unique key
# forbids it).
platform() {
  echo "== production: ${CONFIG_MB} MB of configuration"
  "$BIN/clonebot-fixtures" create --url "$PROD" --recreate --seed 1 --config-mb "$CONFIG_MB" --customer-mb 16
  psql -q "$PROD" -c "VACUUM ANALYZE"
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-prod >/dev/null
  echo "== sandbox: cloned from production, then drifted"
  "$BIN/clonebot-fixtures" create --url "$SBX" --recreate --kind sandbox --seed 2 --config-mb 8 >/dev/null
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-sandbox >/dev/null
  "$BIN/clonebot" clone --config "$BIN/clonebot.yaml" --from acme-prod --to acme-sandbox --yes >/dev/null 2>&1
  psql -q -v ON_ERROR_STOP=1 -v tables="$TABLES" "$SBX" <<'SQL'
SET session_replication_role = replica;
CREATE TEMP TABLE drifted AS SELECT ('public.' || t)::regclass AS t FROM unnest(string_to_array(:'tables', ',')) t;
DO $$
DECLARE r record; c text;
BEGIN
  FOR r IN SELECT d.t FROM drifted d WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = d.t AND a.attname = 'id') LOOP
    EXECUTE format('DELETE FROM %s WHERE id %% 211 = 0', r.t);
    SELECT a.attname INTO c FROM pg_attribute a
     WHERE a.attrelid = r.t AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'text'::regtype
       AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = r.t AND i.indisunique AND a.attnum = ANY (i.indkey))
     ORDER BY a.attnum LIMIT 1;
    IF c IS NOT NULL THEN
      EXECUTE format('UPDATE %s SET %I = %I || %L WHERE id %% 199 = 0', r.t, c, c, ' (sandbox)');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = r.t AND i.indisunique AND NOT i.indisprimary) THEN
      EXECUTE format('INSERT INTO %1$s SELECT (jsonb_populate_record(NULL::%1$s, to_jsonb(s) || jsonb_build_object(''id'', s.id + 1000000000))).* FROM %1$s s WHERE s.id %% 307 = 0', r.t);
    END IF;
  END LOOP;
END $$;
SQL
}

# keys: text, random-uuid and composite keys and a table without one; the sandbox is
# a copy of production, then drifted (about 0.5% deleted, 0.5% edited, a few
# thousand rows added per table, and references the clone would NULL).
keys() {
  echo "== production: about ${CONFIG_MB} MB keyed by text, uuid and composite keys"
  psql -q "$BASE/postgres" -c "DROP DATABASE IF EXISTS driftbench_keys_sbx" -c "DROP DATABASE IF EXISTS driftbench_keys_prod" \
    -c "CREATE DATABASE driftbench_keys_prod"
  psql -q -v ON_ERROR_STOP=1 -v scale="$(echo "$CONFIG_MB / 1024" | bc -l)" "$PROD" <<'SQL'
SET synchronous_commit = off;
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
CREATE TABLE catalog_items (sku text PRIMARY KEY, name text NOT NULL, attrs jsonb NOT NULL, price numeric(10,2),
  owner_id bigint REFERENCES customers (id));
CREATE TABLE devices (id uuid PRIMARY KEY, model text NOT NULL, spec jsonb NOT NULL);
CREATE TABLE prices (region text, plan_code text, tier int, amount numeric(10,2), note text, PRIMARY KEY (region, plan_code, tier));
CREATE TABLE price_log (at timestamptz, plan_code text, amount numeric);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;
INSERT INTO catalog_items SELECT 'SKU-' || md5(g::text), 'Item ' || g,
    jsonb_build_object('colour', (ARRAY['red', 'green', 'blue'])[1 + g % 3], 'size', g % 10,
      'tags', jsonb_build_array('fiber', md5((g * 7)::text)), 'rank', g),
    (g % 10000) / 100.0, NULL
  FROM generate_series(1, (1400000 * :scale)::int) g;
INSERT INTO devices SELECT md5('device' || g)::uuid, 'Model ' || (g % 500),
    jsonb_build_object('ports', g % 48, 'firmware', 'v' || (g % 17), 'serial', md5(g::text))
  FROM generate_series(1, (1400000 * :scale)::int) g;
INSERT INTO prices SELECT 'region-' || (g % 50), 'plan-' || (g / 200), (g / 50) % 4, (g % 9000) / 100.0, 'price note ' || md5(g::text)
  FROM generate_series(0, (2200000 * :scale)::int - 1) g;
INSERT INTO price_log SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'plan-' || (g % 5000), g % 100
  FROM generate_series(1, (1200000 * :scale)::int) g;
SQL
  psql -q "$PROD" -c "VACUUM ANALYZE"
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-prod >/dev/null
  psql -q "$BASE/postgres" -c "CREATE DATABASE driftbench_keys_sbx TEMPLATE driftbench_keys_prod"
  # The copy carries production's marker: the sandbox's replaces it.
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-sandbox --force >/dev/null
  echo "== sandbox: a copy of production, then drifted"
  psql -q -v ON_ERROR_STOP=1 "$SBX" <<'SQL'
SET synchronous_commit = off;
DELETE FROM catalog_items WHERE (attrs->>'rank')::int % 211 = 0;
UPDATE catalog_items SET name = name || ' (sandbox)' WHERE (attrs->>'rank')::int % 199 = 0;
UPDATE catalog_items SET owner_id = 7 WHERE (attrs->>'rank')::int % 997 = 0;
INSERT INTO catalog_items SELECT 'SKU-sandbox-' || g, 'Draft ' || g, '{}', 1, 3 FROM generate_series(1, 5000) g;
DELETE FROM devices WHERE (spec->>'ports')::int < 2 AND right(spec->>'serial', 1) IN ('a', 'b', 'c');
UPDATE devices SET model = model || 'x' WHERE right(spec->>'serial', 2) IN ('ff', 'fe');
INSERT INTO devices SELECT gen_random_uuid(), 'Lab model', '{}' FROM generate_series(1, 5000) g;
DELETE FROM prices WHERE tier = 3 AND region = 'region-7';
UPDATE prices SET amount = amount + 1 WHERE tier = 0 AND region = 'region-9';
INSERT INTO prices SELECT 'region-sandbox', 'plan-' || g, 0, 1, 'test' FROM generate_series(1, 5000) g;
DELETE FROM price_log WHERE ctid IN (SELECT ctid FROM price_log TABLESAMPLE SYSTEM (0.5));
INSERT INTO price_log SELECT now(), 'plan-sandbox', 1 FROM generate_series(1, 5000) g;
SQL
}

if [ "$SHAPE" = keys ]; then
  cat > "$BIN/manifest.yaml" <<'YAML'
cloned:
  catalog: [catalog_items, prices, price_log]
  network: [devices]
excluded:
  customers: [customers]
YAML
  echo "manifest: manifest.yaml" >> "$BIN/clonebot.yaml"
  export CLONEBOT_BENCH_DRIFT_MANIFEST="$BIN/manifest.yaml"
  TABLES=catalog_items,prices,price_log,devices
else
  # The cloned tables, from the built-in manifest.
  TABLES=$(sed -n '/^cloned:/,/^excluded:/p' cloner/default_manifest.yaml | grep -o '\[.*\]' | tr -d '[],' | tr ' ' '\n' | grep -v '^$' | paste -sd, -)
fi
if [ -z "${REUSE:-}" ]; then
  "$SHAPE"
  psql -q "$SBX" -c "VACUUM ANALYZE"
fi
for db in "$PROD" "$SBX"; do
  psql -At "$db" -c "SELECT current_database() || ': cloned tables ' || pg_size_pretty(sum(pg_table_size(('public.' || t)::regclass))) || ' (heap and TOAST), ' || sum(c.reltuples)::bigint || ' rows'
    FROM unnest(string_to_array('$TABLES', ',')) t JOIN pg_class c ON c.oid = ('public.' || t)::regclass"
done

echo "== BenchmarkDrift, ${RUNS} runs"
CLONEBOT_BENCH_DRIFT_PROD="$PROD" CLONEBOT_BENCH_DRIFT_SANDBOX="$SBX" \
  /usr/bin/time -v -o "$BIN/time.txt" "$BIN/cloner.test" -test.run '^$' -test.bench '^BenchmarkDrift$' -test.benchtime "${RUNS}x" | tee "$BIN/bench.txt"
LINE=$(grep '^BenchmarkDrift' "$BIN/bench.txt")
metric() { echo "$LINE" | awk -v m="$1" '{for (i = 2; i < NF; i++) if ($(i+1) == m) print $i}'; }
RSS_KB=$(grep 'Maximum resident set size' "$BIN/time.txt" | awk '{print $NF}')
printf '\n== result (shape %s, %s MB of configuration, mean of %s runs)\n' "$SHAPE" "$CONFIG_MB" "$RUNS"
printf 'read both sides once:     %8.2f s  (%s MB)\n' "$(metric read-both-s/op)" "$(metric read-MB)"
printf 'drift:                    %8.2f s  (%s rows differ)\n' "$(metric drift-s/op)" "$(metric drift-rows)"
printf 'ratio drift/read:         %8.2f\n' "$(metric ratio)"
printf 'peak Go heap (drift):     %8.1f MB\n' "$(metric peak-heap-MB)"
printf 'peak RSS of the process:  %8.1f MB\n' "$(echo "$RSS_KB / 1024" | bc -l)"

echo "== BenchmarkExport, ${RUNS} runs"
CLONEBOT_BENCH_DRIFT_PROD="$PROD" CLONEBOT_BENCH_DRIFT_SANDBOX="$SBX" \
  /usr/bin/time -v -o "$BIN/time.txt" "$BIN/cloner.test" -test.run '^$' -test.bench '^BenchmarkExport$' -test.benchtime "${RUNS}x" | tee "$BIN/bench.txt"
LINE=$(grep '^BenchmarkExport' "$BIN/bench.txt")
RSS_KB=$(grep 'Maximum resident set size' "$BIN/time.txt" | awk '{print $NF}')
printf '\n== export (shape %s, mean of %s runs)\n' "$SHAPE" "$RUNS"
printf 'drift alone:              %8.2f s\n' "$(metric drift-s/op)"
printf 'export (drift included):  %8.2f s  (%s rows, %s MB of archives)\n' "$(metric export-s/op)" "$(metric exported-rows)" "$(metric archives-MB)"
printf 'peak Go heap (export):    %8.1f MB\n' "$(metric peak-heap-MB)"
printf 'switch check (swap):      %8.2f s  (every cloned table still as exported)\n' "$(metric switch-check-s/op)"
printf 'peak RSS of the process:  %8.1f MB\n' "$(echo "$RSS_KB / 1024" | bc -l)"
