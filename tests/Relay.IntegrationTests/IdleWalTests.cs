using Relay.IntegrationTests.Fixtures;

namespace Relay.IntegrationTests;

/// <summary>An idle outbox does not make the server keep WAL: the slot follows other tables' writes.</summary>
public class IdleWalTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task the_slot_follows_writes_to_other_tables_while_the_outbox_is_idle()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("CREATE TABLE public.busy (id bigserial PRIMARY KEY, filler text)");
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name)));
        await db.WaitForStreamingAsync();

        var start = await db.CurrentWalLsnAsync();
        for (var i = 0; i < 50; i++)   // > 50 MiB of WAL that is none of Relay's business
            await db.ExecuteAsync("INSERT INTO public.busy (filler) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 1000) g");
        var end = await db.CurrentWalLsnAsync();
        var written = (ulong)end - (ulong)start;
        Assert.True(written > 50 * 1024 * 1024, $"only {written} bytes of WAL written");

        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)), "the slot did not follow the server's WAL");
        var retained = await db.ScalarAsync<decimal>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots WHERE slot_name = $1", db.SlotName);
        Figures.Report($"outbox idle, {written / 1024.0 / 1024:F1} MiB of WAL written to another table: slot lag {retained} bytes once caught up");
    }
}
