using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
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

/// <summary>Issue 13, row 13: SQL Server positions exported exactly (the host's double gauges keep only 53 of 80 bits).</summary>
public class SqlServerLsnGaugeTests
{
    [Fact]
    public async Task received_and_confirmed_lsns_are_exported_exactly_in_their_three_parts()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var lsn = SqlServerLsn.Parse("0xFFFFFFF0FFFFFFFE0003");   // as a double this would lose the slot
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(lsn, 1), "o1")];
        var source = new SqlServerOutboxSource(FakeCdc.Options(), tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null), meters);
        await using (var stream = await source.OpenAsync(await source.PrepareAsync(TestContext.Current.CancellationToken), TestContext.Current.CancellationToken))
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            stop.CancelAfter(TimeSpan.FromSeconds(10));
            await stream.ReadAsync(new RecordingSink(1, stop), stop.Token);
            await stream.ConfirmAsync(new SourcePosition(lsn, 1), TestContext.Current.CancellationToken);
        }
        using var listener = new MeterListener();
        var measured = new Dictionary<string, long>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name.StartsWith("relay_sqlserver_", StringComparison.Ordinal) && instrument.Name.Contains("_lsn_", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => measured[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        foreach (var position in new[] { "received", "confirmed" })
        {
            Assert.Equal(0xFFFFFFF0L, measured[$"relay_sqlserver_{position}_lsn_vlf"]);
            Assert.Equal(0xFFFFFFFEL, measured[$"relay_sqlserver_{position}_lsn_block"]);
            Assert.Equal(3L, measured[$"relay_sqlserver_{position}_lsn_slot"]);
        }
    }
}
