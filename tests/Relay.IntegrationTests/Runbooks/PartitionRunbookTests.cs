using System.Diagnostics;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Runbooks;

/// <summary>
/// docs/operations.md, "Standby takeover and network partitions": the active relay is cut off (frozen with SIGSTOP:
/// its connections stay open, as a partition leaves them), the operator ends its session as the runbook says, the
/// standby takes over; when the partition heals, the old relay becomes the standby. Every event arrives.
/// </summary>
public class PartitionRunbookTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ending_the_cut_off_relays_session_hands_the_slot_to_the_standby_and_loses_nothing()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));
        await using var active = RelayProcess.Start(settings);
        Assert.True(await active.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));
        await using var standby = RelayProcess.Start(settings);
        Assert.True(await standby.WaitForEventAsync(RelayEvents.Standby, Patience));
        await InsertAsync(db, 0, 50);
        Assert.True(await reader.WaitForDistinctIdsAsync(50, Patience));

        // The partition: the active relay stops answering; its walsender keeps the slot (until wal_sender_timeout, 60 s).
        active.Freeze();
        await InsertAsync(db, 50, 50);
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);   // a few standby retries
        Assert.False(standby.Events.Has(RelayEvents.TookOver), "the standby took a slot that was still in use");

        // The runbook's step: end the cut-off relay's session.
        var ended = Stopwatch.StartNew();
        await db.ExecuteAsync("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", db.SlotName);
        Assert.True(await standby.WaitForEventAsync(RelayEvents.TookOver, Patience), "the standby did not take over");
        var takeover = ended.Elapsed;
        Assert.True(await reader.WaitForDistinctIdsAsync(100, Patience), $"{reader.DistinctIds} of 100 events arrived");

        // The partition heals: the old relay finds its session gone and becomes the standby.
        active.Thaw();
        Assert.True(await active.WaitForEventAsync(RelayEvents.Standby, Patience), "the old active relay did not become the standby");
        await InsertAsync(db, 100, 50);
        Assert.True(await reader.WaitForDistinctIdsAsync(150, Patience), $"{reader.DistinctIds} of 150 events arrived");
        Assert.False(active.HasExited);
        Figures.Report($"partition runbook: standby took over {takeover.TotalSeconds:F1} s after pg_terminate_backend of the cut-off relay's walsender");
    }

    static Task InsertAsync(TestDatabase db, int from, int count) =>
        db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || g, 't', '{}' FROM generate_series($1::int, $2::int) g",
            from, from + count - 1);
}
