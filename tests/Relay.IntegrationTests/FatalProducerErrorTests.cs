using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>A fatal producer error: nothing is confirmed past a lost message; Relay recreates the producer and resends.</summary>
public class FatalProducerErrorTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task after_a_fatal_producer_error_the_relay_recreates_the_producer_and_loses_nothing()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's error injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 3);
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || (g % 7), 't', jsonb_build_object('seq', g) FROM generate_series(1, 100) g");
        Assert.True(await reader.WaitForCountAsync(100, TimeSpan.FromSeconds(30)));

        // OUT_OF_ORDER_SEQUENCE_NUMBER on a produce: the idempotent producer cannot guarantee order any more and raises a fatal error.
        mock!.PushRequestErrors(0, 45);
        var beforeFatal = await db.CurrentWalLsnAsync();
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || (g % 7), 't', jsonb_build_object('seq', g) FROM generate_series(101, 300) g");
        var end = await db.CurrentWalLsnAsync();

        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of {ids.Count} events");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        var fatal = relay.Events.WithId(RelayEvents.ProducerFatalError).FirstOrDefault();
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        Figures.Report($"injected OUT_OF_ORDER_SEQUENCE_NUMBER: {fatal?.Message ?? "no fatal error raised by librdkafka"}; {ids.Count} events, 0 lost, {duplicates} duplicates");
        Assert.NotNull(fatal);
        Assert.Equal(0, relay.Status.ExitCode);
    }
}
