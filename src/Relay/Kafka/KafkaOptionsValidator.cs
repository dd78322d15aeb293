using Confluent.Kafka;
using Relay.Core;
using Relay.Options;

namespace Relay.Kafka;

/// <summary>
/// Validates <c>Relay:Kafka</c> at start: settings Relay refuses because they would lose messages or reorder a key's
/// events, then librdkafka's own verdict on every name and value.
/// </summary>
sealed class KafkaOptionsValidator() : SectionOptionsValidator<KafkaOptions>(KafkaOptions.Section)
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
        if (ProbeSettings(KafkaProducerFactory.BuildConfig(options)) is { } problem)
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
