# Relay container image.
#   docker build -t relay .
#   docker build --build-arg SDK_IMAGE=mirror.example/dotnet/sdk --build-arg RUNTIME_IMAGE=mirror.example/dotnet/runtime -t relay .
# The runtime image is .NET's runtime on Debian (Relay needs no ASP.NET Core): Confluent.Kafka's native librdkafka
# loads there as it does on Debian 12 hosts (a chiseled image lacks the libraries its fallback build needs).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk
ARG SDK_TAG=10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime
ARG RUNTIME_TAG=10.0
# linux-arm64 for ARM nodes.
ARG RUNTIME_ID=linux-x64

FROM ${SDK_IMAGE}:${SDK_TAG} AS build
ARG RUNTIME_ID
WORKDIR /src
# Restore first, from the project files only, so the layer is reused while only code changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Relay/Relay.csproj src/Relay/
COPY src/Relay.Core/Relay.Core.csproj src/Relay.Core/
COPY src/Relay.Postgres/Relay.Postgres.csproj src/Relay.Postgres/
COPY src/Relay.SqlServer/Relay.SqlServer.csproj src/Relay.SqlServer/
# Restore with the publish step's properties: ReadyToRun needs its compiler package (Crossgen2) for the runtime id, and
# a restore without PublishReadyToRun=true leaves it out, so the --no-restore publish fails with NETSDK1094.
RUN dotnet restore src/Relay/Relay.csproj -r ${RUNTIME_ID} -p:PublishReadyToRun=true -p:SelfContained=false
COPY src/ src/
# ReadyToRun: precompiled code starts streaming sooner and spends less CPU in the JIT (see README "Performance").
RUN dotnet publish src/Relay/Relay.csproj -c Release --no-restore -r ${RUNTIME_ID} --self-contained false \
    -p:PublishReadyToRun=true -o /app /p:UseAppHost=false

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
# Non-root (the image's 'app' user, UID 1654). Nothing is written to the root filesystem; with readOnlyRootFilesystem,
# mount an emptyDir at /tmp for .NET's diagnostics socket.
USER $APP_UID
# Exec form: Relay is PID 1 and receives SIGTERM itself, drains, confirms and exits 0.
ENTRYPOINT ["dotnet", "/app/Relay.dll"]
