#!/usr/bin/env bash
# Relay's end-to-end benchmark: builds Release, then runs bench/Relay.Bench (drain vs pg_recvlogical, latency at fixed
# rates with pgbench -R, CPU per event, memory, start-up, one large transaction). Results: bench/results/*.md.
#   bench/run.sh                                   # the full run (1M rows, 1,000 and 5,000 rows/s × 3, 1 GiB transaction)
#   bench/run.sh --rows 100000 --big-tx-mib 0      # a quick one
#   bench/run.sh --set Relay:Kafka:Producer:linger.ms=1
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_dotnet
ensure_postgres >/dev/null
dotnet build Relay.sln -c Release -nologo -clp:ErrorsOnly -v quiet
# The relay under test is published as the container image publishes it (ReadyToRun, see Dockerfile).
dotnet publish src/Relay/Relay.csproj -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o artifacts/bench-relay -nologo -v quiet
exec dotnet bench/Relay.Bench/bin/Release/net10.0/Relay.Bench.dll --relay artifacts/bench-relay/Relay.dll "$@"
