using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, row 9: a topic Kafka will not take (no WRITE ACL, unknown and not auto-created) is a problem of the row,
/// decided by its table's policy, not a transport failure that re-sends the whole window in every retry cycle.
/// </summary>
public class RefusedTopicTests(PostgresFixture postgres, KafkaFixture kafka)
{
    const int TopicAuthorizationFailed = 29, UnknownTopicOrPartition = 3;

    [Fact]
    public async Task under_the_stop_policy_a_refused_topic_stops_the_relay_once_naming_the_topic()
    {
        Assert.SkipWhen(kafka.Mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var refused = db.Name + ".refused";
        kafka.Mock!.SetTopicError(refused, TopicAuthorizationFailed);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", refused)));
        await db.WaitForStreamingAsync();
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'o-1', 'Created', '{}')");
        var afterRow = await db.CurrentWalLsnAsync();

        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains($"Kafka refused the message for topic {refused} (TopicAuthorizationFailed)", relay.Status.FatalError);
        Assert.Equal(0, relay.Events.CountOf(RelayEvents.RunFailed));   // no retry cycle re-sent anything
        Assert.True(await db.ConfirmedFlushLsnAsync() < afterRow);
    }

    [Theory]
    [InlineData(TopicAuthorizationFailed)]
    [InlineData(UnknownTopicOrPartition)]
    public async Task under_the_dead_letter_policy_rows_for_a_refused_topic_go_to_the_dead_letter_topic_and_the_rest_flows(int error)
    {
        Assert.SkipWhen(kafka.Mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var prefix = db.Name;
        kafka.Mock!.SetTopicError(prefix + ".Refused", error);
        using var reader = kafka.ReadTopics(t => t.StartsWith(prefix, StringComparison.Ordinal) && !t.EndsWith(".Refused", StringComparison.Ordinal));
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka)
            .Table(0, "public.outbox", ("TopicTemplate", prefix + ".{aggregatetype}"), ("OnUnpublishableRow", "DeadLetter"), ("DeadLetterTopic", prefix + "_dlq"))
            .With("Relay:Kafka:Producer:topic.metadata.propagation.max.ms", "3000"));
        await db.WaitForStreamingAsync();
        await db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES
              ('Order', 'o-1', 'Created', '{}'), ('Refused', 'r-1', 'Created', '{}'), ('Order', 'o-2', 'Created', '{}')
            """);
        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForDistinctIdsAsync(3, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of 3");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        var dead = Assert.Single(reader.Messages, m => m.Topic == prefix + "_dlq");
        Assert.Equal("r-1", dead.Key);
        Assert.Equal(prefix + ".Refused", dead.Header("relay.topic"));
        Assert.Contains("Kafka refused the message for topic", dead.Header("relay.reason"));
        Assert.Equal(0, relay.Events.CountOf(RelayEvents.RunFailed));
        Assert.Equal(0, relay.Status.ExitCode);
    }
}
