using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>The stream's reading rules against a fake CDC: order, batching, first start, retention gap, rotation.</summary>
public class SqlServerOutboxStreamTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    static readonly string[] Captured = FakeCdc.Captured;

    static (FakeCdc Cdc, OutboxMapping Tables) TwoTables() => FakeCdc.TwoTables();

    static Task<RecordingSink> ReadAsync(FakeCdc cdc, OutboxMapping tables, MemoryStore store, int expected, int batchSize = 5000,
        bool resumeOnGap = false) => FakeCdc.ReadAsync(cdc, tables, store, expected, batchSize, resumeOnGap);

    [Fact]
    public async Task inserts_of_two_tables_arrive_in_commit_order_whatever_the_batch_size()
    {
        var (cdc, tables) = TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(12, 1), "o2"), (new(12, 3), "o3"), (new(20, 1), "o4")];
        cdc.Changes["dbo_billing_outbox"] = [(new(11, 1), "b1"), (new(12, 2), "b2"), (new(15, 1), "b3")];

        foreach (var batchSize in new[] { 1, 2, 5000 })
        {
            var store = new MemoryStore(null);
            var sink = await ReadAsync(cdc, tables, store, expected: 7, batchSize);
            Assert.Equal([10ul, 11, 12, 12, 12, 15, 20], sink.Rows.Select(r => (ulong)r.Position.Commit));
            Assert.Equal(sink.Rows.Select(r => r.Position).Order(), sink.Rows.Select(r => r.Position));
            Assert.Equal(sink.Rows.Select(r => r.Position), sink.Commits);   // every change is its own checkpoint
            Assert.Equal(new SourcePosition(20, 1), store.Saved);
        }
    }

    [Fact]
    public async Task a_restart_continues_after_the_stored_position()
    {
        var (cdc, tables) = TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(12, 1), "o2"), (new(12, 3), "o3")];
        cdc.Changes["dbo_billing_outbox"] = [(new(12, 2), "b2")];
        var sink = await ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(12, 1)), expected: 2);
        Assert.Equal([new SourcePosition(12, 2), new SourcePosition(12, 3)], sink.Rows.Select(r => r.Position));
    }

    [Fact]
    public async Task a_retention_gap_stops_with_what_was_lost_unless_told_to_resume()
    {
        var (cdc, tables) = TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(300, 1), "o1")];
        cdc.MinLsn["dbo_orders_outbox"] = 250;
        var error = await Assert.ThrowsAsync<RelayConfigurationException>(() => ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(100, 1)), 1));
        Assert.Contains("Capture instance dbo_orders_outbox of dbo.orders_outbox now starts at 0x000000000000000000FA, after Relay's position 0x00000000000000000064", error.Message);

        var sink = await ReadAsync(cdc, tables, new MemoryStore(new SourcePosition(100, 1)), 1, resumeOnGap: true);
        Assert.Equal(["o1"], sink.Rows.Select(r => r.Id.Split(':')[0] == "dbo_orders_outbox" ? "o1" : "?"));
    }

    [Fact]
    public async Task after_ddl_the_newer_capture_instance_takes_over_from_its_start()
    {
        var (cdc, tables) = TwoTables();
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox_v2", "dbo", "orders_outbox", 50, Captured.ToHashSet()));
        // Both instances hold changes after the newer one's start (as during a rotation); only one copy must be read.
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1"), (new(60, 1), "o2")];
        cdc.Changes["dbo_orders_outbox_v2"] = [(new(60, 1), "o2")];
        var sink = await ReadAsync(cdc, tables, new MemoryStore(null), expected: 2);
        Assert.Equal(["dbo_orders_outbox:10:1", "dbo_orders_outbox_v2:60:1"], sink.Rows.Select(r => r.Id));
    }

    [Fact]
    public async Task a_table_without_cdc_or_a_column_cdc_does_not_capture_is_refused_with_the_fix()
    {
        var (cdc, tables) = TwoTables();
        cdc.Instances.RemoveAt(1);
        var source = new SqlServerOutboxSource(new SqlServerSourceOptions(), tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null));
        var missing = await Assert.ThrowsAsync<RelayConfigurationException>(() => source.PrepareAsync(Token));
        Assert.StartsWith("Relay:Outbox:Tables:1:Table: dbo.billing_outbox has no CDC capture instance: run EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'billing_outbox'", missing.Message);

        cdc.Instances.Add(new CaptureInstance("dbo_billing_outbox", "dbo", "billing_outbox", 1, new HashSet<string> { "id", "aggregateid", "payload" }));
        var column = await Assert.ThrowsAsync<RelayConfigurationException>(() => source.PrepareAsync(Token));
        Assert.StartsWith("Relay:Outbox:Tables:1:TypeColumn: column 'type' is not captured by CDC instance dbo_billing_outbox", column.Message);
    }

    [Fact]
    public async Task idle_polling_backs_off()
    {
        var (cdc, tables) = TwoTables();
        var options = new SqlServerSourceOptions { PollInterval = TimeSpan.FromMilliseconds(10), MaxPollInterval = TimeSpan.FromMilliseconds(400) };
        var source = new SqlServerOutboxSource(options, tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null));
        await using var stream = await source.OpenAsync(await source.PrepareAsync(Token), Token);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await stream.ReadAsync(new RecordingSink(int.MaxValue, stop), stop.Token);
        // Without backoff: ~200 polls of two tables in 2 s; with doubling up to 400 ms: well under 20.
        Assert.InRange(cdc.Polls, 3, 20);
    }
}
