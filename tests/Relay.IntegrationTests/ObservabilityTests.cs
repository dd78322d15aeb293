using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Npgsql;
using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>What operators see: Prometheus metrics, health endpoints, structured logs.</summary>
public partial class ObservabilityTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    static async Task<Dictionary<string, double>> ScrapeAsync(int port)
    {
        var text = await Http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        return text.Split('\n').Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.LastIndexOf(' ') is var i and > 0 ? (l[..i].Replace("{}", ""), double.Parse(l[(i + 1)..], CultureInfo.InvariantCulture)) : default)
            .Where(p => p.Item1 is not null)
            .GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => g.Last().Item2);
    }

    static async Task<(HttpStatusCode Status, string Body)> GetAsync(int port, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task metrics_move_as_events_flow()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var port = PostgresCluster.FreePort();
        using var reader = kafka.ReadTopics(t => t == db.Name);
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Diagnostics:Port", port.ToString()).With("Relay:Postgres:LagSampleInterval", "00:00:00.500")
            .With("Relay:Kafka:Producer:statistics.interval.ms", "500"));
        Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        var before = await ScrapeAsync(port);

        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || (g % 9), 't', '{}' FROM generate_series(1, 500) g");
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(500, TimeSpan.FromSeconds(30)));
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        // The lag gauge is sampled every 500 ms: wait for a sample taken after the confirmation.
        const string lag = "relay_replication_slot_lag_bytes";
        var after = before;
        Assert.True(await Eventually.WaitUntilAsync(async () =>
            {
                after = await ScrapeAsync(port);
                return after["relay_confirmed_position"] >= (ulong)end && after.TryGetValue(lag, out var bytes) && bytes < 1024 * 1024
                       && after.GetValueOrDefault("relay_kafka_messages_sent_total") >= 500;
            }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200)),
            $"no lag sample under 1 MiB after the confirmation: {after.GetValueOrDefault(lag)} bytes");

        const string table = "{table=\"public.outbox\"}";
        Assert.Equal(500, after["relay_rows_received_total" + table] - before.GetValueOrDefault("relay_rows_received_total" + table));
        Assert.Equal(500, after["relay_messages_published_total" + table] - before.GetValueOrDefault("relay_messages_published_total" + table));
        Assert.Equal(500, after["relay_commit_to_ack_seconds_count"] - before.GetValueOrDefault("relay_commit_to_ack_seconds_count"));
        Assert.True(after["relay_commit_to_ack_seconds_sum"] > 0);
        // Relay's latency buckets (from 1 ms), not the exporter's defaults.
        Assert.Equal(500, after["relay_commit_to_ack_seconds_bucket{le=\"+Inf\"}"] - before.GetValueOrDefault("relay_commit_to_ack_seconds_bucket{le=\"+Inf\"}"));
        Assert.Contains("relay_commit_to_ack_seconds_bucket{le=\"0.0025\"}", after.Keys);
        Assert.Equal(500, after["relay_receive_to_ack_seconds_count"] - before.GetValueOrDefault("relay_receive_to_ack_seconds_count"));
        Assert.True(after["relay_receive_to_ack_seconds_sum"] <= after["relay_commit_to_ack_seconds_sum"]);
        Assert.Equal(1, after["relay_source_connected"]);
        Assert.Equal(1, after["relay_role{role=\"active\"}"]);
        Assert.Equal(0, after["relay_role{role=\"standby\"}"]);
        Assert.Equal(0, after["relay_in_flight_messages"]);
        Assert.Equal(0, after["relay_in_flight_bytes"]);
        Assert.True(after["relay_confirmed_position"] >= (ulong)end, "confirmed position gauge behind the slot");
        Assert.True(after["relay_received_position"] >= after["relay_confirmed_position"]);
        Assert.True(after["relay_seconds_since_last_acknowledged_commit"] < 60);
        var lastAcknowledged = DateTimeOffset.FromUnixTimeMilliseconds((long)(after["relay_last_acknowledged_commit_timestamp_seconds"] * 1000));
        Assert.InRange(lastAcknowledged, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(0, after["relay_source_reconnects_total"]);
        foreach (var kind in new[] { "delivery", "fatal", "unpublishable_row", "client" })
            Assert.Equal(0, after[$"relay_publish_errors_total{{kind=\"{kind}\"}}"]);   // there from the start: a first error is an increase
        Assert.Equal(0, after["relay_messages_dead_lettered_total" + table]);
        Assert.Contains(after, m => m.Key.StartsWith("relay_build_info{", StringComparison.Ordinal) && m.Key.Contains("librdkafka=\"2.") && m.Value == 1);
        // librdkafka's statistics: every message went out, in fewer produce requests than messages.
        var produceRequests = after.Where(m => m.Key.StartsWith("relay_kafka_produce_requests_total{broker=", StringComparison.Ordinal)).Sum(m => m.Value);
        Assert.InRange(produceRequests, 1, after["relay_kafka_messages_sent_total"] - 1);
        Assert.Contains(after.Keys, k => k.StartsWith("relay_kafka_broker_rtt_seconds{broker=", StringComparison.Ordinal));
        Assert.Contains(after.Keys, k => k.StartsWith("relay_kafka_request_errors_total{broker=", StringComparison.Ordinal));
        Assert.Equal(0, after["relay_kafka_queued_messages"]);
        Assert.True(after["process_cpu_seconds_total"] > 0);
        Assert.True(after["process_resident_memory_bytes"] > 10 << 20);
        Assert.InRange(after["process_start_time_seconds"], DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Contains(after.Keys, k => k.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal));
        Figures.Report($"metrics after 500 events: commit->ack mean {after["relay_commit_to_ack_seconds_sum"] / after["relay_commit_to_ack_seconds_count"] * 1000:F1} ms, slot lag {after["relay_replication_slot_lag_bytes"]} bytes");
    }

    [Fact]
    public async Task health_says_alive_through_a_database_outage_and_ready_only_while_streaming_or_standby()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries for a server this test stops");
        await using var cluster = await PostgresCluster.StartAsync();
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        await db.CreateOutboxTableAsync();
        var (activePort, standbyPort) = (PostgresCluster.FreePort(), PostgresCluster.FreePort());
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name));
        await using var active = RelayProcess.Start(new RelaySettings().Merge(settings).With("Relay:Diagnostics:Port", activePort.ToString()));
        Assert.True(await active.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        await using var standby = RelayProcess.Start(new RelaySettings().Merge(settings).With("Relay:Diagnostics:Port", standbyPort.ToString()));
        Assert.True(await standby.WaitForEventAsync(RelayEvents.Standby, TimeSpan.FromSeconds(60)));

        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(activePort, "/healthz"));
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(activePort, "/readyz"));
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await GetAsync(standbyPort, "/readyz"));
        var standbyMetrics = await ScrapeAsync(standbyPort);
        Assert.Equal(1, standbyMetrics["relay_role{role=\"standby\"}"]);

        await cluster.StopServerAsync("fast");
        Assert.True(await Eventually.WaitUntilAsync(async () => (await GetAsync(activePort, "/readyz")).Status != HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200)), "still ready with the database stopped");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(activePort, "/readyz")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(activePort, "/healthz")).Status);   // a database outage is no reason to be killed
        var duringOutage = await ScrapeAsync(activePort);
        Assert.Equal(0, duringOutage["relay_source_connected"]);
        Assert.True(duringOutage["relay_source_reconnects_total"] >= 1, "the failed run was not counted as a reconnect");

        await cluster.StartServerAsync();
        Assert.True(await Eventually.WaitUntilAsync(async () => (await GetAsync(activePort, "/readyz")).Status == HttpStatusCode.OK
                                                              || (await GetAsync(standbyPort, "/readyz")).Status == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200)), "neither relay became ready after the database returned");
        // Each probe of an unready relay is an answer (503), not an error: the relay's own lines tell the outage once.
        Assert.DoesNotContain(active.Events, e => e.Properties.GetValueOrDefault("SourceContext")?.StartsWith("Microsoft.Extensions.Diagnostics.HealthChecks", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task a_linger_shorter_than_the_brokers_round_trip_under_load_is_reported_with_the_setting_that_ends_it()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection (a distant broker); the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == db.Name);
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Kafka:Producer:linger.ms", "1").With("Relay:Kafka:Producer:statistics.interval.ms", "500"));
        Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        var written = 0;
        try
        {
            for (var broker = 1; broker <= mock!.BrokerCount; broker++)
                mock.SetRoundTripTime(broker, 30);
            // A steady load for a few statistics intervals: batches of more than 5 messages waiting on 30 ms round trips.
            var until = DateTime.UtcNow.AddSeconds(4);
            while (DateTime.UtcNow < until && !relay.Events.Has(RelayEvents.LingerBelowRoundTrip))
            {
                await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || (g % 50), 't', '{}' FROM generate_series(1, 200) g");
                written += 200;
                await Task.Delay(20);
            }
            Assert.True(await relay.WaitForEventAsync(RelayEvents.LingerBelowRoundTrip, TimeSpan.FromSeconds(10)), "no warning about the linger");
        }
        finally
        {
            for (var broker = 1; broker <= mock!.BrokerCount; broker++)
                mock.SetRoundTripTime(broker, 0);
        }

        var warning = Assert.Single(relay.Events.WithId(RelayEvents.LingerBelowRoundTrip));
        Assert.Equal("Warning", warning.Level);
        Assert.Equal("1", warning.Property("LingerMs"));
        Assert.True(double.Parse(warning.Property("RoundTripMs")!, CultureInfo.InvariantCulture) >= 30, warning.Message);
        Assert.True(double.Parse(warning.Property("SuggestedLingerMs")!, CultureInfo.InvariantCulture) >= 30, warning.Message);
        Assert.Contains("Relay:Kafka:Producer:linger.ms", warning.Message);
        Assert.True(await reader.WaitForCountAsync(written, TimeSpan.FromSeconds(30)), $"received {reader.Count} of {written}");
    }

    [Fact]
    public async Task logs_are_compact_json_lines_telling_the_lifecycle_not_each_event()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == db.Name);
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Diagnostics:LogFormat", "Json"));   // RelayProcess's default; said here, as it is what this test is about
        Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k', 't', '{}' FROM generate_series(1, 1000) g");
        Assert.True(await reader.WaitForCountAsync(1000, TimeSpan.FromSeconds(30)));
        relay.Terminate();
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));

        // Every line is a JSON event, and the lifecycle is told by event ids.
        var events = relay.Output.Select(JsonLogLine.Parse).ToList();
        Assert.Equal(events.Count, relay.Events.Count);
        Assert.Contains(events, e => e.Id == RelayEvents.Starting);
        Assert.Contains(events, e => e.Id == RelayEvents.SlotCreated && e.Name == "SlotCreated");
        Assert.Contains(events, e => e.Id == RelayEvents.StreamingStarted);
        Assert.Contains(events, e => e.Id == RelayEvents.Stopped);
        Assert.True(events.Count < 30, $"{events.Count} log lines for 1000 events");
    }

    /// <summary>
    /// Serilog's own configuration (README "Serilog") works in the executable the image ships: it names the sink, the
    /// formatter and level overrides, which Serilog.Settings.Configuration resolves by reflection (kept by Relay.csproj).
    /// </summary>
    [Fact]
    public async Task a_serilog_sink_formatter_and_level_override_from_configuration_are_used()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Serilog:WriteTo:0:Name", "Console")
            .With("Serilog:WriteTo:0:Args:formatter", "Serilog.Formatting.Compact.CompactJsonFormatter, Serilog.Formatting.Compact")
            .With("Serilog:MinimumLevel:Default", "Information")
            .With("Serilog:MinimumLevel:Override:Relay.Postgres", "Warning"));
        Assert.True(await Eventually.WaitUntilAsync(() => Task.FromResult(relay.Output.Any(l => l.Contains("RelaySupervisor", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100)), "no log line from the supervisor: " + string.Join('\n', relay.Output));
        await db.WaitForStreamingAsync();
        relay.Terminate();
        Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));

        // CompactJsonFormatter (the configured one) writes the template (@mt); Relay's default formatter renders it (@m).
        var lines = relay.Output.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(lines, l => Assert.True(l.TryGetProperty("@mt", out _), l.ToString()));
        Assert.Contains(lines, l => l.GetProperty("SourceContext").GetString() == "Relay.Pipeline.RelaySupervisor");
        // Relay.Postgres logs at Information when it connects and streams; overridden to Warning, none of it shows.
        Assert.DoesNotContain(lines, l => l.GetProperty("SourceContext").GetString()!.StartsWith("Relay.Postgres", StringComparison.Ordinal));
    }

    /// <summary>A sink Relay does not ship would leave a relay running without a single log line: start-up stops instead.</summary>
    [Fact]
    public async Task a_serilog_sink_relay_does_not_ship_stops_start_up_with_exit_code_2_naming_it_before_the_database_is_touched()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Serilog:WriteTo:0:Name", "File")
            .With("Serilog:WriteTo:0:Args:path", "/tmp/relay-test.log"));
        Assert.Equal(2, await relay.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var error = Assert.Single(relay.Output, l => l.StartsWith("Invalid configuration: Serilog:", StringComparison.Ordinal));
        Assert.Contains("File", error, StringComparison.Ordinal);
        Assert.Null(await db.ConfirmedFlushLsnAsync());
    }

    static async Task<(int ExitCode, string Output)> CheckAsync(RelaySettings settings)
    {
        await using var relay = RelayProcess.Start(settings, "check");
        var code = await relay.WaitForExitAsync(TimeSpan.FromSeconds(90));
        var output = string.Join('\n', relay.Output);
        Figures.Report("relay check:\n    " + string.Join("\n    ", relay.Output));
        return (code, output);
    }

    [Fact]
    public async Task check_passes_on_a_ready_setup()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name;
        await kafka.CreateTopicAsync(topic, 3);
        var (code, output) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        Assert.Equal(0, code);
        Assert.Contains("PASS  wal_level: logical", output);
        Assert.Contains($"PASS  topic {topic}: exists", output);
        Assert.Contains("checks passed.", output);
        Assert.DoesNotContain("FAIL", output);
    }

    [Fact]
    public async Task check_reports_each_database_problem_with_its_fix()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.outbox");
        await db.ExecuteAsync("CREATE TABLE public.narrow (id uuid, payload jsonb)");
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox");   // all operations, lacks narrow
        await db.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'test_decoding')");
        var role = db.Name + "_plain";
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN");
        try
        {
            var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox").Table(1, "public.narrow").Table(2, "public.missing")
                .With("Relay:Postgres:ConnectionString", new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role }.ConnectionString);
            var (code, output) = await CheckAsync(settings);
            Assert.Equal(1, code);
            Assert.Contains($"FAIL  REPLICATION privilege: Role '{role}' lacks the REPLICATION attribute", output);
            Assert.Contains($"fix: run ALTER ROLE {role} WITH REPLICATION", output);
            Assert.Contains("FAIL  table public.narrow: Relay:Outbox:Tables:1:KeyColumn: column 'aggregateid' does not exist in table 'public.narrow'", output);
            Assert.Contains("FAIL  table public.missing: Relay:Outbox:Tables:2:Table: table 'public.missing' does not exist", output);
            Assert.Contains($"FAIL  publication {db.PublicationName}: Relay:Postgres:PublicationName: publication '{db.PublicationName}' exists but does not include public.narrow, public.missing", output);
            Assert.Contains($"FAIL  replication slot {db.SlotName}: Relay:Postgres:SlotName: slot '{db.SlotName}' exists but is a logical slot with plugin 'test_decoding'", output);
        }
        finally
        {
            await db.ExecuteAsync($"DROP ROLE {role}");
        }

        await db.ExecuteAsync($"ALTER PUBLICATION {db.PublicationName} ADD TABLE public.narrow");
        var (_, insertOnly) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        Assert.Contains($"WARN  publication {db.PublicationName}: also publishes update, delete, truncate", insertOnly);
        Assert.Contains($"fix: ALTER PUBLICATION {db.PublicationName} SET (publish = 'insert')", insertOnly);
    }

    [Fact]
    public async Task check_reports_a_missing_slot_and_publication_it_may_not_create()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var (code, output) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
            .With("Relay:Postgres:CreateSlot", "false").With("Relay:Postgres:CreatePublication", "false"));
        Assert.Equal(1, code);
        Assert.Contains($"FAIL  publication {db.PublicationName}: Relay:Postgres:PublicationName: publication '{db.PublicationName}' does not exist and Relay:Postgres:CreatePublication is false", output);
        Assert.Contains($"fix: create it with CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')", output);
        Assert.Contains($"FAIL  replication slot {db.SlotName}: Relay:Postgres:SlotName: replication slot '{db.SlotName}' does not exist and Relay:Postgres:CreateSlot is false", output);
        Assert.Contains($"fix: create it with SELECT pg_create_logical_replication_slot('{db.SlotName}', 'pgoutput')", output);
    }

    [Fact]
    public async Task check_reports_server_limits_wal_level_and_a_lost_slot()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries for servers with special settings");
        await using (var replica = await PostgresCluster.StartAsync(["wal_level = replica"]))
        {
            var (code, output) = await CheckAsync(new RelaySettings
            {
                ["Relay:Postgres:ConnectionString"] = replica.ConnectionString,
                ["Relay:Kafka:BootstrapServers"] = kafka.BootstrapServers,
            }.Table(0, "public.outbox"));
            Assert.Equal(1, code);
            Assert.Contains("FAIL  wal_level: PostgreSQL wal_level is 'replica'", output);
        }

        await using var cluster = await PostgresCluster.StartAsync(["max_replication_slots = 1", "max_wal_senders = 1",
            "max_slot_wal_keep_size = 1MB", "max_wal_size = 64MB", "min_wal_size = 32MB"]);
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')");
        await using (var sender = new Npgsql.Replication.LogicalReplicationConnection(db.ConnectionString))
        {
            await sender.Open();   // holds the only walsender
            var (code, output) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
            Assert.Equal(1, code);
            Assert.Contains("FAIL  max_replication_slots: all 1 replication slots are in use", output);
            Assert.Contains("WARN  max_wal_senders: all 1 in use", output);
        }

        await db.ExecuteAsync("SELECT pg_drop_replication_slot('someone_else')");
        await db.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'pgoutput')");
        Assert.Equal("lost", await db.MakeSlotLoseWalAsync());
        var (lostCode, lost) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        Assert.Equal(1, lostCode);
        Assert.Contains($"FAIL  replication slot {db.SlotName}: Relay:Postgres:SlotName: replication slot '{db.SlotName}' has lost WAL it still needed (wal_status = lost", lost);
    }

    [Fact]
    public async Task check_reports_broker_and_producer_problems()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();

        var (code, output) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox").With("Relay:Kafka:Producer:acks", "1"));
        Assert.Equal(1, code);
        Assert.Contains("FAIL  configuration: Relay:Kafka:Producer:acks: must be all", output);

        var (missingCode, missing) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name + ".never_created")));
        Assert.Equal(1, missingCode);
        Assert.Contains($"FAIL  topic {db.Name}.never_created: missing", missing);

        var (downCode, down) = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
            .With("Relay:Kafka:BootstrapServers", $"127.0.0.1:{PostgresCluster.FreePort()}"));
        Assert.Equal(1, downCode);
        Assert.Contains("FAIL  broker reachable:", down);
    }
}
