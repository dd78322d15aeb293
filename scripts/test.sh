#!/usr/bin/env bash
# Runs Relay's tests: unit tests, then integration tests against a real PostgreSQL and a Kafka-protocol broker.
# Services come from RELAY_TEST_POSTGRES / RELAY_TEST_KAFKA when set, else Testcontainers when Docker answers, else a
# throwaway PostgreSQL cluster from the machine's binaries (installed with apt when missing) and librdkafka's mock
# Kafka cluster. The tests that start the relay as a process run the executable the image ships (Native AOT, published
# into artifacts/relay), or RELAY_EXECUTABLE when set. Ends with one line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_dotnet
if [ -z "${RELAY_TEST_POSTGRES:-}" ]; then
    ensure_postgres >/dev/null
fi

configuration=${CONFIGURATION:-Release}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

dotnet build Relay.sln -c "$configuration" -warnaserror -nologo -clp:ErrorsOnly
rm -f tests/*/bin/"$configuration"/net10.0/relay-test-figures.log
if [ -z "${RELAY_EXECUTABLE:-}" ]; then
    echo "Publishing Relay (Native AOT) into artifacts/relay..."
    RELAY_EXECUTABLE=$(publish_relay artifacts/relay)
    export RELAY_EXECUTABLE
fi
echo "Relay processes under test: $RELAY_EXECUTABLE"

status=0
dotnet test --solution Relay.sln -c "$configuration" --no-build "$@" 2>&1 | tee "$log" || status=$?

# dotnet test's own summary is not the plain line CI reads: sum the per-project counts.
passed=$(grep -E '^\s+succeeded: [0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^\s+failed: [0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -E '^\s+skipped: [0-9]+' "$log" | awk '{s+=$2} END {print s+0}')

for figures in tests/*/bin/"$configuration"/net10.0/relay-test-figures.log; do
    [ -f "$figures" ] && { echo; echo "Figures measured by the tests:"; sed 's/^/  /' "$figures"; }
done
grep -A1 -E '^skipped ' "$log" | sed 's/^/  /' || true

# Exit code 8 is "a test project ran zero tests": expected when a filter selects tests of one project only.
if [ "$status" -eq 8 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
    status=0
fi
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "error: no test ran" >&2
    status=1
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
