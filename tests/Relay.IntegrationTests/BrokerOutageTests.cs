using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>With every broker down, the slot is never confirmed past unacknowledged rows; when they return, all arrive.</summary>
public class BrokerOutageTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task with_the_brokers_down_the_slot_holds_and_everything_arrives_when_they_return()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");

        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))
            .With("Relay:Pipeline:StallWarningAfter", "00:00:05"));
        await db.WaitForStreamingAsync();

        await InsertAsync(db, 0, 10);
        var beforeOutage = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(100, TimeSpan.FromSeconds(60)));
        Assert.True(await db.WaitForConfirmedAsync(beforeOutage, TimeSpan.FromSeconds(30)));

        // RELAY_TEST_OUTAGE_SECONDS scales the outage (default 30 s, as an operator would meet it).
        var outage = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("RELAY_TEST_OUTAGE_SECONDS"), out var s) ? s : 30);
        mock!.SetBrokerDown();
        try
        {
            await InsertAsync(db, 10, 50);
            await Task.Delay(outage, TestContext.Current.CancellationToken);
            // Nothing written during the outage is acknowledged, so nothing of it may be confirmed.
            var held = await db.ConfirmedFlushLsnAsync();
            Assert.True(held <= beforeOutage, $"slot confirmed {held} past {beforeOutage} while the brokers were down");
            Assert.Equal(100, reader.Messages.Select(m => m.Header("id")).Distinct().Count());
            var stall = relay.Events.WithId(RelayEvents.Stalled).FirstOrDefault();
            Assert.NotNull(stall);
            Figures.Report($"brokers down {outage.TotalSeconds} s: slot held at {held} (outage rows start after {beforeOutage}); relay logged: {stall.Message}");
        }
        finally
        {
            mock.SetBrokerUp();
        }

        // Then retriable produce errors (not leader, timeout, not enough replicas) while more rows flow.
        mock.PushRequestErrors(0, 6, 7, 19, 20, 6, 7, 19, 20);
        await InsertAsync(db, 60, 20);

        var end = await db.CurrentWalLsnAsync();
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(90)), $"received {reader.DistinctIds} of {ids.Count} events");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)), "slot not confirmed after the brokers returned");
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        Assert.True(relay.Events.Has(RelayEvents.StallEnded));
        Figures.Report($"after the outage and 8 injected produce errors: {ids.Count} events, 0 lost, {duplicates} duplicates, per-key order kept");
    }

    static async Task InsertAsync(TestDatabase db, int firstTransaction, int transactions)
    {
        for (var t = firstTransaction; t < firstTransaction + transactions; t++)
            await db.ExecuteAsync("""
                INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
                SELECT 'Order', 'key-' || (g % 37), 'Step', jsonb_build_object('seq', g)
                FROM generate_series($1::int * 10, $1::int * 10 + 9) g
                """, t);
    }
}
