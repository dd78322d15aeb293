using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Relay.DevServices;
using Testcontainers.Kafka;

[assembly: AssemblyFixture(typeof(Relay.IntegrationTests.Fixtures.KafkaFixture))]

namespace Relay.IntegrationTests.Fixtures;

/// <summary>
/// One Kafka-protocol broker for the whole run, from the first of: <c>RELAY_TEST_KAFKA</c> (bootstrap servers),
/// Testcontainers Kafka when a Docker engine answers, or librdkafka's mock cluster (3 brokers) in this process.
/// Fault injection exists only on the mock; tests that need it skip, saying so, elsewhere.
/// </summary>
public sealed class KafkaFixture : IAsyncLifetime
{
    KafkaContainer? _container;

    public string BootstrapServers { get; private set; } = "";
    public string Origin { get; private set; } = "";
    public KafkaMockCluster? Mock { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("RELAY_TEST_KAFKA") is { Length: > 0 } configured)
        {
            (BootstrapServers, Origin) = (configured, "RELAY_TEST_KAFKA");
            return;
        }
        if (await DockerProbe.TryAsync(async () =>
            {
                var container = new KafkaBuilder("confluentinc/cp-kafka:7.7.1").Build();
                await container.StartAsync();
                return container;
            }) is { } container)
        {
            _container = container;
            (BootstrapServers, Origin) = (container.GetBootstrapAddress(), "Testcontainers");
            return;
        }
        Mock = KafkaMockCluster.Start(brokers: 3);
        (BootstrapServers, Origin) = (Mock.BootstrapServers, "librdkafka mock cluster");
    }

    public async Task CreateTopicAsync(string topic, int partitions)
    {
        if (Mock is not null)
        {
            Mock.CreateTopic(topic, partitions);
            return;
        }
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }]);
    }

    public KafkaTopicReader ReadTopics(Func<string, bool> filter) => new(BootstrapServers, filter);

    public async ValueTask DisposeAsync()
    {
        Mock?.Dispose();
        if (_container is not null)
            await _container.DisposeAsync();
    }
}
