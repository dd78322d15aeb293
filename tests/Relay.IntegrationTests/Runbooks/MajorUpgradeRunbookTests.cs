using Relay.DevServices;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Runbooks;

/// <summary>
/// docs/operations.md, "PostgreSQL major upgrade": pg_upgrade before 17 leaves Relay's slot behind. Followed step by
/// step with a real pg_upgrade (this machine has one server version, so the same version on both sides; what matters,
/// that logical slots are not carried over, is the same): drain, stop Relay, upgrade, create the slot before the
/// application writes again, start Relay. Nothing is lost and nothing pages.
/// </summary>
public class MajorUpgradeRunbookTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task an_upgrade_that_follows_the_runbook_loses_nothing_and_reports_no_lost_slot()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries (pg_upgrade)");
        await using var cluster = await PostgresCluster.StartAsync();
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));
        await using (var relay = RelayProcess.Start(settings))
        {
            Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));
            await InsertAsync(db, "before-1");
            await InsertAsync(db, "before-2");
            // Step 1: the application is stopped; wait until Relay has confirmed everything it wrote.
            var lastWrite = await db.CurrentWalLsnAsync();
            Assert.True(await db.WaitForConfirmedAsync(lastWrite, Patience));
            // Step 2: stop Relay (kubectl scale --replicas=0).
            relay.Terminate();
            Assert.Equal(0, await relay.WaitForExitAsync(Patience));
        }

        // Step 3: pg_upgrade. The slot stays behind; the publication (and Relay's note on it) comes along.
        await cluster.UpgradeAsync(TestContext.Current.CancellationToken);
        db.ClearPool();
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", db.SlotName));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_publication WHERE pubname = $1", db.PublicationName));

        // Step 4: before the application writes again, create the slot as the runbook says.
        await db.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'pgoutput')");
        // Step 5: start Relay, then the application.
        await using var upgraded = RelayProcess.Start(settings);
        Assert.True(await upgraded.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));
        await InsertAsync(db, "after-1");

        Assert.True(await reader.WaitForDistinctIdsAsync(3, Patience), $"{reader.DistinctIds} of 3 events arrived");
        Assert.Equal(["after-1", "before-1", "before-2"], reader.Messages.Select(m => m.Key).Distinct().Order());
        Assert.False(upgraded.Events.Has(RelayEvents.SlotLost), "the planned upgrade was reported as a lost slot");
    }

    static Task InsertAsync(TestDatabase db, string key) =>
        db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', $1, 'Created', '{}')", key);
}
