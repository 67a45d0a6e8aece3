#!/usr/bin/env bash
# Load-test the webhook intake end to end: build clonebot, give it a scratch bot
# database, run `clonebot serve`, send signed webhooks at a fixed rate from a separate
# process, then count accepted deliveries that left no durable job (lost).
#
# Usage: bench/webhook.sh [webhookload flags...]   e.g. bench/webhook.sh -rate 1500 -duration 30s
# Environment:
#   CLONEBOT_TEST_DATABASE_URL  maintenance database of the PostgreSQL server
#                               (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   POOL_MAX_CONNS              bot database pool size for serve (default 16)
#   PORT                        listen port for serve (default 18080)
set -euo pipefail

cd "$(dirname "$0")/.."
admin_url=${CLONEBOT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
pool=${POOL_MAX_CONNS:-16}
port=${PORT:-18080}
work=$(mktemp -d)
db=clonebot_bench_$$
secret=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
serve_pid=
db_url=$(sed -E "s#/[^/?]*(\?|$)#/${db}\1#" <<<"${admin_url%%\?*}")"?sslmode=disable&pool_max_conns=${pool}"

cleanup() {
	if [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null; then
		kill "$serve_pid"
		wait "$serve_pid" 2>/dev/null || true
	fi
	psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building clonebot and webhookload"
go build -o "$work/clonebot" ./cmd/clonebot
go build -o "$work/webhookload" ./bench/webhookload

psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
# Zendesk points at a closed port: ticket_sync jobs fail fast, as the benchmark intends.
cat >"$work/clonebot.yaml" <<YAML
listen: "127.0.0.1:${port}"
log_level: warn
database_url: "${db_url}"
zendesk:
  url: "http://127.0.0.1:9"
  email: "clonebot@example.com"
  api_token: "bench-token"
  webhook_secrets: ["\${BENCH_WEBHOOK_SECRET}"]
  bot_user_id: 361100000001
  fields: {production_instance: 360042000001, sandbox_instance: 360042000002, wipe_confirmation: 360042000003, users: 360042000004}
tenants:
  - name: acme
    timezone: America/Toronto
    zendesk_organization_ids: [360099887766]
    instances:
      - {name: acme-prod, environment: production, url: "https://acme.example-isp.app", database_url: "postgres://127.0.0.1:9/none"}
      - {name: acme-sandbox, environment: sandbox, url: "https://acme.sandbox.example-isp.app", database_url: "postgres://127.0.0.1:9/none"}
YAML

echo "starting clonebot serve (pool_max_conns=${pool})"
BENCH_WEBHOOK_SECRET=$secret "$work/clonebot" serve --config "$work/clonebot.yaml" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
	curl -fs "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
	kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
	sleep 0.2
done
curl -fs "http://127.0.0.1:${port}/readyz" >/dev/null || { echo "serve never became ready"; tail -20 "$work/serve.log"; exit 1; }

status=0
"$work/webhookload" -url "http://127.0.0.1:${port}/webhooks/zendesk" -secret "$secret" -db "${db_url%%&pool_max_conns*}" "$@" || status=$?

echo "server-side: $(curl -fs "http://127.0.0.1:${port}/metrics" | grep -E '^clonebot_webhook_(requests_total|duration_seconds_(count|sum))' | tr '\n' ' ')"
psql -At "${db_url%%&pool_max_conns*}" -c "SELECT 'jobs by state: ' || string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM river_job WHERE kind = 'ticket_sync' GROUP BY state ORDER BY state) s"
grep -c '"level":"error"' "$work/serve.log" | sed 's/^/serve error lines: /' || true
exit $status
