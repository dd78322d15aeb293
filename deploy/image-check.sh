#!/usr/bin/env bash
# Builds the container image from the root Dockerfile with podman and runs it, as a cluster would:
#   1. base images: no image can be pulled here, so the Dockerfile's SDK and runtime-deps bases are made locally — a
#      Debian bookworm rootfs (debootstrap --variant=minbase, libicu72 libssl3 ca-certificates zlib1g, user 'app'
#      1654:1654): that rootfs is the runtime-deps base (Relay is a Native AOT executable); the SDK base adds this
#      machine's whole .NET folder, the host's CA bundle and clang (Native AOT links with it). Kept between runs (tagged
#      with what they hold).
#   2. podman build of the Dockerfile with those bases as build arguments.
#   3. podman run -d --network host --read-only --tmpfs /tmp -v CONFIG:/etc/relay/relay.json:ro against a throwaway
#      PostgreSQL (wal_level=logical) and the dev broker (tools/Relay.DevBroker, librdkafka's mock cluster), and checks:
#      the process runs as UID 1654, /healthz and /readyz answer 200, outbox rows arrive in Kafka, and SIGTERM ends the
#      container with exit code 0 within 5 s.
# Prints PASS/FAIL lines and the time each stage took; prints SKIPPED (with the reason) and exits 0 where podman cannot
# build or run containers (no root, no apt, no namespaces). RELAY_SKIP_IMAGE_CHECK=1 skips it on purpose.
# Needs root (debootstrap, chroot, podman as root, PostgreSQL run as the 'postgres' user).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

t0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
skip() { echo "SKIPPED: image check: $*"; exit 0; }
failed=0
pass() { echo "PASS: image: $*"; }
fail() { echo "FAIL: image: $*"; failed=1; }

[ "${RELAY_SKIP_IMAGE_CHECK:-}" = 1 ] && skip "RELAY_SKIP_IMAGE_CHECK=1"
[ "$(uname -s)" = Linux ] || skip "podman here needs Linux"
[ "$(uname -m)" = x86_64 ] || skip "the base images are made from this machine's .NET and the Dockerfile's default runtime id is linux-x64"
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot and rootful podman); run it as root"
ensure_dotnet

# Tools: podman and runc run the containers, debootstrap makes the base rootfs, curl asks the endpoints.
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap curl:curl; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || skip "${missing[*]} missing and apt-get is not available"
    echo "Installing ${missing[*]}..."
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
pg_bin=$(ensure_postgres)

