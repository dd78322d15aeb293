using Relay.DevServices;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Republish;

/// <summary>
/// Issue 16, part 1: <c>relay republish</c> as a process against the real PostgreSQL and the broker — the rows selected
/// (and only those) arrive again, mapped as streaming maps them, with <c>relay.republished: true</c>, in order per key.
/// </summary>
public class RepublishTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task rows_in_a_time_range_and_only_those_arrive_again_mapped_as_streamed_with_the_header_in_order_per_key(bool binaryValues)
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await RepublishTable.CreateAsync(db);
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RepublishTable.Settings(db, kafka, topic).With("Relay:Postgres:BinaryValues", binaryValues.ToString());
        await using (var daemon = await InProcessRelay.StartAsync(settings))
        {
            await db.WaitForStreamingAsync();
            await RepublishTable.FillAsync(db, 0, 600);
            Assert.True(await reader.WaitForDistinctIdsAsync(600, TimeSpan.FromSeconds(60)), $"the daemon streamed {reader.DistinctIds} of 600");
        }
        var expected = (await db.ListAsync("""
            SELECT id::text FROM public.outbox WHERE created_at >= '2026-11-30T10:00:00Z' AND created_at < '2026-11-30T11:00:00Z'
            """, r => r.GetString(0))).ToHashSet();
        Assert.Equal(201, expected.Count);

        await using var republish = RelayProcess.Start(settings, "republish", "--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z");
        Assert.Equal(0, await republish.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));

        var again = reader.Messages.Where(m => m.Header(RepublishTable.Header) is not null).ToList();
        Assert.All(again, m => Assert.Equal("true", m.Header(RepublishTable.Header)));
        Assert.Equal(expected.Count, again.Count);   // each once
        Assert.Equal(expected, again.Select(m => m.Header("id")!).ToHashSet());
        foreach (var message in again)
        {
            var streamed = Assert.Single(reader.Messages, m => m.Header("id") == message.Header("id") && m.Header(RepublishTable.Header) is null);
            Assert.Equal((streamed.Topic, streamed.Partition, streamed.Key, streamed.Value), (message.Topic, message.Partition, message.Key, message.Value));
            Assert.Equal(streamed.HeaderBytes.OrderBy(h => h.Key).Select(h => (h.Key, Convert.ToHexString(h.Value))),
                message.HeaderBytes.Where(h => h.Key != RepublishTable.Header).OrderBy(h => h.Key).Select(h => (h.Key, Convert.ToHexString(h.Value))));
        }
        Assert.Contains(again, m => m.Header("tenant") is null);   // a NULL header column is left out, as streaming does
        RepublishTable.AssertOrderPerKey(again);
        Assert.True(republish.Events.Has(RelayEvents.RepublishStarting));
        Assert.True(republish.Events.Has(RelayEvents.RepublishCompleted));
    }

    [Fact]
    public async Task an_ids_file_republishes_exactly_those_rows_in_table_order_and_names_the_ids_it_cannot_find()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await RepublishTable.CreateAsync(db);
        await RepublishTable.FillAsync(db, 0, 300);
        using var reader = kafka.ReadTopics(t => t == topic);
        var chosen = await db.ListAsync("SELECT id::text FROM public.outbox ORDER BY random() LIMIT 40", r => r.GetString(0));
        const string unknown = "00000000-0000-4000-8000-000000000001";
        var file = Path.Combine(Path.GetTempPath(), $"{db.Name}-ids.txt");
        await File.WriteAllLinesAsync(file, ["# events consumers reported missing", .. chosen.Take(20), "", "  " + chosen[20] + "  ", unknown, .. chosen.Skip(21), chosen[0]]);

        await using var republish = RelayProcess.Start(RepublishTable.Settings(db, kafka, topic), "republish", "--ids-file", file);
        Assert.Equal(3, await republish.WaitForExitAsync(RepublishTable.RunTimeout));   // done, but not every id was found
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(chosen.Count, reader.Messages.Count);
        Assert.Equal(chosen.ToHashSet(), reader.Messages.Select(m => m.Header("id")!).ToHashSet());
        Assert.All(reader.Messages, m => Assert.Equal("true", m.Header(RepublishTable.Header)));
        RepublishTable.AssertOrderPerKey(reader.Messages.ToList());
        var unavailable = Assert.Single(republish.Events.WithId(RelayEvents.RepublishRowsUnavailable));
        Assert.Contains(unknown, unavailable.Message);
        Assert.Contains(republish.Output, line => line.StartsWith("Not re-published: 1 requested row(s)", StringComparison.Ordinal) && line.Contains(unknown));
        File.Delete(file);
    }

    [Fact]
    public async Task rows_deleted_after_they_were_published_cannot_be_republished_and_the_run_says_so()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await RepublishTable.CreateAsync(db);
        // The cleanup Debezium recommends: each row deleted right after its insert (the WAL still has it, the table not).
        await RepublishTable.FillAsync(db, 0, 30);
        await db.ExecuteAsync("DELETE FROM public.outbox");

        await using var republish = RelayProcess.Start(RepublishTable.Settings(db, kafka, topic), "republish", "--from", "2026-11-30T09:00:00Z");
        Assert.Equal(0, await republish.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.True(republish.Events.Has(RelayEvents.RepublishFoundNothing));
        Assert.False(republish.Events.Has(RelayEvents.RepublishStarting));
        Assert.Contains(republish.Output, line => line.StartsWith("No rows of public.outbox match created_at >= '2026-11-30T09:00:00+00:00'", StringComparison.Ordinal));
        Assert.Contains(republish.Output, line => line.Contains("cannot be re-published", StringComparison.Ordinal));
    }

    [Fact]
    public async Task it_runs_while_the_daemon_streams_the_same_table_without_touching_its_slot()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await RepublishTable.CreateAsync(db);
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RepublishTable.Settings(db, kafka, topic);
        await using var daemon = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();
        await RepublishTable.FillAsync(db, 0, 3000);
        var walsender = await db.ScalarAsync<int>("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", db.SlotName);

        // The application goes on writing while the re-publish runs.
        using var stopWriting = new CancellationTokenSource();
        var written = 0;
        var writer = Task.Run(async () =>
        {
            for (var batch = 0; !stopWriting.IsCancellationRequested; batch++)
            {
                await RepublishTable.FillAsync(db, 3000 + batch * 20, 20, createdAt: "timestamptz '2027-01-01 00:00:00+00' + g * interval '1 ms'");
                written += 20;
                await Task.Delay(20);
            }
        });
        await using var republish = RelayProcess.Start(settings, "republish", "--from", "2026-11-30T09:00:00Z", "--to", "2026-11-30T23:00:00Z");
        var exitCode = await republish.WaitForExitAsync(RepublishTable.RunTimeout);
        await stopWriting.CancelAsync();
        await writer;
        Assert.Equal(0, exitCode);
        Assert.True(written > 0, "the application wrote nothing while the re-publish ran");

        var end = await db.CurrentWalLsnAsync();
        var all = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        var inRange = (await db.ListAsync("SELECT id::text FROM public.outbox WHERE created_at < '2026-11-30T23:00:00Z'", r => r.GetString(0))).ToHashSet();
        Assert.Equal(2802, inRange.Count);
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(60)), "the daemon's slot did not reach the end");
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));
        var streamed = reader.Messages.Where(m => m.Header(RepublishTable.Header) is null).ToList();
        var again = reader.Messages.Where(m => m.Header(RepublishTable.Header) is not null).ToList();
        Assert.Equal(all, streamed.Select(m => m.Header("id")!).ToHashSet());
        Assert.Equal(inRange, again.Select(m => m.Header("id")!).ToHashSet());
        Assert.Equal(inRange.Count, again.Count);
        Assert.Equal(walsender, await db.ScalarAsync<int>("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", db.SlotName));
        Assert.Equal(0, daemon.Events.CountOf(RelayEvents.RunFailed));
        Figures.Report($"re-published {again.Count} rows while the daemon streamed {all.Count - 3000} new ones; the daemon's walsender (PID {walsender}) kept its slot throughout");
    }
}

