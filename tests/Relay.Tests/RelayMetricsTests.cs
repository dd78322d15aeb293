using System.Diagnostics.Metrics;
using Relay.Testing;

namespace Relay.Tests;

public class RelayMetricsTests
{
    [Fact]
    public async Task a_reconnect_before_metrics_listen_is_counted_once_they_do()
    {
        var metrics = TestMetrics.Create();
        metrics.SourceReconnecting();   // the first run failed while /metrics was still being built

        using var listener = new MeterListener();
        long reconnects = 0;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter && instrument.Name == "relay_source_reconnects")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref reconnects, value));
        listener.Start();
        Assert.Equal(0, Interlocked.Read(ref reconnects));

        metrics.SetExportReady();
        Assert.True(await Eventually.WaitUntilAsync(() => Interlocked.Read(ref reconnects) == 1, TimeSpan.FromSeconds(5)),
            $"{Interlocked.Read(ref reconnects)} reconnects counted");
        metrics.SourceReconnecting();
        Assert.Equal(2, Interlocked.Read(ref reconnects));
    }
}
