using System.Diagnostics;
using Npgsql;
using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>The failures platform teams meet: a database that restarts, a second relay, a slot that lost its WAL, bad credentials.</summary>
public class ReliabilityTests(PostgresFixture postgres, KafkaFixture kafka)
{
    /// <summary>Inserts with ids derived from the sequence number, retried until they land: safe across a server restart.</summary>
    static async Task InsertIdempotentlyAsync(TestDatabase db, int from, int count, int keys)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await db.ExecuteAsync("""
                    INSERT INTO public.outbox (id, aggregatetype, aggregateid, type, payload)
                    SELECT md5(g::text)::uuid, 'Order', 'key-' || (g % $3::int), 'Step', jsonb_build_object('seq', g)
                    FROM generate_series($1::int, $1::int + $2::int - 1) g
                    ON CONFLICT (id) DO NOTHING
                    """, from, count, keys);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException && attempt < 200)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task the_relay_reconnects_and_resumes_after_the_walsender_is_terminated_and_postgres_restarts()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries for a server this test may restart");
        await using var cluster = await PostgresCluster.StartAsync();
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();

        var next = 0;
        async Task WriteAsync(int transactions)
        {
            for (var t = 0; t < transactions; t++, next += 50)
            {
                await InsertIdempotentlyAsync(db, next, 50, 20);
                await Task.Delay(20);
            }
        }

        await WriteAsync(20);
        await db.ExecuteAsync("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", db.SlotName);
        await WriteAsync(20);
        await db.WaitForStreamingAsync();   // reconnected

        // Stop the server while rows flow: once the writer has committed a few of its next transactions.
        var writingFrom = next;
        var writing = WriteAsync(40);
        Assert.True(await Eventually.WaitUntilAsync(() => next >= writingFrom + 150, TimeSpan.FromSeconds(30)), "the writer made no progress");
        var failuresBefore = relay.Events.CountOf(RelayEvents.RunFailed);
        await cluster.StopServerAsync("fast");
        // Start it again once the relay has met the outage (its run failed and it backs off to reconnect).
        Assert.True(await relay.WaitForEventAsync(RelayEvents.RunFailed, TimeSpan.FromSeconds(30), count: failuresBefore + 1),
            "the relay did not notice the server stopping");
        await cluster.StartServerAsync();
        await writing;
        await WriteAsync(10);

        var end = await db.CurrentWalLsnAsync();
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.Equal(next, ids.Count);
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(90)), $"received {reader.DistinctIds} of {ids.Count} events");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        var reconnects = relay.Events.CountOf(RelayEvents.RunFailed);
        Assert.True(reconnects >= 2, $"expected reconnections with backoff, saw {reconnects}");
        Figures.Report($"walsender terminated + server restarted mid-stream: {ids.Count} events, 0 lost, {duplicates} duplicates, {reconnects} reconnect attempts");
    }

    [Fact]
    public async Task a_standby_relay_takes_over_within_seconds_after_the_active_one_is_killed()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await db.CreateOutboxTableAsync();
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));

        await using var active = RelayProcess.Start(settings);
        Assert.True(await active.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        await using var standby = RelayProcess.Start(settings);
        Assert.True(await standby.WaitForEventAsync(RelayEvents.Standby, TimeSpan.FromSeconds(60)), "the second relay did not become a standby");

        const string walsender = "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1";
        var activeWalsender = await db.ScalarAsync<int>(walsender, db.SlotName);
        await InsertIdempotentlyAsync(db, 0, 200, 20);
        Assert.True(await reader.WaitForCountAsync(200, TimeSpan.FromSeconds(60)));
        // A few standby retries (each connects anew, then finds the slot in use): the slot stays with the first relay's walsender.
        var attempts = standby.Events.CountOf(RelayEvents.Connected);
        Assert.True(await standby.WaitForEventAsync(RelayEvents.Connected, TimeSpan.FromSeconds(30), count: attempts + 2), "the standby did not retry");
        Assert.False(standby.Events.Has(RelayEvents.StreamingStarted));
        Assert.Equal(activeWalsender, await db.ScalarAsync<int>(walsender, db.SlotName));

        var killedAt = Stopwatch.StartNew();
        active.Kill();
        Assert.True(await standby.WaitForEventAsync(RelayEvents.TookOver, TimeSpan.FromSeconds(30)), "the standby did not take over");
        var takeover = killedAt.Elapsed;
        await InsertIdempotentlyAsync(db, 200, 200, 20);
        var ids = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of {ids.Count} events");
        Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
        Figures.Report($"standby took over {takeover.TotalSeconds:F1} s after the active relay was SIGKILLed (StandbyRetryInterval 2 s)");
        Assert.True(takeover < TimeSpan.FromSeconds(10), $"takeover took {takeover}");
    }

    [Fact]
    public async Task an_unreachable_database_at_start_exits_1_at_once_with_one_line_saying_so()
    {
        var settings = new RelaySettings
        {
            ["Relay:Postgres:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=relay;Password=never-printed-1",
            ["Relay:Kafka:BootstrapServers"] = kafka.BootstrapServers,
        }.Table(0, "public.outbox");
        var started = Stopwatch.StartNew();
        await using var relay = RelayProcess.Start(settings);
        Assert.Equal(1, await relay.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"took {started.Elapsed} to give up");
        var fatal = Assert.Single(relay.Events.WithId(RelayEvents.Fatal));
        Assert.StartsWith("PostgreSQL at 127.0.0.1:1 is unreachable (ConnectionRefused", fatal.Property("Reason"));   // says what is wrong
        Assert.DoesNotContain(relay.Output, l => l.Contains("never-printed-1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task bad_credentials_at_start_stop_the_relay_without_showing_the_password()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var role = PostgresCluster.PasswordRole;
        await db.ExecuteAsync($"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN REPLICATION PASSWORD 'the-right-one'; END IF; END $$");
        var wrong = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = "Wr0ng-Secret-Pass" }.ConnectionString;
        await using (var probe = new NpgsqlConnection(wrong))
        {
            var accepted = true;
            try { await probe.OpenAsync(); } catch (PostgresException) { accepted = false; }
            Assert.SkipWhen(accepted, $"the server from {postgres.Origin} does not check passwords on this connection");
        }

        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
            .With("Relay:Postgres:ConnectionString", wrong));
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.StartsWith($"PostgreSQL at 127.0.0.1:", relay.Status.FatalError);
        Assert.Contains($"refused user '{role}'", relay.Status.FatalError);
        Assert.Contains("the password is not shown", relay.Status.FatalError);
        Assert.DoesNotContain(relay.Logs, l => l.Contains("Wr0ng-Secret-Pass", StringComparison.Ordinal));
    }

    [Fact]
    public async Task a_replication_role_authenticating_with_scram_streams()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var role = PostgresCluster.PasswordRole;
        await db.ExecuteAsync($"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN REPLICATION PASSWORD 'the-right-one'; END IF; END $$");
        await db.ExecuteAsync($"GRANT SELECT ON public.outbox TO {role}");
        // The role does not own the table, so the publication is made by its owner, as a DBA would.
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')");
        var scram = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = "the-right-one" }.ConnectionString;
        using var reader = kafka.ReadTopics(t => t == db.Name);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Postgres:ConnectionString", scram));
        await db.WaitForStreamingAsync();
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', 'a', 't', NULL)");
        Assert.True(await reader.WaitForCountAsync(1, TimeSpan.FromSeconds(30)));
        var tombstone = reader.Messages.Single();
        Assert.Equal("a", tombstone.Key);
        Assert.Null(tombstone.ValueBytes);   // a NULL payload is a tombstone by default
        Assert.DoesNotContain(relay.Logs, l => l.Contains("the-right-one", StringComparison.Ordinal));
        await db.ExecuteAsync($"REVOKE ALL ON public.outbox FROM {role}");
    }

    [Fact]
    public async Task a_role_without_replication_is_refused_with_the_statement_to_fix_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var role = db.Name + "_plain";
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN");
        try
        {
            await db.ExecuteAsync($"GRANT SELECT ON public.outbox TO {role}");
            var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role }.ConnectionString;
            await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
                .With("Relay:Postgres:ConnectionString", connection));
            await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, relay.Status.ExitCode);
            // Every prerequisite that fails is reported at once, this one among them, as a line of its own.
            Assert.Contains($"Role '{role}' lacks the REPLICATION attribute that logical replication needs: run ALTER ROLE {role} WITH REPLICATION.",
                relay.Status.FatalError!.Split(Environment.NewLine));
        }
        finally
        {
            await db.ExecuteAsync($"REVOKE ALL ON public.outbox FROM {role}");
            await db.ExecuteAsync($"DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task a_slot_whose_wal_was_removed_is_refused_at_once_saying_what_was_lost()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries for a server with a tiny max_slot_wal_keep_size");
        await using var cluster = await PostgresCluster.StartAsync(["max_slot_wal_keep_size = 1MB", "max_wal_size = 64MB", "min_wal_size = 32MB"]);
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'pgoutput')");
        Assert.Equal("lost", await db.MakeSlotLoseWalAsync());

        var started = Stopwatch.StartNew();
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains($"replication slot '{db.SlotName}' has lost WAL it still needed (wal_status = lost", relay.Status.FatalError);
        Figures.Report($"lost slot refused after {started.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task secrets_from_a_mounted_directory_are_used_and_never_logged()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name;
        using var reader = kafka.ReadTopics(t => t == topic);
        const string databasePassword = "Pg-Secret-4821", kafkaPassword = "Sasl-Secret-9173";
        var secrets = Directory.CreateTempSubdirectory("relay-secrets-").FullName;
        try
        {
            // The connection string (with a password the trusted loopback ignores) and a SASL password come only from files.
            await File.WriteAllTextAsync(Path.Combine(secrets, "Relay__Postgres__ConnectionString"),
                new NpgsqlConnectionStringBuilder(db.ConnectionString) { Password = databasePassword }.ConnectionString);
            await File.WriteAllTextAsync(Path.Combine(secrets, "Relay__Kafka__Producer__sasl.password"), kafkaPassword);
            var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))
                .With("Relay:Postgres:ConnectionString", null)
                .With("Relay:Kafka:Producer:sasl.username", "relay");
            settings.Environment["RELAY_SECRETS_DIR"] = secrets;
            await using var relay = RelayProcess.Start(settings);
            Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)), "did not stream with the mounted secrets");
            await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('A', 'a', 't', '{}')");
            Assert.True(await reader.WaitForCountAsync(1, TimeSpan.FromSeconds(30)));
            relay.Terminate();
            Assert.Equal(0, await relay.WaitForExitAsync(TimeSpan.FromSeconds(40)));
            Assert.NotEmpty(relay.Output);
            Assert.DoesNotContain(relay.Output, l => l.Contains(databasePassword, StringComparison.Ordinal) || l.Contains(kafkaPassword, StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }

    [Fact]
    public async Task with_a_heartbeat_the_slot_advances_on_a_database_without_writes()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Postgres:HeartbeatInterval", "00:00:00.500"));
        await db.WaitForStreamingAsync();
        var first = await db.ConfirmedFlushLsnAsync();
        // Three advances in a row, each a wait on the slot moving on from where it last stood.
        var position = first;
        for (var advance = 1; advance <= 3; advance++)
        {
            var from = position;
            Assert.True(await Eventually.WaitUntilAsync(async () => (position = await db.ConfirmedFlushLsnAsync()) > from, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100)),
                $"advance {advance}: the slot stayed at {from} (it started at {first})");
        }
    }
}