/// <summary>The outbox table and checks the re-publish tests share.</summary>
static class RepublishTable
{
    public const string Header = "relay.republished";
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Debezium's outbox columns, an int header column (NULL in some rows) and a bytea one, created_at indexed.</summary>
    public static Task CreateAsync(TestDatabase db) => db.ExecuteAsync("""
        CREATE TABLE public.outbox (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL,
            payload jsonb, tenant int, trace bytea,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX ON public.outbox (created_at)
        """);

    /// <summary>
    /// Rows <paramref name="first"/> … with payload <c>{"seq": n}</c> over 13 keys, three per <c>created_at</c> from
    /// 09:00 every 54 s (ties broken by event id; the three have different keys), or <paramref name="createdAt"/>.
    /// </summary>
    public static Task FillAsync(TestDatabase db, int first, int count, string createdAt = "timestamptz '2026-11-30 09:00:00+00' + (g / 3) * interval '54 seconds'") =>
        db.ExecuteAsync($"""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload, tenant, trace, created_at)
            SELECT 'Order', 'key-' || (g % 13), 'Step', jsonb_build_object('seq', g, 'note', 'ü "quoted"'),
                   CASE WHEN g % 10 = 0 THEN NULL ELSE g % 4 END, decode(lpad(to_hex(g), 8, '0'), 'hex'), {createdAt}
            FROM generate_series($1::int, $1::int + $2::int - 1) g
            """, first, count);

    public static RelaySettings Settings(TestDatabase db, KafkaFixture kafka, string topic) =>
        RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic), ("HeaderColumns:0", "tenant"), ("HeaderColumns:1", "trace"));

    /// <summary>Within each key, messages arrive in one partition in the order of their <c>seq</c> (the table's order).</summary>
    public static void AssertOrderPerKey(IReadOnlyCollection<ReceivedMessage> messages)
    {
        foreach (var key in messages.GroupBy(m => m.Key))
        {
            Assert.Single(key.Select(m => m.Partition).Distinct());
            var sequence = key.OrderBy(m => m.Offset).Select(Payloads.Seq).ToList();
            Assert.True(sequence.SequenceEqual(sequence.Order()), $"key {key.Key}: out of order: {string.Join(",", sequence.Take(20))}");
        }
    }
}
