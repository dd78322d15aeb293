using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Kafka;
using Relay.Options;
using Relay.Postgres;

namespace Relay.Tests;

/// <summary>A wrong configuration stops start-up with messages that name the key to fix.</summary>
public class ConfigurationValidationTests
{
    static readonly Dictionary<string, string?> Valid = new()
    {
        ["Relay:Postgres:ConnectionString"] = "Host=localhost;Username=relay;Password=s3cret",
        ["Relay:Kafka:BootstrapServers"] = "localhost:9092",
        ["Relay:Outbox:Tables:0:Table"] = "public.outbox",
    };

    static IReadOnlyList<string> Failures(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>(Valid);
        foreach (var (key, value) in overrides)
            settings[key] = value;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
        services.AddRelay(configuration);
        using var provider = services.BuildServiceProvider();
        return provider.ValidateRelayConfiguration();
    }

    [Fact]
    public void a_valid_configuration_has_no_failures() => Assert.Empty(Failures());

    [Theory]
    [InlineData("Relay:Postgres:ConnectionString", "", "Relay:Postgres:ConnectionString: is required")]
    [InlineData("Relay:Postgres:SlotName", "Relay-Slot", "Relay:Postgres:SlotName: must be 1-63 characters of a-z, 0-9 and _")]
    [InlineData("Relay:Pipeline:MaxInFlightMessages", "0", "Relay:Pipeline:MaxInFlightMessages: MaxInFlightMessages must be between 1 and")]
    [InlineData("Relay:Pipeline:DrainTimeout", "-00:00:05", "Relay:Pipeline:DrainTimeout: must be a positive duration")]
    [InlineData("Relay:Pipeline:IdleConfirmInterval", "00:00:00", "Relay:Pipeline:IdleConfirmInterval: must be a positive duration")]
    [InlineData("Relay:Diagnostics:LivenessTimeout", "00:00:20", "Relay:Diagnostics:LivenessTimeout: 00:00:20 is below three times Relay:Pipeline:IdleConfirmInterval")]
    [InlineData("Relay:Kafka:BootstrapServers", "", "Relay:Kafka:BootstrapServers: is required")]
    [InlineData("Relay:Kafka:Producer:acks", "1", "Relay:Kafka:Producer:acks: must be all")]
    [InlineData("Relay:Kafka:Producer:enable.idempotence", "false", "Relay:Kafka:Producer:enable.idempotence: must be true")]
    [InlineData("Relay:Kafka:Producer:max.in.flight.requests.per.connection", "20", "Relay:Kafka:Producer:max.in.flight.requests.per.connection: must be 1 to 5")]
    [InlineData("Relay:Kafka:Producer:linger.msec", "5", "Relay:Kafka:Producer: ")]
    [InlineData("Relay:Outbox:Tables:0:Table", "outbox", "Relay:Outbox:Tables:0:Table: 'outbox' is not a schema-qualified table name")]
    [InlineData("Relay:Outbox:Tables:0:KeyColumn", "", "Relay:Outbox:Tables:0:KeyColumn: a column name is required")]
    [InlineData("Relay:Outbox:Tables:0:RepublishOrderColumn", " ", "Relay:Outbox:Tables:0:RepublishOrderColumn: name the column that orders the rows")]
    public void each_problem_names_its_key(string key, string value, string expected)
    {
        var failures = Failures((key, value));
        Assert.Contains(failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void an_unknown_librdkafka_setting_is_named()
    {
        var failure = Assert.Single(Failures(("Relay:Kafka:Producer:linger.msec", "5")));
        Assert.Contains("linger.msec", failure);
    }

    [Fact]
    public void failures_never_echo_the_connection_string_password()
    {
        var failures = Failures(("Relay:Postgres:SlotName", "BAD NAME"), ("Relay:Kafka:Producer:acks", "0"));
        Assert.NotEmpty(failures);
        Assert.DoesNotContain(failures, f => f.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public void relay_always_runs_an_idempotent_acks_all_producer()
    {
        var config = KafkaProducerFactory.BuildConfig(new KafkaOptions
        {
            BootstrapServers = "b:9092",
            Producer = { ["linger.ms"] = "20", ["compression.type"] = "zstd" },
        });
        Assert.True(config.EnableIdempotence);
        Assert.Equal(Confluent.Kafka.Acks.All, config.Acks);
        Assert.Equal(20, config.LingerMs);
        Assert.Equal("b:9092", config.BootstrapServers);
        Assert.Equal(5, KafkaProducerFactory.BuildConfig(new KafkaOptions { BootstrapServers = "b:9092" }).LingerMs);   // Relay's default
    }

    [Fact]
    public void postgresql_only_outbox_features_are_refused_with_sql_server_naming_their_keys()
    {
        var failures = Failures(("Relay:Source", "SqlServer"), ("Relay:SqlServer:ConnectionString", "Server=db;User Id=relay;Password=s3cret"),
            ("Relay:Outbox:Messages:0:Prefix", "outbox"), ("Relay:Outbox:Tables:0:PublishExistingRowsOnFirstStart", "true"));
        Assert.Contains(failures, f => f.StartsWith("Relay:Outbox:Messages: pg_logical_emit_message prefixes are a PostgreSQL feature", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Relay:Outbox:Tables:0:PublishExistingRowsOnFirstStart: is a PostgreSQL feature", StringComparison.Ordinal));
        Assert.Empty(Failures(("Relay:Outbox:Messages:0:Prefix", "outbox"), ("Relay:Outbox:Tables:0:PublishExistingRowsOnFirstStart", "true")));
    }

    [Fact]
    public void an_unknown_source_is_refused_by_name()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Relay:Source"] = "Oracle" }).Build();
        var error = Assert.Throws<RelayConfigurationException>(() => new ServiceCollection().AddRelay(configuration));
        Assert.StartsWith("Relay:Source: 'Oracle' is not a supported source; use Postgres or SqlServer", error.Message);
    }
}
