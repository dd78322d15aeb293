namespace Relay.Options;

/// <summary>The Kafka producer (configuration section <c>Relay:Kafka</c>).</summary>
public sealed class KafkaOptions
{
    public const string Section = "Relay:Kafka";

    /// <summary>Broker list, <c>host:port[,host:port]</c>. Required here or as <c>Producer:bootstrap.servers</c>.</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>
    /// librdkafka producer settings by their own names (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md),
    /// e.g. <c>linger.ms</c>, <c>compression.type</c>, <c>security.protocol</c>, <c>sasl.username</c>. Relay always sets
    /// <c>enable.idempotence=true</c> and <c>acks=all</c>; settings that would break per-key order or durability are refused.
    /// </summary>
    public Dictionary<string, string> Producer { get; set; } = new(StringComparer.Ordinal);
}
