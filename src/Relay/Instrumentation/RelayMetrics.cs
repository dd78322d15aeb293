using Prometheus;
using Relay.Core;

namespace Relay.Instrumentation;

/// <summary>
/// Relay's Prometheus metrics, in base units with bounded labels (table at most). One registry per host, so several
/// hosts in one process (tests) do not mix their numbers; process and .NET runtime metrics are registered with it.
/// </summary>
public sealed class RelayMetrics
{
    public RelayMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);

        RowsReceived = factory.CreateCounter("relay_rows_received_total", "Outbox rows read from the source.", "table");
        MessagesPublished = factory.CreateCounter("relay_messages_published_total", "Messages Kafka acknowledged.", "table");
        MessagesDeadLettered = factory.CreateCounter("relay_messages_dead_lettered_total", "Rows sent to their table's dead-letter topic.", "table");
        PublishErrors = factory.CreateCounter("relay_publish_errors_total",
            "Publishing problems by kind: delivery (a message Kafka did not take), fatal (producer fatal error), unpublishable_row (stop policy), client (librdkafka error, retried).", "kind");
        CommitToAck = factory.CreateHistogram("relay_commit_to_ack_seconds", "From the source transaction's commit to Kafka's acknowledgement of its message.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        ReceiveToAck = factory.CreateHistogram("relay_receive_to_ack_seconds",
            "From Relay reading a row to Kafka's acknowledgement of its message: the part of commit-to-ack spent in Relay and Kafka.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        InFlightMessages = factory.CreateGauge("relay_in_flight_messages", "Messages produced and not yet acknowledged.");
        InFlightBytes = factory.CreateGauge("relay_in_flight_bytes", "Key and value bytes produced and not yet acknowledged.");
        SecondsSinceLastConfirmable = factory.CreateGauge("relay_seconds_since_last_acknowledged_commit",
            "Seconds since a source position last became fully acknowledged (grows while Kafka stalls).");
        SourceLagSeconds = factory.CreateGauge("relay_source_lag_seconds",
            "Seconds the confirmed position is behind the source: the age of the oldest transaction received and not yet confirmed (0 when caught up).");
        ReceivedPosition = factory.CreateGauge("relay_received_position", "Newest source position received (PostgreSQL: LSN as a number).");
        ConfirmedPosition = factory.CreateGauge("relay_confirmed_position", "Newest source position confirmed to the source (PostgreSQL: LSN as a number).");
        SourceConnected = factory.CreateGauge("relay_source_connected", "1 while a replication session with the source is open.");
        Role = factory.CreateGauge("relay_role", "1 for the relay's current role: active (streaming) or standby.", "role");
        Role.WithLabels("active").Set(0);
        Role.WithLabels("standby").Set(0);
    }

    public CollectorRegistry Registry { get; }
    public Counter RowsReceived { get; }
    public Counter MessagesPublished { get; }
    public Counter MessagesDeadLettered { get; }
    public Counter PublishErrors { get; }
    public Histogram CommitToAck { get; }
    public Histogram ReceiveToAck { get; }

    static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
    public Gauge InFlightMessages { get; }
    public Gauge InFlightBytes { get; }
    public Gauge SecondsSinceLastConfirmable { get; }
    public Gauge SourceLagSeconds { get; }
    public Gauge ReceivedPosition { get; }
    public Gauge ConfirmedPosition { get; }
    public Gauge SourceConnected { get; }
    public Gauge Role { get; }

    readonly System.Collections.Concurrent.ConcurrentDictionary<OutboxTableMapping, TableMetrics> _tables = new();

    /// <summary>The per-table children, looked up once per table rather than per message.</summary>
    public TableMetrics For(OutboxTableMapping table) => _tables.GetOrAdd(table, t => new TableMetrics(
        RowsReceived.WithLabels(t.QualifiedName), MessagesPublished.WithLabels(t.QualifiedName), MessagesDeadLettered.WithLabels(t.QualifiedName)));

    public void SetRole(bool active, bool standby)
    {
        Role.WithLabels("active").Set(active ? 1 : 0);
        Role.WithLabels("standby").Set(standby ? 1 : 0);
    }
}

public sealed record TableMetrics(Counter.Child RowsReceived, Counter.Child Published, Counter.Child DeadLettered);
