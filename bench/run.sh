#!/usr/bin/env bash
# Relay's end-to-end benchmark (issue 15): builds Release, then runs bench/Relay.Bench with Relay, the naive reference relay
# (bench/NaiveRelay) and pg_recvlogical side by side: drain, commit → consumer latency at 1,000 tx/s and in 100-row bursts
# with 1 and 4 writers, CPU per event by thread, messages per produce request, idle cost, start-up, one large transaction.
# Results: bench/results/*.md (see bench/README.md).
#   bench/run.sh                                   # the full run (~20 min on 2 cores)
#   bench/run.sh --rows 200000 --latency-seconds 10 --latency-runs 1 --burst-seconds 10 --idle-seconds 30 --big-tx-mib 0 \
#                --results bench/results/quick    # a quick one, for comparing settings
#   bench/run.sh --only relay --set Relay:Kafka:Producer:linger.ms=5 --env DOTNET_GCgen0size=0x400000
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_dotnet
ensure_postgres >/dev/null
dotnet build Relay.sln -c Release -nologo -clp:ErrorsOnly -v quiet
# The relay under test is published as the container image publishes it (Native AOT, see Dockerfile).
relay=$(publish_relay artifacts/bench-relay)
exec dotnet bench/Relay.Bench/bin/Release/net10.0/Relay.Bench.dll --relay "$relay" "$@"
