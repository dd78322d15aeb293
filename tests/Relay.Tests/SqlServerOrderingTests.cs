using Relay.Core;

namespace Relay.Tests;

/// <summary>Issue 13, row 12: publish order is commit order, also for several INSERT statements of one transaction.</summary>
public class SqlServerOrderingTests
{
    [Fact]
    public async Task several_inserts_of_one_transaction_across_tables_are_published_in_statement_order()
    {
        // One transaction (commit LSN 40): INSERT orders, INSERT billing, INSERT orders, INSERT billing — seqvals 1..4.
        // Another transaction commits at 30 (before it) and one at 50 (after it).
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(40, 1), "t1"), (new(40, 3), "t3"), (new(50, 1), "after")];
        cdc.Changes["dbo_billing_outbox"] = [(new(30, 1), "before"), (new(40, 2), "t2"), (new(40, 4), "t4")];
        foreach (var batchSize in new[] { 1, 2, 100 })
        {
            var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 6, batchSize);
            Assert.Equal([new SourcePosition(30, 1), new(40, 1), new(40, 2), new(40, 3), new(40, 4), new(50, 1)], sink.Rows.Select(r => r.Position));
            Assert.Equal(["dbo.billing_outbox", "dbo.orders_outbox", "dbo.billing_outbox", "dbo.orders_outbox", "dbo.billing_outbox", "dbo.orders_outbox"],
                sink.Rows.Select(r => r.Table));
        }
    }
}
