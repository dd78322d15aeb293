using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, rows 2 and 9: where the SQL Server source's position stands when idle and on first start (fake CDC).</summary>
public class SqlServerPositionTests
{
    [Fact]
    public async Task an_outbox_idle_longer_than_retention_confirms_the_newest_lsn_and_restarts_without_a_gap()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1")];
        cdc.BeforePoll = poll =>
        {
            if (poll >= 3)
                cdc.MaxLsn = 500;   // the database moves on (other tables, the capture job's own entries); the outbox is idle
        };
        var store = new MemoryStore(null);
        var sink = await FakeCdc.ReadAsync(cdc, tables, store, 1, FakeCdc.Options(), until: s => s.Commits[^1].Commit >= 500);
        Assert.Equal(new SourcePosition(500, SqlServerLsn.MaxSequence), store.Saved);

        // Three days later the cleanup job removed everything up to 500; then a new row arrives.
        cdc.BeforePoll = null;
        cdc.MaxLsn = null;
        cdc.MinLsn["dbo_orders_outbox"] = cdc.MinLsn["dbo_billing_outbox"] = 500;
        cdc.Changes["dbo_orders_outbox"] = [(new(600, 1), "o2")];
        var restarted = await FakeCdc.ReadAsync(cdc, tables, store, 1);
        Assert.Equal(["dbo_orders_outbox:600:1"], restarted.Rows.Select(r => r.Id));
    }

    [Fact]
    public async Task a_first_start_begins_at_the_newest_captured_lsn_and_stores_it_at_once()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "old1"), (new(20, 1), "old2")];
        cdc.BeforePoll = poll =>
        {
            if (poll == 3)
                cdc.Changes["dbo_billing_outbox"] = [(new(30, 1), "new")];
        };
        var store = new MemoryStore(null);
        var options = FakeCdc.Options();
        options.FirstStart = FirstStartPosition.Latest;
        Assert.Equal(FirstStartPosition.Latest, new SqlServerSourceOptions().FirstStart);   // the default
        var sink = await FakeCdc.ReadAsync(cdc, tables, store, 1, options);
        Assert.Equal(["dbo_billing_outbox:30:1"], sink.Rows.Select(r => r.Id));
        Assert.Equal(new SourcePosition(20, SqlServerLsn.MaxSequence), store.Saves[0]);   // before anything was read
    }

    [Fact]
    public async Task a_first_start_with_oldest_publishes_everything_cdc_still_holds()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "old1"), (new(20, 1), "old2")];
        var options = FakeCdc.Options();
        options.FirstStart = FirstStartPosition.Oldest;
        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 2, options);
        Assert.Equal([10ul, 20], sink.Rows.Select(r => (ulong)r.Position.Commit));
    }
}
