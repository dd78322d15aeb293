using System.Globalization;
using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>The relay as a real process: killed with SIGKILL it loses nothing; stopped with SIGTERM it drains and exits 0.</summary>
public class CrashAndStopTests(PostgresFixture postgres, KafkaFixture kafka)
{
    async Task<(TestDatabase Db, string Topic, RelaySettings Settings)> PrepareAsync(int partitions = 6)
    {
        var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, partitions);
        await db.CreateOutboxTableAsync();
        return (db, topic, RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
    }

    static Task InsertAsync(TestDatabase db, int transaction, int rowsPerTransaction, int keys) =>
        db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
            SELECT 'Order', 'key-' || (g % $3::int), 'Step', jsonb_build_object('seq', g)
            FROM generate_series($1::int * $2::int, $1::int * $2::int + $2::int - 1) g
            """, transaction, rowsPerTransaction, keys);

    static Task WriteSteadilyAsync(TestDatabase db, int transactions, int rowsPerTransaction, int keys, TimeSpan? pause = null) => Task.Run(async () =>
    {
        for (var t = 0; t < transactions; t++)
        {
            await InsertAsync(db, t, rowsPerTransaction, keys);
            await Task.Delay(pause ?? TimeSpan.FromMilliseconds(25));
        }
    });

    [Fact]
    public async Task the_relay_process_killed_with_sigkill_mid_stream_and_restarted_loses_nothing()
    {
        var (db, topic, settings) = await PrepareAsync();
        await using var _ = db;
        using var reader = kafka.ReadTopics(t => t == topic);
        // The soak: RELAY_SOAK_KILLS and RELAY_SOAK_ROWS scale it (CI's default is small; the issue's soak is 20 and 100000).
        var kills = int.TryParse(Environment.GetEnvironmentVariable("RELAY_SOAK_KILLS"), out var k) ? k : 3;
        var rows = int.TryParse(Environment.GetEnvironmentVariable("RELAY_SOAK_ROWS"), out var r) ? r : 20_000;
        const int rowsPerTransaction = 100, keys = 200;
        var transactions = rows / rowsPerTransaction;

        var relay = RelayProcess.Start(settings);
        await db.WaitForStreamingAsync();
        // A paced writer, lasting about as long as the kills take (~2.5 s each), so every kill lands while rows flow.
        var pause = TimeSpan.FromMilliseconds(Math.Max(0, kills * 2500.0 / transactions - 5));
        var writer = WriteSteadilyAsync(db, transactions, rowsPerTransaction, keys, pause);

        var total = transactions * rowsPerTransaction;
        for (var kill = 1; kill <= kills; kill++)
        {
            Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)), "the relay did not start streaming");
            await Task.Delay(Random.Shared.Next(300, 1200));   // a moment the test does not choose
            var before = reader.Count;
            relay.Kill();
            Figures.Report($"SIGKILL {kill} with {before} messages received, writer {(writer.IsCompleted ? "done" : "still inserting")}");
            await relay.DisposeAsync();
            relay = RelayProcess.Start(settings);
        }
        await writer;
        var end = await db.CurrentWalLsnAsync();
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.Equal(total, ids.Count);
        Assert.True(await reader.WaitForDistinctIdsAsync(total, TimeSpan.FromSeconds(120)), $"received {reader.DistinctIds} of {total} events");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)), "slot not confirmed to the end after the last restart");
        // Everything Kafka acknowledged is confirmed; read all of it, re-sent duplicates included, before counting.
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)), "the reader did not catch up with the topic");
        await relay.DisposeAsync();

        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        Figures.Report($"{total} events, {kills} SIGKILLs: 0 lost, {duplicates} duplicates (re-sent unconfirmed tail), per-key order kept among first deliveries");
    }

    [Fact]
    public async Task sigterm_drains_confirms_what_was_acknowledged_and_exits_zero()
    {
        var (db, topic, settings) = await PrepareAsync();
        await using var _ = db;
        // No periodic confirmation during this test: whatever the slot holds afterwards came from the drain at stop.
        settings.With("Relay:Pipeline:ConfirmInterval", "01:00:00");
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = RelayProcess.Start(settings);
        await db.WaitForStreamingAsync();
        var before = await db.ConfirmedFlushLsnAsync();

        for (var t = 0; t < 10; t++)
            await InsertAsync(db, t, 100, 50);
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(1000, TimeSpan.FromSeconds(60)));
        Assert.Equal(before, await db.ConfirmedFlushLsnAsync());

        relay.Terminate();
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));
        Assert.True(relay.Events.Has(RelayEvents.Stopped));
        var confirmed = await db.ConfirmedFlushLsnAsync();
        Assert.True(confirmed >= end, $"confirmed {confirmed}, expected at least {end}");
    }

    [Fact]
    public async Task sigterm_while_messages_are_in_flight_waits_for_their_acknowledgement()
    {
        var (db, topic, settings) = await PrepareAsync();
        await using var _ = db;
        settings.With("Relay:Pipeline:ConfirmInterval", "01:00:00");
        using var reader = kafka.ReadTopics(t => t == topic);
        var relay = RelayProcess.Start(settings);
        await db.WaitForStreamingAsync();
        var writer = WriteSteadilyAsync(db, 50, 100, 50);
        Assert.True(await reader.WaitForCountAsync(1500, TimeSpan.FromSeconds(60)));
        relay.Terminate();
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));
        await relay.DisposeAsync();
        await writer;
        var end = await db.CurrentWalLsnAsync();

        // A second relay sends only what the first did not confirm.
        var confirmedAtStop = await db.ConfirmedFlushLsnAsync();
        var receivedAtStop = reader.Count;
        await using var second = RelayProcess.Start(settings.With("Relay:Pipeline:ConfirmInterval", "00:00:00.200"));
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of {ids.Count} events");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        Figures.Report($"SIGTERM mid-stream: {receivedAtStop} delivered before exit, slot at {confirmedAtStop}; after restart {duplicates} duplicates");
    }

    [Fact]
    public async Task a_taken_diagnostics_port_stops_start_up_with_exit_code_2_before_the_database_is_touched()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Diagnostics:Address", "127.0.0.1").With("Relay:Diagnostics:Port", port.ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"Invalid configuration: Relay:Diagnostics:Port: cannot listen on 127.0.0.1:{port}", string.Join('\n', relay.Output));
        // The endpoints start before the relay connects: a relay that cannot serve them leaves no slot holding WAL behind.
        Assert.Null(await db.ConfirmedFlushLsnAsync());
    }

    [Fact]
    public async Task an_invalid_configuration_stops_start_up_with_exit_code_2_naming_each_key()
    {
        var settings = new RelaySettings
        {
            ["Relay:Postgres:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=relay;Password=hunter2-secret",
            ["Relay:Postgres:SlotName"] = "Bad-Slot",
            ["Relay:Kafka:BootstrapServers"] = "127.0.0.1:1",
            ["Relay:Kafka:Producer:acks"] = "1",
            ["Relay:Outbox:Tables:0:Table"] = "outbox",
        };
        await using var relay = RelayProcess.Start(settings);
        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var output = string.Join('\n', relay.Output);
        Assert.Contains("Invalid configuration: Relay:Postgres:SlotName: must be 1-63 characters", output);
        Assert.Contains("Invalid configuration: Relay:Kafka:Producer:acks: must be all", output);
        Assert.Contains("Invalid configuration: Relay:Outbox:Tables:0:Table: 'outbox' is not a schema-qualified table name", output);
        Assert.DoesNotContain("hunter2-secret", output);
    }

    [Fact]
    public async Task a_fatal_start_up_problem_exits_with_code_1_and_says_what_to_fix()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "sales.outbox"));
        Assert.Equal(1, await relay.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var fatal = Assert.Single(relay.Events.WithId(RelayEvents.Fatal));
        Assert.StartsWith("Relay:Outbox:Tables:0:Table: table 'sales.outbox' does not exist", fatal.Property("Reason"));   // names the key
    }

    [Fact]
    public async Task one_transaction_far_larger_than_the_in_flight_window_streams_through_in_bounded_memory()
    {
        var (db, topic, settings) = await PrepareAsync(partitions: 96);   // the mock keeps 5 MiB per partition
        await using var _ = db;
        settings.With("Relay:Pipeline:MaxInFlightBytes", (8 * 1024 * 1024).ToString())
            .With("Relay:Pipeline:MaxInFlightMessages", "5000");
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = RelayProcess.Start(settings);
        await db.WaitForStreamingAsync();

        const int rows = 300_000;   // ~1 KiB payload each: ~300 MiB in one transaction
        await db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
            SELECT 'Order', 'key-' || (g % 500), 'Step', jsonb_build_object('seq', g, 'pad', repeat('p', 1000))
            FROM generate_series(1, $1::int) g
            """, rows);
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(rows, TimeSpan.FromSeconds(240)), $"received {reader.Count} of {rows}");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));

        var peakRss = File.ReadLines($"/proc/{relay.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        var peakMiB = long.Parse(peakRss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        Figures.Report($"one transaction of {rows} rows (~300 MiB of payload), in-flight window 8 MiB: relay peak RSS {peakMiB} MiB");
        // Holding the transaction whole would take well over 300 MiB on top of the runtime.
        Assert.True(peakMiB < 256, $"peak RSS {peakMiB} MiB");
    }

    [Fact]
    public async Task a_missing_config_file_is_named()
    {
        await using var relay = RelayProcess.Start(new RelaySettings(), "--config", "/nonexistent/relay.json");
        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(relay.Output, l => l.Contains("Configuration file '/nonexistent/relay.json' does not exist", StringComparison.Ordinal));
    }
}
