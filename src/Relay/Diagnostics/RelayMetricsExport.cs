using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Pipeline;

namespace Relay.Diagnostics;

/// <summary>
/// Exports on <c>/metrics</c> (OpenTelemetry's Prometheus exporter) this host's meters — Relay's own and its source's
/// (e.g. PostgreSQL's <c>relay_replication_slot_lag_bytes</c>) — and .NET's <c>System.Runtime</c> meter; adds the
/// figures read at scrape time from the current run (in flight, lag, received position) and the conventional
/// <c>process_*</c> gauges that alerts on restarts and memory use.
/// </summary>
sealed class RelayMetricsExport
{
    readonly RelayMetrics _metrics;
    readonly RelayStatus _status;
    readonly IMeterFactory _meters;
    readonly TimeProvider _time;
    readonly OutboxMapping _outbox;
    readonly DateTimeOffset _processStart = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    public RelayMetricsExport(RelayMetrics metrics, RelayStatus status, IMeterFactory meters, TimeProvider time, OutboxMapping outbox)
    {
        (_metrics, _status, _meters, _time, _outbox) = (metrics, status, meters, time, outbox);
        var meter = metrics.Meter;
        meter.CreateObservableGauge("relay_in_flight_messages", () => _status.CurrentRun?.InFlightMessages ?? 0,
            description: "Messages produced and not yet acknowledged.");
        meter.CreateObservableGauge("relay_in_flight_bytes", () => _status.CurrentRun?.InFlightBytes ?? 0, unit: "By",
            description: "Key and value bytes produced and not yet acknowledged.");
        meter.CreateObservableGauge("relay_seconds_since_last_acknowledged_commit", () => FromRun(run => run.SinceLastConfirmable.TotalSeconds),
            description: "Seconds since a source position last became fully acknowledged (grows while Kafka stalls). Prefer relay_last_acknowledged_commit_timestamp_seconds.");
        meter.CreateObservableGauge("relay_last_acknowledged_commit_timestamp_seconds", () => FromRun(run => UnixSeconds(_time.GetUtcNow() - run.SinceLastConfirmable)),
            unit: "s", description: "When a source position last became fully acknowledged (Unix time): time() minus it is how long Kafka has acknowledged nothing new.");
        meter.CreateObservableGauge("relay_source_lag_seconds", () => FromRun(run => run.BehindSource.TotalSeconds), unit: "s",
            description: "Seconds the confirmed position is behind the source: the age of the oldest transaction received and not yet confirmed (0 when caught up).");
        meter.CreateObservableGauge("relay_received_position", () => FromRun(run => (double)run.Received.Commit),
            description: "Newest source position received (PostgreSQL: LSN as a number).");

        meter.CreateObservableGauge("process_start_time_seconds", () => UnixSeconds(_processStart), unit: "s",
            description: "Start time of the process since unix epoch in seconds.");
        meter.CreateObservableCounter("process_cpu_seconds", () => Environment.CpuUsage.TotalTime.TotalSeconds, unit: "s",
            description: "Total user and system CPU time spent in seconds.");
        meter.CreateObservableGauge("process_resident_memory_bytes", () => Environment.WorkingSet, unit: "By",
            description: "Resident memory size in bytes.");
    }

    /// <summary>Series per instrument at most; beyond it OpenTelemetry folds measurements into one overflow series.</summary>
    const int CardinalityLimit = 200;

    /// <summary>Serves <c>/metrics</c> under <paramref name="prefix"/> (e.g. <c>http://+:9464/</c>) until disposed.</summary>
    public IDisposable Listen(string prefix, int port)
    {
        var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(RelayMetrics.MeterName, RelayMetrics.MeterName + ".*", "System.Runtime")
            // Only this host's meters (tests run several hosts in one process): those made by its own meter factory. Relay's
            // tags are few (tables, brokers, kinds): a small limit keeps the exporter from reserving 2,000 points per
            // instrument (measured: 7–12 MiB of RSS).
            .AddView(instrument => instrument.Meter.Scope is null || instrument.Meter.Scope == _meters
                ? new MetricStreamConfiguration { CardinalityLimit = CardinalityLimit }
                : MetricStreamConfiguration.Drop)
            .AddPrometheusHttpListener(options =>
            {
                options.Host = "localhost";   // replaced below: the exporter cannot express "every interface"
                options.Port = port;
                options.ScrapeEndpointPath = "/metrics";
                options.ScopeInfoEnabled = false;
                options.TargetInfoEnabled = false;
                options.ScrapeResponseCacheDurationMilliseconds = 0;
                options.ConfigureHttpListener = (_, listener) =>
                {
                    listener.Prefixes.Clear();
                    listener.Prefixes.Add(prefix + "metrics/");
                };
            })
            .Build();
        _metrics.ExportCountersFromZero(_outbox.Tables);
        return provider;
    }

    IEnumerable<Measurement<double>> FromRun(Func<IRunSnapshot, double> figure) =>
        _status.CurrentRun is { } run ? [new(figure(run))] : [];

    static double UnixSeconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds() / 1000.0;
}
