#!/usr/bin/env bash
# Benchmark: clonebot's clone against the reference `pg_dump --data-only | psql -1`
# of the cloned tables, on the same generated production data, side by side.
#
#   [RUNS=3] bench/clone.sh [CONFIG_MB] [CUSTOMER_MB]      (default 1024 1024)
#
# Needs a local PostgreSQL (CLONEBOT_BENCH_URL, default postgres://postgres@127.0.0.1:5432)
# with pg_dump, psql and /usr/bin/time. Prints both wall times, the ratio and
# clonebot's peak RSS (medians of RUNS alternating runs). Both sides silence triggers
# and foreign-key checks during the load (session_replication_role = replica, as
# pg_restore --disable-triggers would); the reference keeps the sandbox's indexes.
# Databases: clonebench_prod, clonebench_sbx_ref, clonebench_sbx.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG_MB=${1:-1024}
CUSTOMER_MB=${2:-1024}
RUNS=${RUNS:-3}
BASE=${CLONEBOT_BENCH_URL:-postgres://postgres@127.0.0.1:5432}
PROD="$BASE/clonebench_prod?sslmode=disable"
REF="$BASE/clonebench_sbx_ref?sslmode=disable"
SBX="$BASE/clonebench_sbx?sslmode=disable"
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT

go build -o "$BIN/clonebot-fixtures" ./cmd/clonebot-fixtures
go build -o "$BIN/clonebot" ./cmd/clonebot
# clonebot clone reads the instances from a configuration like any operator's.
cat > "$BIN/clonebot.yaml" <<EOF
database_url: "postgres://127.0.0.1/unused"
zendesk:
  url: "http://127.0.0.1:1"
  email: "bench@example.com"
  api_token: "unused"
  webhook_secrets: ["unused"]
  bot_user_id: 361100000001
  fields: {production_instance: 360042000001, sandbox_instance: 360042000002, wipe_confirmation: 360042000003, users: 360042000004}
tenants:
  - name: bench
    instances:
      - {name: bench-prod, environment: production, database_url: "$PROD"}
      - {name: bench-sandbox, environment: sandbox, database_url: "$SBX"}
EOF

if [ -z "${REUSE:-}" ]; then  # REUSE=1 keeps the production database of the last run
  echo "== generating production: ${CONFIG_MB} MB configuration, ${CUSTOMER_MB} MB customer data"
  "$BIN/clonebot-fixtures" create --url "$PROD" --recreate --seed 1 --config-mb "$CONFIG_MB" --customer-mb "$CUSTOMER_MB"
  psql -q "$PROD" -c "VACUUM ANALYZE"
fi
"$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance bench-prod >/dev/null
psql -At "$PROD" -c "SELECT 'production database: ' || pg_size_pretty(pg_database_size(current_database()))"

# The cloned tables, from the built-in manifest (same order).
TABLES=$(sed -n '/^cloned:/,/^excluded:/p' cloner/default_manifest.yaml | grep -o '\[.*\]' | tr -d '[],' | tr ' ' '\n' | grep -v '^$')
DUMP_ARGS=()
for t in $TABLES; do DUMP_ARGS+=(--table="public.$t"); done
psql -At "$PROD" -c "SELECT 'configuration tables: ' || pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c WHERE c.oid = ANY(string_to_array('$(echo $TABLES | tr ' ' ',')', ',')::regclass[])"

# Reference: wipe the sandbox's cloned tables (as a clone would), then load a data-only
# dump into the indexed tables in one transaction.
WIPE="TRUNCATE $(echo $TABLES | sed 's/ /, /g') CASCADE;"
reference() {
  { echo "SET session_replication_role = replica;"; echo "$WIPE";
    pg_dump --data-only --no-owner "${DUMP_ARGS[@]}" "$PROD" 2>/dev/null | grep -v '^SELECT pg_catalog.set_config' ; } \
    | psql -q --single-transaction -v ON_ERROR_STOP=1 "$REF" >/dev/null 2>&1
}

fresh_sandboxes() {
  for db in "$REF" "$SBX"; do
    "$BIN/clonebot-fixtures" create --url "$db" --recreate --kind sandbox --seed 2 --config-mb 8 >/dev/null
  done
  # A new database: clonebot clones only into an enrolled sandbox.
  "$BIN/clonebot" enroll --config "$BIN/clonebot.yaml" --instance bench-sandbox >/dev/null
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Runs alternate, each from the same freshly generated sandbox, so that the noise of a
# shared machine (other builds, checkpoints) falls on both sides alike.
: > "$BIN/ref.s"; : > "$BIN/cb.s"; : > "$BIN/rss.kb"
for run in $(seq 1 "$RUNS"); do
  fresh_sandboxes
  psql -q "$PROD" -c "CHECKPOINT"
  t0=$(now); reference; t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$BIN/ref.s"
  psql -q "$PROD" -c "CHECKPOINT"
  t0=$(now)
  /usr/bin/time -v -o "$BIN/time.txt" "$BIN/clonebot" clone --config "$BIN/clonebot.yaml" --from bench-prod --to bench-sandbox --yes > "$BIN/report.txt" 2>/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$BIN/cb.s"
  grep 'Maximum resident set size' "$BIN/time.txt" | awk '{print $NF}' >> "$BIN/rss.kb"
  printf 'run %d: reference %.2f s, clonebot %.2f s  (%s)\n' "$run" "$(tail -1 "$BIN/ref.s")" "$(tail -1 "$BIN/cb.s")" "$(grep Phases "$BIN/report.txt")"
done
sed -n '1,2p' "$BIN/report.txt"
grep -E '^Verification' "$BIN/report.txt"

REF_S=$(median < "$BIN/ref.s")
CB_S=$(median < "$BIN/cb.s")
RSS_KB=$(sort -n "$BIN/rss.kb" | tail -1)
printf '\n== result (config %s MB, customer %s MB, median of %d runs)\n' "$CONFIG_MB" "$CUSTOMER_MB" "$RUNS"
printf 'reference pg_dump|psql -1: %8.2f s\n' "$REF_S"
printf 'clonebot clone (verified): %8.2f s\n' "$CB_S"
printf 'ratio clonebot/reference:  %8.2f\n' "$(echo "$CB_S / $REF_S" | bc -l)"
printf 'clonebot peak RSS:         %8.1f MB\n' "$(echo "$RSS_KB / 1024" | bc -l)"