work=$(mktemp -d /tmp/relay-image-check.XXXXXX)
chmod 755 "$work"
name=relay-image-check-$$
broker_pid=
cleanup() {
    set +e
    podman rm -f -t 0 "$name" >/dev/null 2>&1
    [ -n "$broker_pid" ] && { kill -TERM "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null; }
    [ -f "$work/pg/data/postmaster.pid" ] && su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$work/pg/data' -m immediate -w stop" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# podman's defaults do not run containers on the project's CI machines; the settings found to work there (cgroupfs, runc,
# no default ulimits) go in a containers.conf of our own, leaving the system's alone.
cat > "$work/containers.conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"
podman info >/dev/null 2>"$work/podman-info.err" || skip "podman does not work here: $(tail -n 1 "$work/podman-info.err")"

# --- 1. Base images ---------------------------------------------------------------------------------------------------
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime_version=bookworm
sdk_version=$(dotnet --version)-clang
runtime_image=localhost/relay-base-dotnet-runtime-deps
sdk_image=localhost/relay-base-dotnet-sdk
stage=$(date +%s.%N)

rootfs() {   # the Debian rootfs both bases share, made once per run that needs a base
    [ -d "$work/rootfs" ] && return 0
    echo "debootstrap --variant=minbase bookworm..."
    debootstrap --variant=minbase bookworm "$work/rootfs" "${RELAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
        > "$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log"; return 1; }
    chroot "$work/rootfs" /bin/sh -ec '
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends libicu72 libssl3 ca-certificates zlib1g >/dev/null
        apt-get clean
        rm -rf /var/lib/apt/lists/*
        groupadd --gid 1654 app
        useradd --uid 1654 --gid 1654 --no-create-home --home-dir /app --shell /usr/sbin/nologin app' \
        > "$work/chroot.log" 2>&1 || { tail -n 20 "$work/chroot.log"; return 1; }
}

import_base() {   # IMAGE TAG DIR: imports DIR as IMAGE:TAG with the environment .NET's own images set
    tar -C "$3" -c . | podman import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV APP_UID=1654' \
        --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' \
        --change 'ENV DOTNET_NOLOGO=1' \
        --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' \
        - "$1:$2" >/dev/null
}

base_built=0
if ! podman image exists "$runtime_image:$runtime_version"; then
    rootfs || { fail "debootstrap of the base rootfs"; exit 1; }
    import_base "$runtime_image" "$runtime_version" "$work/rootfs"
    base_built=1
fi
if ! podman image exists "$sdk_image:$sdk_version"; then
    rootfs || { fail "debootstrap of the base rootfs"; exit 1; }
    cp -a "$work/rootfs" "$work/sdk"
    mkdir -p "$work/sdk/usr/share/dotnet"
    cp -a "$dotnet_root/." "$work/sdk/usr/share/dotnet/"
    ln -sf /usr/share/dotnet/dotnet "$work/sdk/usr/bin/dotnet"
    # NuGet may be reached through a TLS-inspecting proxy: trust what this machine trusts.
    cp /etc/ssl/certs/ca-certificates.crt "$work/sdk/etc/ssl/certs/ca-certificates.crt"
    chroot "$work/sdk" /bin/sh -ec '
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends clang zlib1g-dev >/dev/null
        apt-get clean
        rm -rf /var/lib/apt/lists/*' > "$work/chroot-sdk.log" 2>&1 || { tail -n 20 "$work/chroot-sdk.log"; fail "clang in the SDK base"; exit 1; }
    import_base "$sdk_image" "$sdk_version" "$work/sdk"
    rm -rf "$work/sdk"
    base_built=1
fi
rm -rf "$work/rootfs"
if [ "$base_built" = 1 ]; then
    echo "Base images $runtime_image:$runtime_version and $sdk_image:$sdk_version made in $(elapsed "$stage") s"
else
    echo "Base images $runtime_image:$runtime_version and $sdk_image:$sdk_version already there (kept from an earlier run)"
fi

# Can this machine run a container at all? If not, that is the machine, not the image.
podman run --rm --network host "$runtime_image:$runtime_version" /bin/true >/dev/null 2>"$work/probe.err" \
    || skip "podman cannot run a container here: $(tail -n 1 "$work/probe.err")"

# --- 2. Build ---------------------------------------------------------------------------------------------------------
# The build stage is tagged too, so that the images an earlier run left behind can be removed once replaced: podman's
# layer cache stays (restore is redone only when a project file changes) and the disk holds one set of images.
image=localhost/relay:image-check
build_image=localhost/relay-build:image-check
previous=$(podman image inspect -f '{{.Id}}' "$image" "$build_image" 2>/dev/null || true)
stage=$(date +%s.%N)
echo "podman build --target build -t $build_image ...; podman build -t $image ..."
build_env=()
[ -n "${NUGET_CERT_REVOCATION_MODE:-}" ] && build_env=(--env "NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE")
build() {
    podman build --network host "${build_env[@]}" \
        --build-arg SDK_IMAGE="$sdk_image" --build-arg SDK_TAG="$sdk_version" \
        --build-arg RUNTIME_IMAGE="$runtime_image" --build-arg RUNTIME_TAG="$runtime_version" \
        "$@" . >> "$work/build.log" 2>&1
}
if build --target build -t "$build_image" && build -t "$image"; then
    pass "podman build of the Dockerfile ($(elapsed "$stage") s)"
else
    grep -E "error|Error|ERROR" "$work/build.log" | tail -n 20
    fail "podman build of the Dockerfile ($(elapsed "$stage") s)"
    exit 1
fi
current=$(podman image inspect -f '{{.Id}}' "$image" "$build_image")
for id in $previous; do
    grep -qx "$id" <<< "$current" || podman rmi "$id" >/dev/null 2>&1 || true
done

# --- 3. Run -----------------------------------------------------------------------------------------------------------
stage=$(date +%s.%N)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local port=$1; while ! port_free "$port"; do port=$((port + 1)); done; echo "$port"; }
pg_port=$(free_port 56432)
kafka_port=$(free_port 19092)
diag_port=$(free_port 19464)

# Throwaway PostgreSQL (as the postgres user: the server refuses root).
mkdir -p "$work/pg" && chown postgres "$work/pg"
su postgres -s /bin/sh -c "'$pg_bin/initdb' -D '$work/pg/data' -U postgres --auth=trust -E UTF8 --no-sync" >/dev/null
cat >> "$work/pg/data/postgresql.conf" <<CONF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/pg'
wal_level = logical
fsync = off
CONF
su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$work/pg/data' -l '$work/pg/log' -w start" >/dev/null
psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql -c "CREATE TABLE public.outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text NOT NULL,
         aggregateid text NOT NULL, type text NOT NULL, payload jsonb, created_at timestamptz NOT NULL DEFAULT now())"

# The dev broker, as the quickstart starts it; it prints every message of the outbox topics it sees.
if [ ! -f tools/Relay.DevBroker/bin/Release/net10.0/Relay.DevBroker.dll ]; then
    dotnet build tools/Relay.DevBroker -c Release -nologo -clp:ErrorsOnly -v quiet >/dev/null
fi
dotnet tools/Relay.DevBroker/bin/Release/net10.0/Relay.DevBroker.dll --port "$kafka_port" --print '^outbox\.' \
    > "$work/kafka.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do grep -q "ready" "$work/kafka.log" && break; sleep 0.1; done

# The sample configuration with this run's addresses, mounted read-only where the image expects it.
python3 - "$work/relay.json" "$pg_port" "$kafka_port" "$diag_port" <<'PY'
import json, sys
path, pg, kafka, diag = sys.argv[1:]
config = json.load(open("appsettings.json"))
config["Relay"]["Postgres"]["ConnectionString"] = f"Host=127.0.0.1;Port={pg};Username=postgres;Database=postgres"
config["Relay"]["Kafka"]["BootstrapServers"] = f"127.0.0.1:{kafka}"
config["Relay"]["Diagnostics"]["Address"] = "127.0.0.1"
config["Relay"]["Diagnostics"]["Port"] = int(diag)
json.dump(config, open(path, "w"), indent=2)
PY
chmod 644 "$work/relay.json"
echo "podman run -d --network host --read-only --tmpfs /tmp -v $work/relay.json:/etc/relay/relay.json:ro $image"
podman run -d --name "$name" --network host --read-only --tmpfs /tmp \
    -v "$work/relay.json:/etc/relay/relay.json:ro" "$image" >/dev/null

# Non-root: the container's main process (Relay itself, PID 1 inside) as the host sees it.
pid=$(podman inspect -f '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
command=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | sed 's/ $//' || true)
if [ "$uid" = 1654 ]; then pass "the container's process ($command) runs as UID $uid (app), not root"
else fail "the container's process ($command) runs as UID $uid, expected 1654"; fi

ready=
for _ in $(seq 1 600); do
    ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$diag_port/readyz" || true)
    [ "$ready" = 200 ] && break
    [ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
    sleep 0.1
done
if [ "$ready" = 200 ]; then pass "/readyz answers 200 ($(elapsed "$stage") s after the container started)"
else fail "/readyz answers ${ready:-nothing}, expected 200"; podman logs "$name" 2>&1 | tail -n 20; fi
live=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$diag_port/healthz" || true)
if [ "$live" = 200 ]; then pass "/healthz answers 200"; else fail "/healthz answers ${live:-nothing}, expected 200"; fi

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
sent=$(date +%s.%N)
for _ in $(seq 1 300); do [ "$(grep -c '^outbox\.' "$work/kafka.log")" -ge 4 ] && break; sleep 0.1; done
arrived=$(grep -c '^outbox\.' "$work/kafka.log" || true)
if [ "$arrived" -eq 4 ]; then pass "4 outbox rows inserted, 4 messages arrived in Kafka ($(elapsed "$sent") s)"
else fail "4 outbox rows inserted, $arrived message(s) arrived in Kafka"; cat "$work/kafka.log"; fi

# SIGTERM, as Kubernetes stops a pod: Relay drains, confirms and exits 0, well before a grace period.
stopping=$(date +%s.%N)
podman kill -s TERM "$name" >/dev/null
code=$(timeout 60 podman wait "$name" || echo "none (still running after 60 s)")
stop_time=$(elapsed "$stopping")
if [ "$code" = 0 ] && awk -v t="$stop_time" 'BEGIN { exit !(t < 5) }'; then
    pass "SIGTERM -> exit code $code in $stop_time s (limit 5 s)"
else
    fail "SIGTERM -> exit code $code in $stop_time s (expected 0 within 5 s)"
fi
podman logs "$name" > "$work/relay.log" 2>&1 || true
if grep -q "Stopped; confirmed up to" "$work/relay.log"; then pass "Relay logged its clean stop (Stopped; confirmed up to ...)"
else fail "no 'Stopped; confirmed up to' in the container's log"; tail -n 20 "$work/relay.log"; fi

echo "Image check took $(elapsed "$t0") s"
exit "$failed"
