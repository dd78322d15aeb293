using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 13: catalog names matched as SQL Server's (case-insensitive) default collations do; commit times per zone rules.</summary>
public class SqlServerCatalogNameTests
{
    [Fact]
    public async Task a_mapping_finds_its_table_and_columns_whatever_their_case()
    {
        var cdc = new FakeCdc();
        cdc.Instances.Add(new CaptureInstance("Sales_Outbox", "Sales", "Outbox", 1,
            new HashSet<string> { "Id", "AggregateType", "AggregateId", "Type", "Payload" }));
        cdc.Changes["Sales_Outbox"] = [(new(10, 1), "k1")];
        var tables = OutboxMapping.For(new OutboxOptions { Tables = [new() { Table = "sales.outbox" }] });
        var sink = await FakeCdc.ReadAsync(cdc, tables, new MemoryStore(null), 1);
        Assert.Equal(["Sales_Outbox:10:1"], sink.Rows.Select(r => r.Id));
    }

    [Fact]
    public void commit_times_are_converted_with_the_zone_rules_of_their_own_date_not_todays_offset()
    {
        var sql = SqlCdcClient.CommitTimeUtc("t");
        Assert.Contains("AT TIME ZONE @zone AT TIME ZONE 'UTC'", sql);
    }
}
