# Relay container image.
#   docker build -t relay .
#   docker build --build-arg SDK_IMAGE=mirror.example/dotnet/sdk --build-arg RUNTIME_IMAGE=mirror.example/dotnet/runtime-deps -t relay .
#   docker build --build-arg NATIVE_AOT=false -t relay .   # the JIT build (self-contained, ReadyToRun), e.g. for SQL Server
# Relay is compiled ahead of time (Native AOT): one native executable with no JIT, so the runtime image is .NET's
# runtime-deps (no .NET runtime needed). Confluent.Kafka's native librdkafka sits next to it and loads there as it does on
# glibc hosts (a chiseled image lacks the libraries its fallback build needs). Native AOT compiles for the platform it
# builds on: build ARM images on an ARM builder (.NET does not support running under QEMU emulation).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk
ARG SDK_TAG=10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps
ARG RUNTIME_TAG=10.0
# false: the self-contained JIT build (ReadyToRun), the same /app/Relay entry point. Microsoft.Data.SqlClient does not
# support Native AOT upstream, and this project's CI has no SQL Server: the SQL Server source is tested in the JIT build.
ARG NATIVE_AOT=true

FROM ${SDK_IMAGE}:${SDK_TAG} AS build
ARG NATIVE_AOT
# Native AOT links with clang (or gcc); .NET's SDK images have neither.
RUN if ! command -v clang >/dev/null && ! command -v gcc >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
# Restore first, from the project files only, so the layer is reused while only code changes. The runtime id is the
# build platform's (Native AOT compiles for the platform it runs on).
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Directory.Build.props src/
COPY src/Relay/Relay.csproj src/Relay/
COPY src/Relay.Core/Relay.Core.csproj src/Relay.Core/
COPY src/Relay.Postgres/Relay.Postgres.csproj src/Relay.Postgres/
COPY src/Relay.SqlServer/Relay.SqlServer.csproj src/Relay.SqlServer/
RUN dotnet restore src/Relay/Relay.csproj --use-current-runtime -p:PublishAot=${NATIVE_AOT} -p:PublishReadyToRun=true -p:SelfContained=true
COPY src/ src/
# The debug symbols (Relay.dbg) stay in this stage: `docker build --target build` keeps them for reading a crash.
RUN dotnet publish src/Relay/Relay.csproj -c Release --no-restore --use-current-runtime -o /publish \
        -p:PublishAot=${NATIVE_AOT} -p:PublishReadyToRun=true --self-contained \
    && mkdir /app && cp -r /publish/. /app/ && rm -f /app/*.pdb /app/*.xml /app/*.dbg

FROM ${RUNTIME_IMAGE}:${RUNTIME_TAG} AS runtime
WORKDIR /app
COPY --from=build /app ./
# The sample configuration; mount your own over it (the Helm chart mounts a ConfigMap here).
COPY appsettings.json /etc/relay/relay.json
# MALLOC_ARENA_MAX: two glibc malloc arenas instead of one per thread; librdkafka allocates messages on one thread and
# frees them on others, and per-thread arenas keep that memory (measured: steady RSS -20 MiB).
ENV RELAY_CONFIG=/etc/relay/relay.json \
    DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_gcServer=0 \
    MALLOC_ARENA_MAX=2
# Metrics and health endpoints (/metrics, /healthz, /readyz).
EXPOSE 9464
# Non-root (the image's 'app' user, UID 1654). Nothing is written to the root filesystem (readOnlyRootFilesystem works;
# the JIT build also wants an emptyDir at /tmp for .NET's diagnostics socket).
USER $APP_UID
# Exec form: Relay is PID 1 and receives SIGTERM itself, drains, confirms and exits 0.
ENTRYPOINT ["/app/Relay"]
