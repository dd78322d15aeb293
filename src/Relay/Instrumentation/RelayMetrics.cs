using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Relay.Core;

namespace Relay.Instrumentation;

/// <summary>
/// Relay's instruments, on a <see cref="Meter"/> from the host's <see cref="IMeterFactory"/> (the .NET convention, as
/// Npgsql's and SqlClient's): base units, bounded tags (table, kind, role at most). <c>/metrics</c> exports them under
/// the names written here (the exporter adds <c>_total</c> to counters).
/// </summary>
public sealed class RelayMetrics
{
    public const string MeterName = "Relay";

    static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    /// <summary>Kinds of <c>relay_publish_errors_total</c>, each exported from 0 so a first error shows as an increase.</summary>
    public static readonly string[] PublishErrorKinds = ["delivery", "fatal", "unpublishable_row", "client"];

    readonly Counter<long> _rowsReceived;
    readonly Counter<long> _messagesPublished;
    readonly Counter<long> _messagesDeadLettered;
    readonly Counter<long> _publishErrors;
    readonly Counter<long> _sourceReconnects;
    readonly Histogram<double> _commitToAck;
    readonly Histogram<double> _receiveToAck;
    readonly System.Collections.Concurrent.ConcurrentDictionary<OutboxTableMapping, TableMetrics> _tables = new();
    int _sourceConnected;
    int _role;   // 0 none, 1 active, 2 standby
    double _confirmedPosition = double.NaN;

    public RelayMetrics(IMeterFactory meters)
    {
        Meter = meters.Create(MeterName);
        _rowsReceived = Meter.CreateCounter<long>("relay_rows_received", description: "Outbox rows read from the source.");
        _messagesPublished = Meter.CreateCounter<long>("relay_messages_published", description: "Messages Kafka acknowledged.");
        _messagesDeadLettered = Meter.CreateCounter<long>("relay_messages_dead_lettered", description: "Rows sent to their table's dead-letter topic.");
        _publishErrors = Meter.CreateCounter<long>("relay_publish_errors",
            description: "Publishing problems by kind: delivery (a message Kafka did not take), fatal (producer fatal error), unpublishable_row (stop policy), client (librdkafka error, retried).");
        _sourceReconnects = Meter.CreateCounter<long>("relay_source_reconnects",
            description: "Runs that failed and were started again from the last confirmed position (after a backoff).");
        _commitToAck = Meter.CreateHistogram("relay_commit_to_ack_seconds", unit: "s",
            description: "From the source transaction's commit to Kafka's acknowledgement of its message.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _receiveToAck = Meter.CreateHistogram("relay_receive_to_ack_seconds", unit: "s",
            description: "From Relay reading a row to Kafka's acknowledgement of its message: the part of commit-to-ack spent in Relay and Kafka.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        Meter.CreateObservableGauge("relay_source_connected", () => Volatile.Read(ref _sourceConnected),
            description: "1 while a replication session with the source is open.");
        Meter.CreateObservableGauge("relay_confirmed_position", ObserveConfirmedPosition,
            description: "Newest source position confirmed to the source (PostgreSQL: LSN as a number).");
        Meter.CreateObservableGauge("relay_role", ObserveRole,
            description: "1 for the relay's current role: active (streaming) or standby.");
        Meter.CreateObservableGauge("relay_build_info", ObserveBuild,
            description: "Always 1: the running Relay's version, .NET runtime and librdkafka version as labels.");
    }

    /// <summary>
    /// Exports the error and reconnect counters, and each table's, from 0 (an exporter sees only what is recorded while
    /// it listens, so it calls this once it does): an alert on <c>increase(…)</c> then sees the first error or dead letter.
    /// </summary>
    public void ExportCountersFromZero(IEnumerable<OutboxTableMapping> tables)
    {
        foreach (var table in tables)
            _ = For(table);
        foreach (var kind in PublishErrorKinds)
            _publishErrors.Add(0, new KeyValuePair<string, object?>("kind", kind));
        _sourceReconnects.Add(0);
    }

    public Meter Meter { get; }

    /// <summary>The per-table counters, tagged once per table rather than per message.</summary>
    public TableMetrics For(OutboxTableMapping table) => _tables.GetOrAdd(table, t => new TableMetrics(t.QualifiedName, _rowsReceived, _messagesPublished, _messagesDeadLettered));

    public void PublishError(string kind) => _publishErrors.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void SourceReconnecting() => _sourceReconnects.Add(1);

    public void Acknowledged(TimeSpan sinceCommit, TimeSpan sinceReceived)
    {
        _commitToAck.Record(Math.Max(0, sinceCommit.TotalSeconds));
        _receiveToAck.Record(Math.Max(0, sinceReceived.TotalSeconds));
    }

    public void SetSourceConnected(bool connected) => Volatile.Write(ref _sourceConnected, connected ? 1 : 0);

    public void SetConfirmedPosition(UInt128 position) => Volatile.Write(ref _confirmedPosition, (double)position);

    public void SetRole(bool active, bool standby) => Volatile.Write(ref _role, active ? 1 : standby ? 2 : 0);

    IEnumerable<Measurement<double>> ObserveConfirmedPosition() =>
        Volatile.Read(ref _confirmedPosition) is var position && !double.IsNaN(position) ? [new(position)] : [];

    IEnumerable<Measurement<int>> ObserveRole()
    {
        var role = Volatile.Read(ref _role);
        return [new(role == 1 ? 1 : 0, new KeyValuePair<string, object?>("role", "active")),
            new(role == 2 ? 1 : 0, new KeyValuePair<string, object?>("role", "standby"))];
    }

    static readonly KeyValuePair<string, object?>[] BuildLabels =
    [
        new("version", typeof(RelayMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown"),
        new("dotnet", Environment.Version.ToString()),
        new("librdkafka", Confluent.Kafka.Library.VersionString),
    ];

    static Measurement<int> ObserveBuild() => new(1, BuildLabels);
}
