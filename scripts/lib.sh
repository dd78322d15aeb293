# Shared by the scripts in this folder: find or install what Relay's local runs need.

# Runs a command as root when we are not (apt needs it).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: '$*' needs root; run it yourself or install sudo" >&2; return 1; fi
}

# Prints the newest PostgreSQL server bin directory, installing Debian's server package when none is there.
ensure_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        if ! command -v apt-get >/dev/null; then
            echo "error: no PostgreSQL server found and apt-get is not available; install PostgreSQL 12-17 server binaries" >&2
            return 1
        fi
        echo "Installing PostgreSQL from the distribution's packages..." >&2
        as_root apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$bin"
}

ensure_dotnet() {
    if ! command -v dotnet >/dev/null; then
        echo "error: the .NET 10 SDK is needed (https://dot.net); 'dotnet' is not on PATH" >&2
        return 1
    fi
}

# Native AOT links with a C toolchain (clang, or gcc with binutils): installs Debian's clang when neither is there.
ensure_aot_toolchain() {
    if command -v clang >/dev/null || { command -v gcc >/dev/null && command -v objcopy >/dev/null; }; then
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        echo "error: Native AOT needs clang (or gcc and binutils) to link; install one, or set RELAY_EXECUTABLE" >&2
        return 1
    fi
    echo "Installing clang for Native AOT..." >&2
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends clang llvm zlib1g-dev >&2
}

# Publishes Relay as the container image ships it (Native AOT, see Dockerfile) into DIR; prints the executable's path.
publish_relay() {
    local dir=$1
    ensure_aot_toolchain
    dotnet publish src/Relay/Relay.csproj -c Release -o "$dir" -nologo -clp:ErrorsOnly -v quiet >&2
    echo "$(cd "$dir" && pwd)/Relay"
}
