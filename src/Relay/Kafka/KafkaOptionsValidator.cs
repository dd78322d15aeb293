using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Options;

namespace Relay.Kafka;

/// <summary>
/// Validates <c>Relay:Kafka</c> at start: settings Relay refuses because they would lose messages or reorder a key's
/// events, then librdkafka's own verdict on every name and value.
/// </summary>
sealed class KafkaOptionsValidator(IOptions<PipelineOptions> pipeline) : SectionOptionsValidator<KafkaOptions>(KafkaOptions.Section)
{
    protected override IEnumerable<string> Rules(KafkaOptions options)
    {
        string Key(string name) => $"{Section}:Producer:{name}";
        var producer = options.Producer;
        if (string.IsNullOrWhiteSpace(options.BootstrapServers) && !producer.ContainsKey("bootstrap.servers"))
            yield return $"{Section}:BootstrapServers: is required (host:port of at least one broker)";
        if (producer.TryGetValue("enable.idempotence", out var idempotence) && !string.Equals(idempotence, "true", StringComparison.OrdinalIgnoreCase))
            yield return $"{Key("enable.idempotence")}: must be true (Relay relies on the idempotent producer for per-key order); remove the setting";
        if (producer.TryGetValue("acks", out var acks) && acks is not ("all" or "-1"))
            yield return $"{Key("acks")}: must be all (an event is confirmed to the database only when every in-sync replica has it); remove the setting";
        if (producer.TryGetValue("max.in.flight.requests.per.connection", out var inFlight)
            && (!int.TryParse(inFlight, out var n) || n is < 1 or > 5))
            yield return $"{Key("max.in.flight.requests.per.connection")}: must be 1 to 5 with the idempotent producer";
        if (producer.ContainsKey("transactional.id"))
            yield return $"{Key("transactional.id")}: is not supported; Relay publishes at-least-once with event ids for de-duplication";
        foreach (var timeout in new[] { "message.timeout.ms", "delivery.timeout.ms" })
        {
            if (producer.TryGetValue(timeout, out var value) && value.Trim() != "0")
                yield return $"{Key(timeout)}: must be 0 (no timeout; remove the setting): a message that times out lets librdkafka deliver later " +
                             "messages of the same key first, breaking per-key order. Relay waits for the broker instead and reports a stall " +
                             "(log event 1102, relay_seconds_since_last_acknowledged_commit)";
        }
        var window = pipeline.Value.MaxInFlightMessages;
        if (producer.TryGetValue("queue.buffering.max.messages", out var queue) && int.TryParse(queue, out var queued) && queued < window + KafkaProducerFactory.QueueHeadroom)
            yield return $"{Key("queue.buffering.max.messages")}: {queued} is below {PipelineOptions.Section}:MaxInFlightMessages ({window}) + {KafkaProducerFactory.QueueHeadroom}: " +
                         "librdkafka would refuse messages Relay may send; raise it or remove it (Relay sizes it from MaxInFlightMessages)";
        var windowKbytes = pipeline.Value.MaxInFlightBytes / 1024;
        if (producer.TryGetValue("queue.buffering.max.kbytes", out var kbytes) && long.TryParse(kbytes, out var queuedKbytes) && queuedKbytes < windowKbytes)
            yield return $"{Key("queue.buffering.max.kbytes")}: {queuedKbytes} is below {PipelineOptions.Section}:MaxInFlightBytes ({windowKbytes} KiB): " +
                         "raise it or remove it (Relay sizes it from MaxInFlightBytes)";
        if (ProbeSettings(KafkaProducerFactory.BuildProducerConfig(options, pipeline.Value)) is { } problem)
            yield return $"{Section}:Producer: {problem}";
    }

    /// <summary>librdkafka's verdict on the settings: Confluent checks names and values when a client is built.</summary>
    static string? ProbeSettings(ProducerConfig config)
    {
        try
        {
            var probe = new ProducerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).Build();
            // Destroying a client waits for its broker threads (~250 ms): not on the start-up path.
            _ = Task.Run(probe.Dispose);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or KafkaException or InvalidOperationException)
        {
            return e.Message;
        }
    }
}
