namespace Relay.IntegrationTests.Fixtures;

/// <summary>A relay configuration for a test, as configuration keys (in-process) or environment variables (process).</summary>
public sealed class RelaySettings : Dictionary<string, string?>
{
    public static RelaySettings For(TestDatabase database, KafkaFixture kafka) => new()
    {
        ["Relay:Postgres:ConnectionString"] = database.ConnectionString,
        ["Relay:Postgres:SlotName"] = database.SlotName,
        ["Relay:Postgres:PublicationName"] = database.PublicationName,
        ["Relay:Kafka:BootstrapServers"] = kafka.BootstrapServers,
        ["Relay:Pipeline:ConfirmInterval"] = "00:00:00.200",
        ["Relay:Pipeline:RestartDelay"] = "00:00:00.500",
        ["Relay:Pipeline:MaxRestartDelay"] = "00:00:02",
    };

    /// <summary>Adds outbox table <paramref name="index"/> with the given options (others keep Debezium's defaults).</summary>
    public RelaySettings Table(int index, string table, params (string Option, string Value)[] options)
    {
        this[$"Relay:Outbox:Tables:{index}:Table"] = table;
        foreach (var (option, value) in options)
            this[$"Relay:Outbox:Tables:{index}:{option}"] = value;
        return this;
    }

    public RelaySettings Merge(RelaySettings other)
    {
        foreach (var (key, value) in other)
            this[key] = value;
        foreach (var (key, value) in other.Environment)
            Environment[key] = value;
        return this;
    }

    public RelaySettings With(string key, string? value)
    {
        this[key] = value;
        return this;
    }

    /// <summary>Further environment variables for a relay process (e.g. RELAY_SECRETS_DIR).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public Dictionary<string, string> ToEnvironment() =>
        this.Where(p => p.Value is not null).Select(p => (Key: p.Key.Replace(":", "__"), Value: p.Value!))
            .Concat(Environment.Select(p => (p.Key, p.Value)))
            .ToDictionary(p => p.Key, p => p.Value);
}
