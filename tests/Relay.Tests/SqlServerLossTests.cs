using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, rows 1 and 3: the SQL Server source never skips a change silently (fake CDC).</summary>
public class SqlServerLossTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task a_rotation_on_one_table_while_another_returns_a_full_batch_loses_nothing()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox_v2", "dbo", "orders_outbox", 50, FakeCdc.Captured.ToHashSet()));
        // orders: the old instance holds 10 and 40 below the new instance's start (50); both hold 60.
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(40, 1), "o2"), (new(60, 1), "o3")];
        cdc.Changes["dbo_orders_outbox_v2"] = [(new(60, 1), "o3")];
        // billing: a full first batch (3) ending at 7 holds the merge back below orders' 10 and 40.
        cdc.Changes["dbo_billing_outbox"] = [(new(5, 1), "b1"), (new(6, 1), "b2"), (new(7, 1), "b3"), (new(45, 1), "b4")];

        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), expected: 7, FakeCdc.Options(batchSize: 3));
        Assert.Equal(["dbo_billing_outbox:5:1", "dbo_billing_outbox:6:1", "dbo_billing_outbox:7:1", "dbo_orders_outbox:10:1",
            "dbo_orders_outbox:40:1", "dbo_billing_outbox:45:1", "dbo_orders_outbox_v2:60:1"], sink.Rows.Select(r => r.Id));
    }

    [Fact]
    public async Task a_cleanup_that_overtakes_a_running_relay_stops_it_naming_the_lsn_range_lost()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(20, 1), "o2"), (new(30, 1), "o3"), (new(40, 1), "o4")];
        cdc.BeforePoll = poll =>
        {
            if (poll < 2)
                return;
            // After the first batch (10, 20) the cleanup job removes everything below 40: 30 was never published.
            cdc.MinLsn["dbo_orders_outbox"] = 40;
            cdc.Changes["dbo_orders_outbox"].RemoveAll(c => c.Position.Commit < 40);
        };
        var options = FakeCdc.Options(batchSize: 2);
        var error = await Assert.ThrowsAsync<RelayConfigurationException>(() => FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 4, options));
        Assert.Contains("LSN range lost: 0x00000000000000000014 up to 0x00000000000000000027", error.Message);
        Assert.Contains("ResumeFromMinimumOnRetentionGap", error.Message);
    }

    [Fact]
    public async Task an_old_capture_instance_dropped_before_it_was_read_stops_the_relay()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox_v2", "dbo", "orders_outbox", 50, FakeCdc.Captured.ToHashSet()));
        cdc.MinLsn["dbo_orders_outbox_v2"] = 50;
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(20, 1), "o2"), (new(30, 1), "o3")];
        cdc.Changes["dbo_orders_outbox_v2"] = [(new(60, 1), "o4")];
        cdc.BeforePoll = poll =>
        {
            if (poll >= 2)
                cdc.Instances.RemoveAll(i => i.Name == "dbo_orders_outbox");   // sp_cdc_disable_table of the old instance
        };
        var options = FakeCdc.Options(batchSize: 1);
        options.CaptureInstanceRefresh = TimeSpan.Zero;
        var error = await Assert.ThrowsAsync<RelayConfigurationException>(() => FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 4, options));
        Assert.Contains("dbo_orders_outbox_v2 of dbo.orders_outbox now starts at 0x00000000000000000032", error.Message);
    }

    [Fact]
    public async Task with_resume_configured_a_gap_while_running_is_reported_and_reading_continues()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(20, 1), "o2"), (new(30, 1), "o3"), (new(40, 1), "o4")];
        cdc.BeforePoll = poll =>
        {
            if (poll < 2)
                return;
            cdc.MinLsn["dbo_orders_outbox"] = 40;
            cdc.Changes["dbo_orders_outbox"].RemoveAll(c => c.Position.Commit < 40);
        };
        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 3, FakeCdc.Options(batchSize: 2, resumeOnGap: true));
        Assert.Equal([10ul, 20, 40], sink.Rows.Select(r => (ulong)r.Position.Commit));
    }
}

/// <summary>The retention rule does not take a table whose CDC was enabled after Relay's position for a gap.</summary>
public class SqlServerNewInstanceTests
{
    [Fact]
    public async Task a_capture_instance_enabled_after_the_position_is_not_a_retention_gap()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1")];
        cdc.MinLsn["dbo_billing_outbox"] = 100;   // sp_cdc_enable_table ran at LSN 100; the capture job is still at 50
        cdc.MaxLsn = 50;
        cdc.BeforePoll = poll =>
        {
            if (poll >= 4)
            {
                cdc.MaxLsn = null;   // the capture job reached the new instance and its first row
                cdc.Changes["dbo_billing_outbox"] = [(new(150, 1), "b1")];
            }
        };
        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(5, 1)), 2);
        Assert.Equal(["dbo_orders_outbox:10:1", "dbo_billing_outbox:150:1"], sink.Rows.Select(r => r.Id));
    }
}
