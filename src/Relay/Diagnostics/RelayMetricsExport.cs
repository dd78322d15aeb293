using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using Relay.Instrumentation;
using Relay.Pipeline;

namespace Relay.Diagnostics;

/// <summary>
/// Fills what <c>/metrics</c> shows at each scrape: the current run's snapshot (in flight, lag, received position), and
/// the gauges a source defines on its own <see cref="Meter"/> (e.g. PostgreSQL's <c>relay_replication_slot_lag_bytes</c>),
/// so source-specific metrics stay in their source's project.
/// </summary>
sealed class RelayMetricsExport : IDisposable
{
    readonly RelayMetrics _metrics = new();
    readonly RelayStatus _status;
    readonly MeterListener _listener = new();
    readonly ConcurrentDictionary<Instrument, Gauge> _sourceGauges = new();

    RelayMetricsExport(RelayStatus status, IMeterFactory meters)
    {
        _status = status;
        var factory = Prometheus.Metrics.WithCustomRegistry(_metrics.Registry);
        // Only this host's meters (tests run several hosts in one process): those made by its own meter factory.
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Meter.Name.StartsWith("Relay.", StringComparison.Ordinal)
                && instrument is ObservableGauge<long> or ObservableGauge<double>)
            {
                _sourceGauges[instrument] = factory.CreateGauge(instrument.Name, instrument.Description ?? instrument.Name);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _sourceGauges[instrument].Set(value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => _sourceGauges[instrument].Set(value));
        _listener.Start();
        _metrics.Registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>The host's <see cref="RelayMetrics"/>, exported as described above.</summary>
    public static RelayMetrics Create(IServiceProvider services) =>
        services.GetRequiredService<RelayMetricsExport>()._metrics;

    public static void Register(IServiceCollection services)
    {
        services.AddSingleton(provider => new RelayMetricsExport(provider.GetRequiredService<RelayStatus>(), provider.GetRequiredService<IMeterFactory>()));
        services.AddSingleton(Create);
    }

    void Collect()
    {
        if (_status.CurrentRun is { } run)
        {
            _metrics.InFlightMessages.Set(run.InFlightMessages);
            _metrics.InFlightBytes.Set(run.InFlightBytes);
            _metrics.SecondsSinceLastConfirmable.Set(run.SinceLastConfirmable.TotalSeconds);
            _metrics.ReceivedPosition.Set((double)run.Received.Commit);
            _metrics.SourceLagSeconds.Set(run.BehindSource.TotalSeconds);
        }
        _listener.RecordObservableInstruments();
    }

    public void Dispose() => _listener.Dispose();
}
