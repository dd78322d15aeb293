using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, row 5: a slot Relay used before and that is gone (dropped, a failover, pg_upgrade before 17) is told from a
/// first start: an error event naming the risk and the re-publish step, a metric, and a policy to stop instead.
/// </summary>
public class LostSlotTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static async Task UseThenLoseSlotAsync(TestDatabase db, KafkaFixture kafka)
    {
        await using (var first = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")))
        {
            await db.WaitForStreamingAsync();
            Assert.False(first.Events.Has(RelayEvents.SlotLost));   // a first start is not a lost slot
        }
        await db.ExecuteAsync("SELECT pg_drop_replication_slot($1)", db.SlotName);
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'gap', 'Created', '{}')");
    }

    [Fact]
    public async Task a_lost_slot_is_recreated_loudly_by_default()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await UseThenLoseSlotAsync(db, kafka);

        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        await db.WaitForStreamingAsync();
        var lost = Assert.Single(relay.Events.WithId(RelayEvents.SlotLost));
        Assert.Equal("Error", lost.Level);
        Assert.Equal(db.SlotName, lost.Property("Slot"));
        Assert.Contains("re-publish", lost.Message);
        // The sample line, not the HELP text (which begins "1 when…").
        Assert.Matches(new System.Text.RegularExpressions.Regex("^relay_replication_slot_recreated 1$", System.Text.RegularExpressions.RegexOptions.Multiline),
            await relay.ScrapeMetricsAsync());
        Assert.Equal(0, relay.Status.ExitCode);
    }

    [Fact]
    public async Task with_the_stop_policy_a_lost_slot_stops_the_relay_instead()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await UseThenLoseSlotAsync(db, kafka);

        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
            .With("Relay:Postgres:OnLostSlot", "Stop"));
        await relay.Stopping.WaitAsync(Patience);
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains($"replication slot '{db.SlotName}' is gone, but Relay streamed publication '{db.PublicationName}' through it before", relay.Status.FatalError);
        Assert.Null(await db.ConfirmedFlushLsnAsync());   // not re-created
    }
}
