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
        Assert.Contains("LSN range lost", restarted.Status.FatalError);
    }

    static string InsertInto(string table, int from, int count) => Insert(from, count).Replace("dbo.outbox ", $"dbo.{table} ", StringComparison.Ordinal);

    async Task WaitUntilCapturedAsync(SqlServerDatabase db, string instance, int rows)
    {
        var deadline = DateTime.UtcNow + CaptureLatency;
        while (DateTime.UtcNow < deadline && await db.ScalarAsync<int>($"SELECT COUNT(*) FROM cdc.[{instance}_CT] WHERE __$operation = 2") < rows)
            await Task.Delay(500);
    }

    [Fact]
    public async Task issue_13_row_1_a_rotation_on_one_table_while_another_fills_its_batches_loses_nothing()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.CreateOutboxTableAsync("outbox2");
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = Settings(db, topic).Table(1, "dbo.outbox2", ("Topic", topic)).With("Relay:SqlServer:BatchSize", "5");
        await using var relay = await InProcessRelay.StartAsync(settings);

        await db.ExecuteAsync(InsertInto("outbox2", 1, 200));   // many full batches of outbox2 hold the merge back
        await db.ExecuteAsync(Insert(1001, 20));               // read from the old instance of outbox
        await db.ExecuteAsync("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'outbox', @role_name = NULL, @capture_instance = N'dbo_outbox_v2'");
        await db.ExecuteAsync(Insert(2001, 20));               // in both instances: read once, from the new one
        Assert.True(await reader.WaitForDistinctIdsAsync(240, CaptureLatency), $"received {reader.DistinctIds} of 240");
    }

    [Fact]
    public async Task issue_13_row_2_an_outbox_idle_past_a_cleanup_restarts_without_a_gap()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.CreateOutboxTableAsync("busy");   // another captured table keeps the database's max LSN moving
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using (var relay = await InProcessRelay.StartAsync(Settings(db, topic)))
        {
            await db.ExecuteAsync(Insert(1, 10));
            Assert.True(await reader.WaitForDistinctIdsAsync(10, CaptureLatency));
            await db.ExecuteAsync(InsertInto("busy", 1, 10));
            await WaitUntilCapturedAsync(db, "dbo_busy", 10);
            // The idle outbox's position follows the newest captured LSN.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline && await db.ScalarAsync<int>(
                       $"SELECT CASE WHEN commit_lsn >= sys.fn_cdc_get_max_lsn() THEN 1 ELSE 0 END FROM relay.positions WHERE name = N'{db.Name}'") == 0)
                await Task.Delay(500);
        }
        // "Three days later": cleanup up to the newest LSN.
        await db.ExecuteAsync("DECLARE @lsn binary(10) = sys.fn_cdc_get_max_lsn(); EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_outbox', @low_water_mark = @lsn, @threshold = 5000;");
        await using var restarted = await InProcessRelay.StartAsync(Settings(db, topic));
        await db.ExecuteAsync(Insert(11, 5));
        Assert.True(await reader.WaitForDistinctIdsAsync(15, CaptureLatency), $"received {reader.DistinctIds} of 15; {restarted.Status.FatalError}");
    }

    [Fact]
    public async Task issue_13_row_3_a_cleanup_that_overtakes_a_running_relay_stops_it()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        // Polls every 30 s: the cleanup below runs between two polls, after the capture job and before Relay.
        var settings = Settings(db, topic).With("Relay:SqlServer:PollInterval", "00:00:30").With("Relay:SqlServer:MaxPollInterval", "00:00:30");
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.ExecuteAsync(Insert(1, 10));
        await WaitUntilCapturedAsync(db, "dbo_outbox", 10);
        await db.ExecuteAsync("DECLARE @lsn binary(10) = sys.fn_cdc_increment_lsn(sys.fn_cdc_get_max_lsn()); EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_outbox', @low_water_mark = @lsn, @threshold = 5000;");
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains("LSN range lost", relay.Status.FatalError);
    }

    [Fact]
    public async Task issue_13_row_4_when_cleanup_gave_two_instances_one_start_the_newer_is_read()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using (var relay = await InProcessRelay.StartAsync(Settings(db, topic)))
        {
            await db.ExecuteAsync(Insert(1, 5));
            Assert.True(await reader.WaitForDistinctIdsAsync(5, CaptureLatency));
        }
        await db.ExecuteAsync("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'outbox', @role_name = NULL, @capture_instance = N'dbo_outbox_v2'");
        await db.ExecuteAsync(Insert(6, 5));
        await WaitUntilCapturedAsync(db, "dbo_outbox_v2", 5);
        // Both instances now start at the same LSN (as cleanup leaves them); only create_date says which is newer.
        await db.ExecuteAsync("""
            DECLARE @lsn binary(10) = (SELECT start_lsn FROM cdc.change_tables WHERE capture_instance = N'dbo_outbox_v2');
            EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_outbox', @low_water_mark = @lsn, @threshold = 5000;
            EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_outbox_v2', @low_water_mark = @lsn, @threshold = 5000;
            """);
        await using var restarted = await InProcessRelay.StartAsync(Settings(db, topic).With("Relay:SqlServer:ResumeFromMinimumOnRetentionGap", "true"));
        Assert.True(await reader.WaitForDistinctIdsAsync(10, CaptureLatency), $"received {reader.DistinctIds} of 10; {restarted.Status.FatalError}");
        Assert.Contains(restarted.Logs, l => l.Contains("Reading CDC capture instance dbo_outbox_v2 for dbo.outbox", StringComparison.Ordinal));
    }

    [Fact]
    public async Task issue_13_row_5_a_relay_waiting_on_kafka_keeps_its_lease_and_the_standby_stays_standby()
    {
        Assert.SkipWhen(sqlServer.ConnectionString is null, sqlServer.SkipReason);
        await using var db = await sqlServer.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".orders";
        // A broker nobody listens on: nothing is ever acknowledged; a small window makes reading wait on backpressure.
        var stalled = Settings(db, topic).With("Relay:Kafka:BootstrapServers", "127.0.0.1:9")
            .With("Relay:Pipeline:MaxInFlightMessages", "5").With("Relay:SqlServer:LeaseDuration", "00:00:03");
        await using var active = await InProcessRelay.StartAsync(stalled);
        await db.ExecuteAsync(Insert(1, 50));
        await WaitUntilCapturedAsync(db, "dbo_outbox", 50);
        var owner = await db.ScalarAsync<string>($"SELECT owner FROM relay.positions WHERE name = N'{db.Name}'");
        await using var standby = await InProcessRelay.StartAsync(stalled);
        await Task.Delay(TimeSpan.FromSeconds(12));   // four lease durations without a single acknowledgement
        Assert.Equal(owner, await db.ScalarAsync<string>($"SELECT owner FROM relay.positions WHERE name = N'{db.Name}'"));
        Assert.Equal(1, await db.ScalarAsync<int>($"SELECT CASE WHEN lease_until > SYSUTCDATETIME() THEN 1 ELSE 0 END FROM relay.positions WHERE name = N'{db.Name}'"));
        Assert.Contains(standby.Logs, l => l.Contains("Standby:", StringComparison.Ordinal));
    }
}
