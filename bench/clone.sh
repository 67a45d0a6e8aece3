#!/usr/bin/env bash
# Benchmark: `clonebot clone` (verification and the rollback copy on, as shipped) against
# two references on the same data, on several schema shapes:
#   dump    pg_dump --data-only | psql --single-transaction
#   restore pg_dump -Fd -Z0 -j J + pg_restore --data-only -j J   (J = cores; uncompressed,
#           which is faster than the default compression on this data)
#
#   [ROUNDS=3] [SCALE=1] [JOBS=] bench/clone.sh [SHAPE ...]     (default: toast jsonb many platform)
#
# Shapes: bench/shapes/<shape> (schema.sql, production.sql, sandbox.sql, manifest.yaml),
# and "platform", the platform's own schema from clonebot-fixtures. SCALE 1 is about
# 1 GB of cloned data per shape. Every run starts from a fresh copy of the same sandbox;
# the three runners alternate their order from round to round, so the noise of a shared
# machine falls on all of them alike. Prints, per shape, the medians of ROUNDS runs, the
# ratio of clonebot to the better reference, clonebot's peak RSS and its phases. A
# shared machine's speed can change by half from one minute to the next, so each
# round's ratio (clonebot to the better reference of the same round, run minutes
# apart) is printed too, with their median and range: the paired figure, less
# exposed to that drift than the ratio of medians taken from different rounds. The
# share of CPU time the hypervisor gave to other guests during each run (steal) is
# printed with it: a round with much of it measured the neighbours, not the tools.
# So is the CPU time the machine spent during each run (every process): where a
# run keeps every core busy, the work it does, and not the cores it waits for,
# sets its time.
#
# Needs a local PostgreSQL (CLONEBOT_BENCH_URL, default postgres://postgres@127.0.0.1:5432)
# with pg_dump, pg_restore, psql and /usr/bin/time. REUSE=1 keeps the production
# databases of an earlier run at the same SCALE. Databases: clonebench_<shape>_*.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1}
CORES=$(nproc)
JOBS=${JOBS:-$CORES}
BASE=${CLONEBOT_BENCH_URL:-postgres://postgres@127.0.0.1:5432}
SHAPES=("$@")
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(toast jsonb many platform)
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
url() { echo "$BASE/$1?sslmode=disable"; }
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
admin() { sql -At "$(url postgres)" -c "$1"; }

go build -o "$BIN/clonebot-fixtures" ./cmd/clonebot-fixtures
go build -o "$BIN/clonebot" ./cmd/clonebot

# manifest_tables MANIFEST SECTION...: the tables the manifest's sections name, one per
# line, schema-qualified (categories are indented lines holding a [list]).
manifest_tables() {
  local file=$1; shift
  awk -v want=" $* " '/^[a-z_]+:/ { section = substr($1, 1, length($1) - 1) }
    /^  / && index(want, " " section " ") && match($0, /\[.*\]/) { print substr($0, RSTART + 1, RLENGTH - 2) }' "$file" |
    tr ',' '\n' | tr -d ' ' | grep -v '^$' | sed '/\./!s/^/public./'
}
cloned_tables() { manifest_tables "$1" cloned; }
all_tables() { manifest_tables "$1" cloned excluded; }

prepare_shape() { # shape: production database and sandbox template
  local shape=$1 prod tpl
  prod=clonebench_${shape}_prod tpl=clonebench_${shape}_sbx_tpl
  if [ -n "${REUSE:-}" ] && [ "$(admin "SELECT count(*) FROM pg_database WHERE datname = '$prod'")" = 1 ]; then
    return
  fi
  echo "== $shape: generating production (scale $SCALE)"
  admin "DROP DATABASE IF EXISTS $prod WITH (FORCE)"
  admin "UPDATE pg_database SET datistemplate = false WHERE datname = '$tpl'"
  admin "DROP DATABASE IF EXISTS $tpl WITH (FORCE)"
  if [ "$shape" = platform ]; then
    local mb; mb=$(echo "$SCALE * 1024" | bc -l | cut -d. -f1)
    "$BIN/clonebot-fixtures" create --url "$(url "$prod")" --seed 1 --config-mb "$mb" --customer-mb "$mb" >/dev/null
    "$BIN/clonebot-fixtures" create --url "$(url "$tpl")" --kind sandbox --seed 2 --config-mb 8 >/dev/null
  else
    admin "CREATE DATABASE $prod"; admin "CREATE DATABASE $tpl"
    sql -v scale="$SCALE" "$(url "$prod")" -f "bench/shapes/$shape/schema.sql" -f "bench/shapes/$shape/production.sql"
    sql "$(url "$tpl")" -f "bench/shapes/$shape/schema.sql" -f "bench/shapes/$shape/sandbox.sql"
  fi
  sql "$(url "$prod")" -c "VACUUM ANALYZE"
  admin "UPDATE pg_database SET datistemplate = true WHERE datname = '$tpl'"
}

fresh_sandbox() { # name shape
  admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
  admin "CREATE DATABASE $1 TEMPLATE clonebench_${2}_sbx_tpl"
}

now() { date +%s.%N; }
# cpustat: the machine's stolen, total and busy CPU time so far (jiffies, /proc/stat;
# busy is user, nice, system, irq and softirq, of every process).
# since READING: from one new reading, the share of the CPU time since READING that
# the hypervisor gave to other guests, in percent (runs under a high share are slower
# for it), and the CPU seconds the machine spent (on a machine the run keeps busy,
# the work it did, which the wall time only divides by the cores it kept busy).
HZ=$(getconf CLK_TCK)
cpustat() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t, $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
since() {
  { echo "$1"; cpustat; } | awk -v hz="$HZ" 'NR == 1 { s0 = $1; t0 = $2; b0 = $3; next }
    { printf "%.0f %.2f\n", ($2 > t0 ? 100 * ($1 - s0) / ($2 - t0) : 0), ($3 - b0) / hz }'
}
# clock_start, then clock_stop RUNNER: appends the run's seconds to RUNNER.s, its
# stolen share to RUNNER.steal and the CPU seconds spent to RUNNER.cpu.
clock_start() { T0=$(now) S0=$(cpustat); }
clock_stop() {
  local steal cpu
  read -r steal cpu < <(since "$S0")
  echo "$(now) - $T0" | bc -l >> "$OUT/$1.s"; echo "$steal" >> "$OUT/$1.steal"; echo "$cpu" >> "$OUT/$1.cpu"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_dump() { # shape: time of pg_dump --data-only | psql -1, wipe included
  local s=$1 db=clonebench_${1}_sbx_dump
  fresh_sandbox "$db" "$s"; sql "$(url "clonebench_${s}_prod")" -c CHECKPOINT
  clock_start
  { echo "SET session_replication_role = replica;"; echo "TRUNCATE $WIPE;"
    pg_dump --data-only --no-owner "${DUMP_ARGS[@]}" "$(url "clonebench_${s}_prod")" | grep -v '^SELECT pg_catalog.set_config'
  } | sql --single-transaction "$(url "$db")" >/dev/null
  clock_stop dump
}

run_restore() { # shape: time of pg_dump -Fd -jJ + pg_restore --data-only -jJ, wipe included
  local s=$1 db=clonebench_${1}_sbx_restore
  fresh_sandbox "$db" "$s"; sql "$(url "clonebench_${s}_prod")" -c CHECKPOINT; rm -rf "$BIN/dump"
  clock_start
  pg_dump -Fd -Z0 -j "$JOBS" -f "$BIN/dump" --data-only "${DUMP_ARGS[@]}" "$(url "clonebench_${s}_prod")"
  sql "$(url "$db")" -c "TRUNCATE $WIPE"
  pg_restore --data-only --disable-triggers -j "$JOBS" -d "$(url "$db")" "$BIN/dump"
  clock_stop restore
}

run_clonebot() { # shape: time of clonebot clone, peak RSS
  local s=$1 db=clonebench_${1}_sbx
  fresh_sandbox "$db" "$s"; sql "$(url "clonebench_${s}_prod")" -c CHECKPOINT
  "$BIN/clonebot" enroll --config "$BIN/$s.yaml" --instance bench-sandbox --force >/dev/null
  clock_start
  /usr/bin/time -v -o "$BIN/time.txt" "$BIN/clonebot" clone --config "$BIN/$s.yaml" --from bench-prod --to bench-sandbox --yes \
    ${JOBS:+--jobs "$JOBS"} > "$BIN/report.txt" 2>"$BIN/clone.err" || { cat "$BIN/clone.err" "$BIN/report.txt" >&2; exit 1; }
  clock_stop clonebot
  grep 'Maximum resident set size' "$BIN/time.txt" | awk '{print $NF}' >> "$OUT/rss.kb"
  grep -m1 '^Phases' "$BIN/report.txt" >> "$OUT/phases" || true
}

RESULTS=()
for shape in "${SHAPES[@]}"; do
  prepare_shape "$shape"
  manifest=bench/shapes/$shape/manifest.yaml
  [ "$shape" = platform ] && manifest=cloner/default_manifest.yaml
  mapfile -t CLONED < <(cloned_tables "$manifest")
  # pg_dump --table does not follow partitions before PostgreSQL 16: name the leaves.
  mapfile -t LEAVES < <(sql -At "$(url "clonebench_${shape}_prod")" -c \
    "SELECT relid::regclass::text FROM unnest(string_to_array('$(IFS=,; echo "${CLONED[*]}")', ',')) t, pg_partition_tree(t::regclass) WHERE relid <> t::regclass")
  DUMP_ARGS=()
  for t in "${CLONED[@]}" "${LEAVES[@]}"; do DUMP_ARGS+=(--table="$t"); done
  WIPE=$(all_tables "$manifest" | paste -sd, | sed 's/,/, /g')
  cat > "$BIN/$shape.yaml" <<EOF
manifest: "$PWD/$manifest"
tenants:
  - name: bench
    instances:
      - {name: bench-prod, environment: production, database_url: "$(url "clonebench_${shape}_prod")"}
      - {name: bench-sandbox, environment: sandbox, database_url: "$(url "clonebench_${shape}_sbx")"}
EOF
  [ "$shape" = platform ] && sed -i '/^manifest:/d' "$BIN/$shape.yaml"
  "$BIN/clonebot" enroll --config "$BIN/$shape.yaml" --instance bench-prod --force >/dev/null
  OUT=$BIN/out_$shape; mkdir -p "$OUT"
  size=$(sql -At "$(url "clonebench_${shape}_prod")" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
  echo "== $shape: production $size, ${#CLONED[@]} cloned tables (+${#LEAVES[@]} partitions), $ROUNDS rounds"
  runners=(dump restore clonebot)
  for round in $(seq 1 "$ROUNDS"); do
    line="round $round:"
    for i in 0 1 2; do
      r=${runners[$(( (i + round - 1) % 3 ))]}
      "run_$r" "$shape"
      line="$line $r $(printf '%.2f' "$(tail -1 "$OUT/$r.s")") s (CPU $(tail -1 "$OUT/$r.cpu") s, steal $(tail -1 "$OUT/$r.steal")%)"
    done
    echo "$line"
  done
  tail -1 "$OUT/phases" 2>/dev/null || true
  d=$(median < "$OUT/dump.s"); r=$(median < "$OUT/restore.s"); c=$(median < "$OUT/clonebot.s")
  # The better reference by median wall time, its time and, with clonebot's, its CPU seconds.
  better=restore best=$r; [ "$(echo "$d < $r" | bc -l)" = 1 ] && better=dump best=$d
  cpu="$(median < "$OUT/clonebot.cpu") s / $(median < "$OUT/$better.cpu") s"
  rss=$(sort -n "$OUT/rss.kb" | tail -1)
  # Each round's ratio: its clonebot time over the better of its two references.
  paste "$OUT/dump.s" "$OUT/restore.s" "$OUT/clonebot.s" | awk '{b = $1 < $2 ? $1 : $2; printf "%.3f\n", $3 / b}' > "$OUT/ratio"
  echo "round ratios: $(paste -sd' ' "$OUT/ratio")"
  steal=$(cat "$OUT"/*.steal | sort -n | tail -1)
  paired=$(median < "$OUT/ratio")
  spread=$(sort -n "$OUT/ratio" | sed -n '1p;$p' | paste -sd'-')
  RESULTS+=("$(printf '| %s | %s | %.2f s | %.2f s | %.2f s | %.2f | %.2f (%s) | %s | %.0f MB | %s%% |' "$shape" "$size" "$d" "$r" "$c" "$(echo "$c / $best" | bc -l)" "$paired" "$spread" "$cpu" "$(echo "$rss / 1024" | bc -l)" "$steal")")
  for db in sbx sbx_dump sbx_restore; do admin "DROP DATABASE IF EXISTS clonebench_${shape}_$db WITH (FORCE)"; done
done

printf '\n%s, %d cores, PostgreSQL %s, scale %s, median of %d rounds, --jobs %s\n' "$(uname -n)" "$CORES" \
  "$(admin 'SHOW server_version')" "$SCALE" "$ROUNDS" "$JOBS"
echo "| shape | production | dump \| psql | dump -j + restore -j | clonebot clone | ratio to the better | ratio per round, median (range) | CPU time, clonebot / the better | clonebot peak RSS | CPU stolen, worst run |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${RESULTS[@]}"
