using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, rows 10 and 12: per-key order through repeated broker outages (no message timeout: a timed-out message
/// would let later messages of its key go first), and an in-flight window larger than librdkafka's default queue.
/// </summary>
public class ProducerQueueAndOrderTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task per_key_order_holds_through_repeated_short_broker_outages_and_a_message_timeout_is_refused()
    {
        Assert.SkipWhen(kafka.Mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);

        // The setting that used to reorder a key's events is refused at start.
        await using (var refused = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))
                         .With("Relay:Kafka:Producer:message.timeout.ms", "1500")))
        {
            Assert.Equal(2, await refused.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains(refused.Output, l => l.Contains("Relay:Kafka:Producer:message.timeout.ms: must be 0", StringComparison.Ordinal));
        }

        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();
        for (var outage = 0; outage < 5; outage++)
        {
            await InsertAsync(db, outage * 40, 20);
            kafka.Mock!.SetBrokerDown();
            await InsertAsync(db, outage * 40 + 20, 20);   // queued while the brokers are away
            await Task.Delay(TimeSpan.FromMilliseconds(1500), TestContext.Current.CancellationToken);   // the outage's length (pacing)
            kafka.Mock.SetBrokerUp();
        }
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(120)), $"received {reader.DistinctIds} of {ids.Count}");
        Delivery.AssertComplete(reader.Messages.ToList(), ids, m => Payloads.Seq(m));
        Assert.Equal(0, relay.Status.ExitCode);
    }

    [Fact]
    public async Task an_in_flight_window_larger_than_librdkafkas_default_queue_streams_without_restarts()
    {
        Assert.SkipWhen(kafka.Mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 16);   // the mock keeps 5 MiB per partition
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))
            .With("Relay:Pipeline:MaxInFlightMessages", "150000"));
        await db.WaitForStreamingAsync();

        const int rows = 120_000;   // more than librdkafka's default queue.buffering.max.messages (100,000)
        kafka.Mock!.SetBrokerDown();
        try
        {
            await db.ExecuteAsync($"""
                INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
                SELECT 'Order', 'key-' || (g % 97), 'Step', jsonb_build_object('seq', g) FROM generate_series(1, {rows}) g
                """);
            Assert.True(await Eventually.WaitUntilAsync(() => relay.Status.CurrentRun?.InFlightMessages >= rows, TimeSpan.FromSeconds(120)),
                $"only {relay.Status.CurrentRun?.InFlightMessages} of {rows} in flight");
        }
        finally
        {
            kafka.Mock.SetBrokerUp();
        }
        Assert.True(await reader.WaitForDistinctIdsAsync(rows, TimeSpan.FromSeconds(180)), $"received {reader.DistinctIds} of {rows}");
        Assert.Equal(0, relay.Events.CountOf(RelayEvents.RunFailed));
        Assert.Equal(0, relay.Status.ExitCode);
    }

    static async Task InsertAsync(TestDatabase db, int first, int transactions)
    {
        for (var t = first; t < first + transactions; t++)
            await db.ExecuteAsync("""
                INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
                SELECT 'Order', 'key-' || (g % 7), 'Step', jsonb_build_object('seq', g) FROM generate_series($1::int * 5, $1::int * 5 + 4) g
                """, t);
    }
}
