using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Relay.Instrumentation;

namespace Relay.Kafka;

/// <summary>
/// The few librdkafka statistics an operator needs (<c>statistics.interval.ms</c>, 15 s by default), as metrics: the
/// producer's queue, broker round trips and request errors, and the messages and produce requests sent (their ratio is
/// the batching a broker's CPU pays for). Counters restart with each producer, which Prometheus reads as a reset.
/// </summary>
public sealed class KafkaStatistics
{
    Snapshot? _latest;
    long _latestAt;

    /// <summary>
    /// After this long without a new document (the producer is gone: a standby, a reconnect) the figures are no longer
    /// shown rather than shown stale; the producer factory sets it from <c>statistics.interval.ms</c>.
    /// </summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(45);

    readonly ILogger _logger;
    int _busyWaitIntervals;
    bool _busyWaitReported;

    /// <summary>The producer's <c>linger.ms</c>, to tell when librdkafka busy-waits; the producer factory sets it.</summary>
    public double LingerMs { get; set; } = 5;

    public KafkaStatistics(RelayMetrics metrics, ILogger<KafkaStatistics> logger)
    {
        _logger = logger;
        var meter = metrics.Meter;
        meter.CreateObservableGauge("relay_kafka_queued_messages", () => Observe<long>(s => [new(s.QueuedMessages)]),
            description: "Messages in librdkafka's queues: waiting for a batch or sent and not yet acknowledged.");
        meter.CreateObservableCounter("relay_kafka_messages_sent", () => Observe<long>(s => [new(s.MessagesSent)]),
            description: "Messages librdkafka sent to brokers (retries included).");
        meter.CreateObservableCounter("relay_kafka_produce_requests", () => Observe(s => PerBroker(s, b => b.ProduceRequests)),
            description: "Produce requests sent, by broker: messages sent / produce requests is the batch size.");
        meter.CreateObservableCounter("relay_kafka_request_errors", () => Observe(s => PerBroker(s, b => b.RequestErrors)),
            description: "Transmit errors, receive errors and request timeouts, by broker.");
        meter.CreateObservableGauge("relay_kafka_broker_rtt_seconds", () => Observe(s => PerBroker(s, b => b.RoundTripSeconds)), unit: "s",
            description: "Average round trip of requests to the broker over the last statistics interval.");
    }

    /// <summary>Takes a statistics document from librdkafka's statistics callback.</summary>
    public void Update(string json)
    {
        try
        {
            var snapshot = Parse(json);
            ReportBusyWait(Volatile.Read(ref _latest), snapshot);
            Volatile.Write(ref _latest, snapshot);
            Volatile.Write(ref _latestAt, Environment.TickCount64);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // A document this code cannot read (a future librdkafka's) leaves the figures as they were: they are
            // statistics, not the relay's work.
        }
    }

    /// <summary>
    /// The idempotent producer sends a partition's next request only when fewer than 5 of its messages are in flight,
    /// and while a batch older than <c>linger.ms</c> waits for that, librdkafka's broker thread polls without sleeping
    /// (measured: up to a core per broker). Batches of 5 or more messages with round trips longer than the linger are
    /// that state. Said once, when two intervals in a row show it (one slow interval, a leader election say, is not a
    /// setting to change), with the linger that covers nine round trips in ten.
    /// </summary>
    void ReportBusyWait(Snapshot? previous, Snapshot current)
    {
        if (_busyWaitReported)
            return;
        if (previous is null || previous.Client != current.Client)
        {
            _busyWaitIntervals = 0;   // a first document, or a new producer whose counters started again
            return;
        }
        var messages = current.MessagesSent - previous.MessagesSent;
        var requests = current.Brokers.Sum(b => b.ProduceRequests) - previous.Brokers.Sum(b => b.ProduceRequests);
        var slowest = current.Brokers.MaxBy(b => b.RoundTripSeconds);
        var busy = messages > 0 && requests > 0 && slowest is not null
                   && (double)messages / requests >= IdempotentInFlightLimit && slowest.RoundTripSeconds * 1000 > LingerMs;
        _busyWaitIntervals = busy ? _busyWaitIntervals + 1 : 0;
        if (_busyWaitIntervals < 2)
            return;
        _busyWaitReported = true;
        var roundTripMs = slowest!.RoundTripSeconds * 1000;
        Log.LingerBelowRoundTrip(_logger, slowest.Name, Math.Round(roundTripMs, 1), LingerMs, Math.Round((double)messages / requests, 1),
            Math.Ceiling(Math.Max(roundTripMs, slowest.RoundTripP90Seconds * 1000)));
    }

    /// <summary>librdkafka's RD_KAFKA_IDEMP_MAX_INFLIGHT, which it compares with a partition's messages in flight.</summary>
    const int IdempotentInFlightLimit = 5;

    internal static Snapshot Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var brokers = new List<BrokerFigures>();
        if (root.TryGetProperty("brokers", out var all))
        {
            foreach (var broker in all.EnumerateObject())
            {
                // Bootstrap and internal brokers (node id -1) are connections, not brokers: their figures would repeat.
                if (Long(broker.Value, "nodeid") < 0)
                    continue;
                var requests = broker.Value.TryGetProperty("req", out var byType) ? Long(byType, "Produce") : 0;
                var errors = Long(broker.Value, "txerrs") + Long(broker.Value, "rxerrs") + Long(broker.Value, "req_timeouts");
                var (rtt, rttP90) = broker.Value.TryGetProperty("rtt", out var window) ? (Long(window, "avg") / 1e6, Long(window, "p90") / 1e6) : (0, 0);
                brokers.Add(new BrokerFigures(broker.Name, requests, errors, rtt, rttP90));
            }
        }
        return new Snapshot(root.TryGetProperty("name", out var name) ? name.GetString() : null, Long(root, "msg_cnt"), Long(root, "txmsgs"), brokers);
    }

    static long Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;

    IEnumerable<Measurement<T>> Observe<T>(Func<Snapshot, IEnumerable<Measurement<T>>> figures) where T : struct =>
        Volatile.Read(ref _latest) is { } snapshot && Environment.TickCount64 - Volatile.Read(ref _latestAt) < StaleAfter.TotalMilliseconds
            ? figures(snapshot)
            : [];

    static IEnumerable<Measurement<T>> PerBroker<T>(Snapshot snapshot, Func<BrokerFigures, T> figure) where T : struct =>
        snapshot.Brokers.Select(b => new Measurement<T>(figure(b), new KeyValuePair<string, object?>("broker", b.Name)));

    /// <summary>One statistics document. <c>Client</c> is librdkafka's name for the producer instance: a new producer has a new one.</summary>
    internal sealed record Snapshot(string? Client, long QueuedMessages, long MessagesSent, IReadOnlyList<BrokerFigures> Brokers);

    internal sealed record BrokerFigures(string Name, long ProduceRequests, long RequestErrors, double RoundTripSeconds,
        double RoundTripP90Seconds);
}
