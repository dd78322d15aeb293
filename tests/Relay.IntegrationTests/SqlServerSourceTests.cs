using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>
/// The SQL Server CDC source end to end. These run wherever a SQL Server with SQL Agent is reachable
/// (RELAY_TEST_SQLSERVER or Testcontainers); on the project's CI machine they are skipped, saying why.
/// </summary>
public class SqlServerSourceTests(SqlServerFixture sqlServer, KafkaFixture kafka)
{
    static readonly TimeSpan CaptureLatency = TimeSpan.FromSeconds(90);   // the capture job polls every 5 s by default

    RelaySettings Settings(SqlServerDatabase db, string topic) => new RelaySettings
    {
        ["Relay:Source"] = "SqlServer",
        ["Relay:SqlServer:ConnectionString"] = db.ConnectionString,
        ["Relay:SqlServer:PositionName"] = db.Name,
        ["Relay:SqlServer:PollInterval"] = "00:00:00.200",
        ["Relay:SqlServer:MaxPollInterval"] = "00:00:01",
        ["Relay:Kafka:BootstrapServers"] = kafka.BootstrapServers,
        ["Relay:Pipeline:ConfirmInterval"] = "00:00:00.200",
        ["Relay:Pipeline:StandbyRetryInterval"] = "00:00:01",
    }.Table(0, "dbo.outbox", ("Topic", topic));

    static string Insert(int from, int count) => $$"""
        INSERT INTO dbo.outbox (aggregatetype, aggregateid, type, payload, seq)
        SELECT 'Order', CONCAT('key-', n % 7), 'Created', CONCAT('{"seq": ', n, '}'), n
        FROM (SELECT TOP ({{count}}) {{from}} - 1 + ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS n FROM sys.all_objects) numbers
        """;

    [Fact]
    public async Task inserts_captured_by_cdc_arrive_mapped_and_updates_and_deletes_do_not()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        // One partition: the relay sends in commit order, so once the last row is read everything before it has been.
        await kafka.CreateTopicAsync(topic, 1);
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(Settings(db, topic));

        await db.ExecuteAsync(Insert(1, 50));
        await db.ExecuteAsync("UPDATE dbo.outbox SET type = 'Updated'; DELETE FROM dbo.outbox WHERE seq > 45;");
        await db.ExecuteAsync(Insert(100, 1));   // the last row

        Assert.True(await Eventually.WaitUntilAsync(() => reader.Messages.Any(m => Payloads.Seq(m) == 100), CaptureLatency, TimeSpan.FromMilliseconds(200)),
            $"the last row did not arrive ({reader.Count} messages did)");
        Assert.Equal(51, reader.Count);
        var first = reader.Messages.OrderBy(Payloads.Seq).First();
        Assert.Equal("key-1", first.Key);
        Assert.Equal("Created", first.Header("type"));
        Assert.Equal("{\"seq\": 1}", first.Value);
        Assert.Matches("^[0-9a-f-]{36}$", first.Header("id")!.ToLowerInvariant());
        foreach (var key in reader.Messages.GroupBy(m => m.Key))
            Assert.Equal(key.OrderBy(m => m.Offset).Select(Payloads.Seq), key.Select(Payloads.Seq).Order());

        // The position lands in relay.positions only after Kafka acknowledged.
        var stored = await db.ScalarAsync<byte[]>($"SELECT commit_lsn FROM relay.positions WHERE name = N'{db.Name}'");
        Assert.Equal(10, stored.Length);
    }

    [Fact]
    public async Task a_stopped_relay_resumes_from_its_stored_position_and_a_second_one_waits_as_standby()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using (var first = await InProcessRelay.StartAsync(Settings(db, topic)))
        {
            await db.ExecuteAsync(Insert(1, 100));
            Assert.True(await reader.WaitForDistinctIdsAsync(100, CaptureLatency));
            await using var second = await InProcessRelay.StartAsync(Settings(db, topic));
            Assert.True(await second.WaitForEventAsync(RelayEvents.Standby, TimeSpan.FromSeconds(30)), "the second relay did not become a standby");
        }
        await db.ExecuteAsync(Insert(101, 100));   // while no relay runs
        await using var restarted = await InProcessRelay.StartAsync(Settings(db, topic));
        Assert.True(await reader.WaitForDistinctIdsAsync(200, CaptureLatency), $"received {reader.DistinctIds} of 200");
        Assert.True(reader.Count - reader.DistinctIds < 100, "the restart re-sent more than the unconfirmed tail");
    }

    [Fact]
    public async Task a_retention_gap_stops_the_relay_saying_what_was_lost()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using (var relay = await InProcessRelay.StartAsync(Settings(db, topic)))
        {
            await db.ExecuteAsync(Insert(1, 10));
            Assert.True(await reader.WaitForDistinctIdsAsync(10, CaptureLatency));
        }
        await db.ExecuteAsync(Insert(11, 10));
        // Wait for the capture job to pick them up, then clean the change table past them.
        Assert.True(await Eventually.WaitUntilAsync(async () => await db.ScalarAsync<int>("SELECT COUNT(*) FROM cdc.dbo_outbox_CT WHERE seq > 10") >= 10,
            CaptureLatency, TimeSpan.FromMilliseconds(250)), "the capture job did not pick up the rows");
        await db.ExecuteAsync("DECLARE @lsn binary(10) = sys.fn_cdc_increment_lsn(sys.fn_cdc_get_max_lsn()); EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_outbox', @low_water_mark = @lsn, @threshold = 5000;");

        await using var restarted = await InProcessRelay.StartAsync(Settings(db, topic));
        await restarted.Stopping.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, restarted.Status.ExitCode);
        Assert.Contains("CDC cleanup removed changes committed between them before Relay published them", restarted.Status.FatalError);
    }
}
