using System.Globalization;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Runbooks;

/// <summary>
/// docs/operations.md, "The slot was lost": the slot disappears while Relay is stopped and rows are written in the gap;
/// Relay comes back on a new slot and says so; the operator re-publishes from the newest event consumers had, minus a
/// margin, with <c>relay republish</c>, as the runbook says. Every event is then in Kafka.
/// </summary>
public class LostSlotRunbookTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task republishing_from_the_last_event_consumers_had_recovers_the_rows_of_the_gap()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("CREATE INDEX ON public.outbox (created_at)");
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));
        await using (var relay = RelayProcess.Start(settings))
        {
            Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));
            await InsertAsync(db, "before", 20);
            Assert.True(await reader.WaitForDistinctIdsAsync(20, Patience));
            relay.Terminate();
            Assert.Equal(0, await relay.WaitForExitAsync(Patience));
        }
        await db.ExecuteAsync("SELECT pg_drop_replication_slot($1)", db.SlotName);   // a failover to a replica without it, say
        await InsertAsync(db, "gap", 15);

        await using var restarted = RelayProcess.Start(settings);
        Assert.True(await restarted.WaitForEventAsync(RelayEvents.SlotLost, Patience), "the lost slot was not reported");
        Assert.True(await restarted.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));   // on its new slot
        await InsertAsync(db, "after", 10);
        Assert.True(await reader.WaitForDistinctIdsAsync(30, Patience));
        Assert.DoesNotContain(reader.Messages, m => m.Key!.StartsWith("gap", StringComparison.Ordinal));

        // Step 1: the newest event consumers received (its created_at), minus a margin for long transactions.
        var newestReceived = await db.ScalarAsync<DateTime>("SELECT max(created_at) FROM public.outbox WHERE aggregateid LIKE 'before%'");
        var from = newestReceived.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
        // Step 3: re-publish from there, beside the running relay.
        await using var republish = RelayProcess.Start(settings, "republish", "--table", "public.outbox", "--from", from);
        Assert.Equal(0, await republish.WaitForExitAsync(TimeSpan.FromSeconds(120)));

        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, Patience), $"{reader.DistinctIds} of {ids.Count} events in Kafka");
        Assert.All(reader.Messages.Where(m => m.Key!.StartsWith("gap", StringComparison.Ordinal)),
            m => Assert.Equal("true", m.Header("relay.republished")));
        Assert.Equal(15, reader.Messages.Where(m => m.Key!.StartsWith("gap", StringComparison.Ordinal)).Select(m => m.Key).Distinct().Count());
    }

    static Task InsertAsync(TestDatabase db, string prefix, int count) =>
        db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', $1 || '-' || g, 't', '{}' FROM generate_series(1, $2::int) g",
            prefix, count);
}
