using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Options;

namespace Relay.Diagnostics;

/// <summary>Samples how much log the database retains for Relay, on its own connection, for the lag gauge.</summary>
sealed class SlotLagSampler(IOutboxSource source, RelayMetrics metrics, IOptions<DiagnosticsOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LagSampleInterval);
        try
        {
            do
            {
                if (await source.GetRetainedBytesAsync(stoppingToken) is { } bytes)
                    metrics.SlotLagBytes.Set(bytes);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
