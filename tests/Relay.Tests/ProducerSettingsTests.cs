using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Relay.Kafka;
using Relay.Options;

namespace Relay.Tests;

/// <summary>Issue 12, rows 10 and 12: producer settings that would break per-key order or loop on a full local queue.</summary>
public class ProducerSettingsTests
{
    static IReadOnlyList<string> Failures(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Relay:Postgres:ConnectionString"] = "Host=localhost;Username=relay",
            ["Relay:Kafka:BootstrapServers"] = "localhost:9092",
            ["Relay:Outbox:Tables:0:Table"] = "public.outbox",
        };
        foreach (var (key, value) in settings)
            values[key] = value;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
        services.AddRelay(configuration);
        using var provider = services.BuildServiceProvider();
        return provider.ValidateRelayConfiguration();
    }

    [Fact]
    public void messages_never_time_out_and_the_local_queue_holds_the_whole_in_flight_window()
    {
        var config = KafkaProducerFactory.BuildProducerConfig(new KafkaOptions { BootstrapServers = "b:9092" },
            new PipelineOptions { MaxInFlightMessages = 500_000, MaxInFlightBytes = 4L << 30 });
        Assert.Equal(0, config.MessageTimeoutMs);
        Assert.True(config.QueueBufferingMaxMessages >= 500_000 + KafkaProducerFactory.QueueHeadroom);
        Assert.True(config.QueueBufferingMaxKbytes >= (4L << 30) / 1024);
    }

    [Theory]
    [InlineData("message.timeout.ms", "5000")]
    [InlineData("delivery.timeout.ms", "300000")]
    public void a_message_timeout_is_refused_because_it_breaks_per_key_order(string key, string value)
    {
        var failure = Assert.Single(Failures(($"Relay:Kafka:Producer:{key}", value)));
        Assert.StartsWith($"Relay:Kafka:Producer:{key}: must be 0", failure);
    }

    [Fact]
    public void a_local_queue_smaller_than_the_in_flight_window_is_refused_naming_both_keys()
    {
        var failure = Assert.Single(Failures(("Relay:Kafka:Producer:queue.buffering.max.messages", "5000"), ("Relay:Pipeline:MaxInFlightMessages", "20000")));
        Assert.StartsWith("Relay:Kafka:Producer:queue.buffering.max.messages: 5000 is below Relay:Pipeline:MaxInFlightMessages (20000)", failure);
        Assert.Empty(Failures(("Relay:Kafka:Producer:message.timeout.ms", "0"), ("Relay:Pipeline:MaxInFlightMessages", "2000000")));
    }
}
