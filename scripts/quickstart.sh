#!/usr/bin/env bash
# Relay in one command, with no PostgreSQL or Kafka of your own: starts a throwaway PostgreSQL (wal_level=logical),
# the local dev broker (librdkafka's mock Kafka cluster - a test double), and the relay with the sample
# appsettings.json; inserts sample outbox rows and prints the Kafka messages as they arrive.
# Interactive: keeps running until Ctrl-C so you can insert more rows. Otherwise (CI, pipes): stops once the samples arrived.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_dotnet
pg_bin=$(ensure_postgres)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {   # the preferred port, or the next free one
    local port=$1
    while ! port_free "$port"; do port=$((port + 1)); done
    echo "$port"
}
pg_port=$(free_port "${RELAY_DEV_PG_PORT:-55432}")
kafka_port=$(free_port "${RELAY_DEV_KAFKA_PORT:-9092}")
work=$(pwd)/.relay-dev
pids=()

cleanup() {
    set +e
    # Relay first (it drains into the broker), then the broker.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; wait "${pids[i]}" 2>/dev/null; done
    run_pg "$pg_bin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run_pg() {   # PostgreSQL refuses to run as root: run it as the postgres user then.
    if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; else "$@"; fi
}

echo "==> Building"
dotnet build Relay.sln -c Release -nologo -clp:ErrorsOnly -v quiet

echo "==> Starting a throwaway PostgreSQL on 127.0.0.1:$pg_port ($pg_bin)"
rm -rf "$work" && mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
run_pg "$pg_bin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = logical
CONF
run_pg "$pg_bin/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w start >/dev/null
psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql <<'SQL'
CREATE TABLE public.outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    aggregatetype text NOT NULL,
    aggregateid text NOT NULL,
    type text NOT NULL,
    payload jsonb,
    created_at timestamptz NOT NULL DEFAULT now());
SQL

echo "==> Starting the dev broker (mock Kafka cluster, a test double) on 127.0.0.1:$kafka_port"
dotnet tools/Relay.DevBroker/bin/Release/net10.0/Relay.DevBroker.dll --port "$kafka_port" --print '^outbox\.' \
    > >(tee "$work/kafka.log" | sed -u 's/^/[kafka] /') 2>&1 &
pids+=($!)

echo "==> Starting Relay with appsettings.json"
export Relay__Postgres__ConnectionString="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres"
export Relay__Kafka__BootstrapServers="127.0.0.1:$kafka_port"
dotnet src/Relay/bin/Release/net10.0/Relay.dll --config appsettings.json > >(tee "$work/relay.log" | sed -u 's/^/[relay] /') 2>&1 &
pids+=($!)

for _ in $(seq 1 300); do grep -q "Streaming from slot" "$work/relay.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Streaming from slot" "$work/relay.log" || { echo "Relay did not start streaming; see above" >&2; exit 1; }

echo "==> Inserting sample outbox rows"
psql <<'SQL'
BEGIN;
INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES
  ('Order', 'order-1', 'OrderCreated',  '{"orderId": "order-1", "total": 42.50}'),
  ('Order', 'order-1', 'OrderPaid',     '{"orderId": "order-1", "method": "card"}'),
  ('Customer', 'cust-7', 'CustomerRegistered', '{"customerId": "cust-7", "name": "Ada"}');
COMMIT;
INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES
  ('Order', 'order-2', 'OrderCreated', '{"orderId": "order-2", "total": 7.00}');
SQL

echo "==> Waiting for the 4 messages (printed above as [kafka] topic[partition]@offset key=... id=... type=... value=...)"
for _ in $(seq 1 300); do [ "$(grep -c '^outbox\.' "$work/kafka.log")" -ge 4 ] && break; sleep 0.1; done
[ "$(grep -c '^outbox\.' "$work/kafka.log")" -ge 4 ] || { echo "The sample messages did not arrive; see above" >&2; exit 1; }
echo "==> All 4 sample rows arrived in Kafka."
if [ -t 0 ] && [ -t 1 ]; then
    echo
    echo "Relay is running. In another terminal, insert more rows and watch them arrive here:"
    echo "  $pg_bin/psql -h 127.0.0.1 -p $pg_port -U postgres -c \"INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'order-3', 'OrderCreated', '{}')\""
    echo "Metrics and health: http://127.0.0.1:9464/metrics, /healthz, /readyz"
    echo "Press Ctrl-C to stop (Relay drains and confirms, then everything is removed)."
    wait "${pids[1]}"
else
    sleep 2
fi
