using Npgsql;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>
/// Issue 16, part 2: a table with <c>PublishExistingRowsOnFirstStart</c> has its existing rows published as of the new
/// slot's consistent point, then what commits after it is streamed: every row once, with a writer inserting throughout.
/// The slot does not move until Kafka has acknowledged the snapshot, and a relay killed during it reads the rows again.
/// </summary>
public class FirstStartSnapshotTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    async Task<(TestDatabase Db, string Topic, RelaySettings Settings)> PrepareAsync(int existingRows)
    {
        var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 12);
        await db.CreateOutboxTableAsync();
        await InsertAsync(db, 0, existingRows);
        return (db, topic, RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic), ("PublishExistingRowsOnFirstStart", "true")));
    }

    static Task InsertAsync(TestDatabase db, int first, int count) =>
        db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
            SELECT 'Order', 'key-' || (g % 50), 'Step', jsonb_build_object('seq', g)
            FROM generate_series($1::int, $1::int + $2::int - 1) g
            """, first, count);

    /// <summary>Inserts one row per transaction, in seq order, as fast as it can until stopped; returns how many.</summary>
    static async Task<int> WriteUntilAsync(TestDatabase db, int first, CancellationToken stop)
    {
        await Task.Yield();
        var next = first;
        while (!stop.IsCancellationRequested)
            await InsertAsync(db, next++, 1);
        return next - first;
    }

    async Task<HashSet<string>> AllIdsAsync(TestDatabase db) =>
        (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();

    static Task<string?> PublicationCommentAsync(TestDatabase db) =>
        db.ScalarAsync<string?>("SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = $1", db.PublicationName);

    [Fact]
    public async Task existing_rows_and_a_writer_inserting_throughout_arrive_exactly_once_across_the_boundary()
    {
        const int existing = 10_000;
        var (db, topic, settings) = await PrepareAsync(existing);
        await using var _ = db;
        using var reader = kafka.ReadTopics(t => t == topic);
        using var stopWriting = new CancellationTokenSource();
        // The writer runs before the slot exists, while it is created and read, and after: rows land on both sides.
        var writer = WriteUntilAsync(db, existing, stopWriting.Token);
        await Eventually.WaitUntilAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM public.outbox") > existing + 50, Patience);

        await using var relay = await InProcessRelay.StartAsync(settings);
        Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotCompleted, Patience), "the snapshot did not complete");
        await db.WaitForStreamingAsync();
        var atCompletion = await db.ScalarAsync<long>("SELECT count(*) FROM public.outbox");
        await Eventually.WaitUntilAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM public.outbox") > atCompletion + 50, Patience);
        await stopWriting.CancelAsync();
        var written = await writer;
        var end = await db.CurrentWalLsnAsync();

        var ids = await AllIdsAsync(db);
        Assert.Equal(existing + written, ids.Count);
        Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, Patience), $"received {reader.DistinctIds} of {ids.Count} events");
        Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the slot was not confirmed to the end");
        Assert.True(await reader.WaitForCaughtUpAsync(Patience), "the reader did not catch up with the topic");
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);

        // The boundary fell inside the writer's run: some of its rows were read by the snapshot, the rest streamed.
        var read = long.Parse(Assert.Single(relay.Events.WithId(RelayEvents.SnapshotTableRead)).Property("Rows")!);
        Assert.InRange(read, existing + 1, ids.Count - 1);
        Assert.Equal(0, duplicates);
        Assert.Equal(PublicationNoteText(db), await PublicationCommentAsync(db));
        Figures.Report($"first start with {existing} existing rows and a writer: {read} read by the snapshot (incl. {read - existing} of the writer's), " +
                       $"{ids.Count - read} streamed after the slot's consistent point; {ids.Count} events, 0 lost, {duplicates} duplicates");
    }

    [Fact]
    public async Task the_slot_stays_at_its_consistent_point_until_kafka_acknowledges_every_existing_row()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        const int existing = 2_000;
        var (db, topic, settings) = await PrepareAsync(existing);
        await using var _ = db;
        settings.With("Relay:Pipeline:StallWarningAfter", "00:00:02");
        using var reader = kafka.ReadTopics(t => t == topic);

        mock!.SetBrokerDown();
        try
        {
            await using var relay = await InProcessRelay.StartAsync(settings);
            Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotTableRead, Patience), "the snapshot was not read");
            var consistentPoint = Assert.Single(relay.Events.WithId(RelayEvents.SlotCreated)).Property("Lsn");
            await db.WaitForStreamingAsync();
            // Rows committed after the consistent point stream in while Kafka acknowledges nothing.
            await InsertAsync(db, existing, 100);
            Assert.True(await Eventually.WaitUntilAsync(async () =>
                (await relay.ScrapeMetricsAsync()).Contains($"relay_rows_received_total{{table=\"public.outbox\"}} {existing + 100}", StringComparison.Ordinal), Patience));
            Assert.Matches(Metric("relay_first_start_snapshot_pending", 1), await relay.ScrapeMetricsAsync());
            // Several confirmation intervals pass with the streamed rows received and nothing acknowledged.
            Assert.True(await relay.WaitForEventAsync(RelayEvents.Stalled, Patience));

            Assert.Equal(consistentPoint, (await db.ConfirmedFlushLsnAsync()).ToString());
            Assert.EndsWith("Relay reads them again at its next start.", await PublicationCommentAsync(db));
            Assert.Equal(0, reader.Count);

            mock.SetBrokerUp();
            var end = await db.CurrentWalLsnAsync();
            Assert.True(await reader.WaitForDistinctIdsAsync(existing + 100, Patience), $"received {reader.DistinctIds} of {existing + 100}");
            Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the slot was not confirmed once Kafka acknowledged");
            Assert.Equal(PublicationNoteText(db), await PublicationCommentAsync(db));
            Assert.Matches(Metric("relay_first_start_snapshot_pending", 0), await relay.ScrapeMetricsAsync());
        }
        finally
        {
            mock.SetBrokerUp();
        }
    }

    [Fact]
    public async Task a_relay_killed_during_the_snapshot_reads_the_rows_again_at_restart_and_loses_none()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection (a slow broker); the broker here comes from {kafka.Origin}");
        const int existing = 20_000;
        var (db, topic, settings) = await PrepareAsync(existing);
        await using var _ = db;
        settings.With("Relay:Pipeline:MaxInFlightMessages", "500");
        using var reader = kafka.ReadTopics(t => t == topic);
        using var stopWriting = new CancellationTokenSource();
        var writer = WriteUntilAsync(db, existing, stopWriting.Token);

        // A slow broker stretches the snapshot so that the kill lands inside it.
        for (var broker = 1; broker <= mock!.BrokerCount; broker++)
            mock.SetRoundTripTime(broker, 100);
        RelayProcess relay;
        try
        {
            relay = RelayProcess.Start(settings);
            Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotStarting, Patience), "the snapshot did not start");
            Assert.True(await reader.WaitForCountAsync(2_000, Patience), $"received {reader.Count} before the kill");
            Assert.False(relay.Events.Has(RelayEvents.SnapshotCompleted), "the snapshot completed before the kill: slow it down further");
            relay.Kill();
            Figures.Report($"SIGKILL during the snapshot with {reader.Count} of {existing}+ existing rows received");
            await relay.DisposeAsync();
            Assert.EndsWith("Relay reads them again at its next start.", await PublicationCommentAsync(db));
        }
        finally
        {
            for (var broker = 1; broker <= mock.BrokerCount; broker++)
                mock.SetRoundTripTime(broker, 0);
        }

        relay = RelayProcess.Start(settings);
        await using (relay)
        {
            Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotRestarted, Patience), "the interrupted snapshot was not read again");
            Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotCompleted, Patience), "the second snapshot did not complete");
            await stopWriting.CancelAsync();
            await writer;
            var end = await db.CurrentWalLsnAsync();
            var ids = await AllIdsAsync(db);
            Assert.True(await reader.WaitForDistinctIdsAsync(ids.Count, Patience), $"received {reader.DistinctIds} of {ids.Count} events");
            Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the slot was not confirmed to the end");
            Assert.True(await reader.WaitForCaughtUpAsync(Patience));
            var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), ids, Payloads.Seq);
            Assert.Equal(PublicationNoteText(db), await PublicationCommentAsync(db));
            Figures.Report($"after the restart: {ids.Count} events, 0 lost, {duplicates} duplicates (the rows published before the kill, read again)");
        }
    }

    [Fact]
    public async Task a_first_start_stopped_before_its_slot_existed_starts_again_and_is_not_taken_for_a_lost_slot()
    {
        var (db, topic, settings) = await PrepareAsync(500);
        await using var _ = db;
        // What a first start leaves when it stops after noting its snapshot and before creating the slot.
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')");
        await db.ExecuteAsync($"COMMENT ON PUBLICATION {db.PublicationName} IS 'Relay streams this publication through replication slot {db.SlotName}. " +
                              "Its first-start snapshot of existing rows is not acknowledged yet: Relay reads them again at its next start.'");
        using var reader = kafka.ReadTopics(t => t == topic);

        await using var relay = await InProcessRelay.StartAsync(settings);
        Assert.True(await relay.WaitForEventAsync(RelayEvents.SnapshotCompleted, Patience));
        Assert.True(await reader.WaitForDistinctIdsAsync(500, Patience), $"received {reader.DistinctIds} of 500");
        Assert.True(relay.Events.Has(RelayEvents.SnapshotStarting));
        Assert.False(relay.Events.Has(RelayEvents.SlotLost));
        Assert.Matches(Metric("relay_replication_slot_recreated", 0), await relay.ScrapeMetricsAsync());
        Assert.Equal(PublicationNoteText(db), await PublicationCommentAsync(db));
    }

    [Fact]
    public async Task a_role_that_may_not_read_the_table_or_note_the_publication_is_refused_at_start_with_what_to_grant()
    {
        var (db, _, settings) = await PrepareAsync(10);
        await using var __ = db;
        var role = db.Name + "_reader";
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN REPLICATION");
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')");
        try
        {
            settings.With("Relay:Postgres:ConnectionString", new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role }.ConnectionString);
            await using (var relay = await InProcessRelay.StartAsync(settings))
            {
                await relay.Stopping.WaitAsync(Patience);
                Assert.Equal(1, relay.Status.ExitCode);
                Assert.Contains($"Relay:Outbox:Tables:0:PublishExistingRowsOnFirstStart: role '{role}' may not read table 'public.outbox' " +
                                $"(GRANT SELECT ON \"public\".\"outbox\" TO {role})", relay.Status.FatalError);
                Assert.Contains($"role '{role}' does not own publication '{db.PublicationName}'", relay.Status.FatalError);
            }
            Assert.Null(await db.ConfirmedFlushLsnAsync());   // no slot: nothing was started half-way

            await using var check = RelayProcess.Start(settings, "check");
            Assert.Equal(1, await check.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains(check.Output, l => l.StartsWith("FAIL  first-start snapshot: ", StringComparison.Ordinal));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await db.ExecuteAsync($"DROP ROLE {role}");
        }
    }

    /// <summary>A sample line of a metric without labels (not its HELP text, which may contain the same words).</summary>
    static System.Text.RegularExpressions.Regex Metric(string name, long value) =>
        new($"^{name} {value}$", System.Text.RegularExpressions.RegexOptions.Multiline);

    static string PublicationNoteText(TestDatabase db) => $"Relay streams this publication through replication slot {db.SlotName}.";
}
