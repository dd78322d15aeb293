using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 4: which capture instance is read when cleanup moved their start LSNs (fake CDC).</summary>
public class SqlServerCaptureInstanceTests
{
    static readonly DateTime Monday = new(2026, 11, 23, 9, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void instances_sharing_a_start_lsn_after_cleanup_are_ordered_by_creation()
    {
        // Cleanup moved both start_lsn values to 100: only create_date says v2 is the newer one.
        var v2 = new CaptureInstance("dbo_outbox_v2", "dbo", "outbox", 100, new HashSet<string>(), Monday.AddDays(1));
        var v1 = new CaptureInstance("dbo_outbox", "dbo", "outbox", 100, new HashSet<string>(), Monday);
        Assert.Equal("dbo_outbox_v2", RetentionRule.Choose([v2, v1], 150).Name);
        Assert.Equal("dbo_outbox_v2", RetentionRule.Choose([v1, v2], 150).Name);
        Assert.Same(v2, RetentionRule.Successor([v2, v1], v1));
        Assert.Null(RetentionRule.Successor([v2, v1], v2));
    }

    [Fact]
    public async Task after_cleanup_moved_both_instances_to_one_start_the_newer_instance_is_read()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Instances.RemoveAt(0);
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox_v2", "dbo", "orders_outbox", 100, FakeCdc.Captured.ToHashSet(), Monday.AddDays(1)));
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox", "dbo", "orders_outbox", 100, FakeCdc.Captured.ToHashSet(), Monday));
        cdc.MinLsn["dbo_orders_outbox"] = cdc.MinLsn["dbo_orders_outbox_v2"] = 100;
        // The old instance was not dropped yet: it still holds the rows in its old shape; the new one is the one to read.
        cdc.Changes["dbo_orders_outbox"] = [(new(160, 1), "o1"), (new(170, 1), "o2")];
        cdc.Changes["dbo_orders_outbox_v2"] = [(new(160, 1), "o1"), (new(170, 1), "o2")];
        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(150, 1)), 2);
        Assert.Equal(["dbo_orders_outbox_v2:160:1", "dbo_orders_outbox_v2:170:1"], sink.Rows.Select(r => r.Id));
    }
}
