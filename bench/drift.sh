#!/usr/bin/env bash
# Benchmark: the drift of every cloned table against reading both sides once, on a
# production of CONFIG_MB of configuration and a sandbox cloned from it, then drifted.
#
#   [RUNS=3] bench/drift.sh [CONFIG_MB]      (default 1024)
#
# Needs a local PostgreSQL (CLONEBOT_BENCH_URL, default postgres://postgres@127.0.0.1:5432)
# with psql and /usr/bin/time. Prints, from BenchmarkDrift (cloner/drift_bench_test.go):
# the time to read both sides once (every compared column of every cloned table, both
# servers at once, by COPY, thrown away), the drift's time, their ratio, the peak Go
# heap during the drift, and the benchmark process's peak RSS. Runs alternate which
# goes first. REUSE=1 keeps the databases of the last run.
# Databases: driftbench_prod, driftbench_sbx.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG_MB=${1:-1024}
RUNS=${RUNS:-3}
BASE=${CLONEBOT_BENCH_URL:-postgres://postgres@127.0.0.1:5432}
PROD="$BASE/driftbench_prod?sslmode=disable"
SBX="$BASE/driftbench_sbx?sslmode=disable"
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

# The cloned tables, from the built-in manifest.
TABLES=$(sed -n '/^cloned:/,/^excluded:/p' cloner/default_manifest.yaml | grep -o '\[.*\]' | tr -d '[],' | tr ' ' '\n' | grep -v '^$' | paste -sd, -)

if [ -z "${REUSE:-}" ]; then
  echo "== production: ${CONFIG_MB} MB of configuration"
  "$BIN/clonebot-fixtures" create --url "$PROD" --recreate --seed 1 --config-mb "$CONFIG_MB" --customer-mb 16
  psql -q "$PROD" -c "VACUUM ANALYZE"
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-prod >/dev/null
  echo "== sandbox: cloned from production, then drifted"
  "$BIN/clonebot-fixtures" create --url "$SBX" --recreate --kind sandbox --seed 2 --config-mb 8 >/dev/null
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance acme-sandbox >/dev/null
  "$BIN/clonebot" clone --config "$BIN/clonebot.yaml" --from acme-prod --to acme-sandbox --yes >/dev/null 2>&1
  # In every cloned table with an id: about 0.5% of the rows deleted, 0.5% edited in
  # their first free text column, 0.3% added (where no other unique key forbids it).
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
printf '\n== result (%s MB of configuration, mean of %s runs)\n' "$CONFIG_MB" "$RUNS"
printf 'read both sides once:     %8.2f s  (%s MB)\n' "$(metric read-both-s/op)" "$(metric read-MB)"
printf 'drift:                    %8.2f s  (%s rows differ)\n' "$(metric drift-s/op)" "$(metric drift-rows)"
printf 'ratio drift/read:         %8.2f\n' "$(metric ratio)"
printf 'peak Go heap (drift):     %8.1f MB\n' "$(metric peak-heap-MB)"
printf 'peak RSS of the process:  %8.1f MB\n' "$(echo "$RSS_KB / 1024" | bc -l)"
