using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Relay.Options;
using Relay.Pipeline;

namespace Relay.Diagnostics;

/// <summary>
/// Liveness (<c>/healthz</c>): the process and its loops run. A broker or database outage does not fail it — the loops
/// keep ticking while they wait or reconnect — so Kubernetes does not restart a relay for someone else's outage.
/// </summary>
sealed class LivenessCheck(RelayStatus status, IOptions<DiagnosticsOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(status.State == RelayState.Failed
            ? HealthCheckResult.Unhealthy($"failed: {status.FatalError}")
            : status.SinceLastTick > options.Value.LivenessTimeout
                ? HealthCheckResult.Unhealthy($"the relay's loops have not run for {status.SinceLastTick:g}")
                : HealthCheckResult.Healthy(status.State.ToString()));
}

/// <summary>
/// Readiness (<c>/readyz</c>): streaming, or a healthy standby waiting to take over the slot. Both are where the relay
/// should be; starting, reconnecting and stopping are not.
/// </summary>
sealed class ReadinessCheck(RelayStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(status.State is RelayState.Streaming or RelayState.Standby
            ? HealthCheckResult.Healthy(status.State.ToString())
            : HealthCheckResult.Unhealthy(status.State.ToString()));
}
