using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>A row that cannot become a message stops the relay (exit code 1) without confirming past it.</summary>
public class UnpublishableRowTests(PostgresFixture postgres, KafkaFixture kafka)
{
    async Task AssertStopsAtTheRowAsync(Func<TestDatabase, Task> insertBadRow, string expectedReason, params (string, string)[] options)
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("ALTER TABLE public.outbox ALTER COLUMN aggregateid DROP NOT NULL");
        using var reader = kafka.ReadTopics(t => t == db.Name);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name));
        foreach (var (key, value) in options)
            settings.With(key, value);
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', 'good', 't', '{}')");
        Assert.True(await reader.WaitForCountAsync(1, TimeSpan.FromSeconds(30)));
        var beforeBadRow = await db.CurrentWalLsnAsync();
        await insertBadRow(db);
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', 'after', 't', '{}')");

        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains(expectedReason, relay.Status.FatalError);
        Assert.Contains("public.outbox", relay.Status.FatalError);
        Assert.True(await db.ConfirmedFlushLsnAsync() <= beforeBadRow, "the slot was confirmed past the row that could not be published");
        Assert.DoesNotContain(reader.Messages, m => m.Key == "after");
    }

    [Fact]
    public Task a_null_key_stops_the_relay_before_the_row() =>
        AssertStopsAtTheRowAsync(db => db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', NULL, 't', '{}')"),
            "key column 'aggregateid' is NULL");

    [Fact]
    public Task a_message_larger_than_the_producer_accepts_stops_the_relay_before_the_row() =>
        AssertStopsAtTheRowAsync(db => db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', 'big', 't', jsonb_build_object('x', repeat('y', 50000)))"),
            "Kafka refused the message", ("Relay:Kafka:Producer:message.max.bytes", "10000"));

    [Fact]
    public async Task with_the_dead_letter_policy_each_unpublishable_row_goes_to_the_dead_letter_topic_and_the_rest_flows()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.ExecuteAsync("""
            CREATE TABLE public.outbox (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text, aggregateid text, type text, payload text)
            """);
        var prefix = db.Name;
        var deadLetters = prefix + "_dlq";
        using var reader = kafka.ReadTopics(t => t.StartsWith(prefix, StringComparison.Ordinal));
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox",
                ("TopicTemplate", prefix + ".{aggregatetype}"), ("OnUnpublishableRow", "DeadLetter"), ("DeadLetterTopic", deadLetters),
                ("PayloadFormat", "Json"), ("NullPayload", "Unpublishable"))
            .With("Relay:Kafka:Producer:message.max.bytes", "20000");
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES
              ('Order', 'o-1', 'Created', '{"n": 1}'),
              ('Order', NULL, 'Created', '{"n": 2}'),
              ('Bad Topic!', 'o-3', 'Created', '{"n": 3}'),
              ('Order', 'o-4', 'Created', '"' || repeat('x', 30000) || '"'),
              ('Order', 'o-5', 'Created', '{"n": 5'),
              ('Order', 'o-6', 'Created', NULL),
              ('Order', 'o-7', 'Created', '{"n": 7}');
            """);
        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForCountAsync(7, TimeSpan.FromSeconds(60)), $"received {reader.Count} of 7");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)), "the dead-lettered rows held the slot back");
        Assert.Equal(0, relay.Status.ExitCode);
        Assert.Equal(["o-1", "o-7"], reader.Messages.Where(m => m.Topic == prefix + ".Order").Select(m => m.Key).Order());

        var dead = reader.Messages.Where(m => m.Topic == deadLetters).ToDictionary(m => m.Header("relay.reason")!);
        Assert.Equal(5, dead.Count);
        string Reason(string contains) => Assert.Single(dead.Keys, k => k.Contains(contains, StringComparison.Ordinal));
        Assert.Null(dead[Reason("key column 'aggregateid' is NULL")].Key);
        var badTopic = dead[Reason("'" + prefix + ".Bad Topic!' is not a valid Kafka topic name")];
        Assert.Equal("o-3", badTopic.Key);
        Assert.Equal(prefix + ".Bad Topic!", badTopic.Header("relay.topic"));   // the topic it would have gone to
        var tooLarge = dead[Reason("Kafka refused the message")];
        Assert.Equal("o-4", tooLarge.Key);
        Assert.Null(tooLarge.Value);   // the row stays in the outbox table; its identity is here
        Assert.NotNull(tooLarge.Header("relay.value.omitted"));
        var notJson = dead[Reason("payload is not valid JSON")];
        Assert.Equal("{\"n\": 5", notJson.Value);
        Assert.Equal(prefix + ".Order", notJson.Header("relay.topic"));
        Assert.Equal("o-6", dead[Reason("payload column 'payload' is NULL")].Key);

        var ids = await db.ListAsync("SELECT aggregateid, id::text FROM public.outbox WHERE aggregateid IS NOT NULL", r => (r.GetString(0), r.GetString(1)));
        foreach (var message in dead.Values)
        {
            Assert.Equal("public.outbox", message.Header("relay.table"));
            Assert.Matches("^[0-9A-F]+/[0-9A-F]+$", message.Header("relay.position"));
            Assert.Equal(message.Header("id"), message.Header("relay.event.id"));
            if (message.Key is not null)
                Assert.Equal(ids.Single(i => i.Item1 == message.Key).Item2, message.Header("relay.event.id"));
        }
        // Each dead-lettered row is logged, naming the row's event id (not the log event's own id) and the topic it went to.
        var logged = relay.Events.WithId(RelayEvents.DeadLettered);
        foreach (var message in dead.Values)
            Assert.Contains(logged, e => e.Property("OutboxEventId") == message.Header("relay.event.id") && e.Property("DeadLetterTopic") == deadLetters);
    }
}
