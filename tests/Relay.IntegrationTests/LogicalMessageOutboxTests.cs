using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>
/// Issue 16, part 3: the table-less outbox. An application writes <c>pg_logical_emit_message(true, prefix, json)</c> in
/// its transaction; Relay publishes messages of the configured prefixes, mapped from their JSON fields, in commit order,
/// never a rolled-back one, and with the same checkpoint rule as rows.
/// </summary>
public class LogicalMessageOutboxTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>A message's JSON content in Debezium's outbox shape (no single quotes: it goes into SQL literals).</summary>
    static string Event(string id, string key, long seq, string type = "Created", string aggregateType = "Order") =>
        $$"""{"id": "{{id}}", "aggregatetype": "{{aggregateType}}", "aggregateid": "{{key}}", "type": "{{type}}", "payload": {"seq": {{seq}} } }""";

    static string Emit(string content, string prefix = "outbox", bool transactional = true) =>
        $"SELECT pg_logical_emit_message({(transactional ? "true" : "false")}, '{prefix}', '{content}')";

    [Fact]
    public async Task committed_messages_arrive_mapped_and_rolled_back_or_foreign_ones_never()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var prefix = db.Name;
        using var reader = kafka.ReadTopics(t => t.StartsWith(prefix + ".", StringComparison.Ordinal));
        // No outbox table at all; Relay's own heartbeat (a message too) runs alongside and must never be published.
        var settings = RelaySettings.For(db, kafka)
            .With("Relay:Outbox:Messages:0:Prefix", "outbox")
            .With("Relay:Outbox:Messages:0:TopicTemplate", prefix + ".{aggregatetype}")
            .With("Relay:Outbox:Messages:0:HeaderColumns:0", "tenant")
            .With("Relay:Postgres:HeartbeatInterval", "00:00:00.100");
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        const string first = """{"id": "m-1", "aggregatetype": "Order", "aggregateid": "o-1", "type": "Created", "tenant": "acme", "payload": {"total": 42.5, "note": "h\u00e9llo \"q\""}}""";
        const string second = """{"id": "m-2", "aggregatetype": "Customer", "aggregateid": "c-7", "type": "Registered", "payload": "plain text, not an object"}""";
        await db.ExecuteAsync($"BEGIN; {Emit(first)}; {Emit(second)}; COMMIT");
        await db.ExecuteAsync($"BEGIN; {Emit(Event("rolled-back", "o-1", 99))}; ROLLBACK");
        await db.ExecuteAsync(Emit(Event("other-prefix", "o-1", 98), prefix: "someone.else"));
        await db.ExecuteAsync(Emit(Event("other-prefix-untransactional", "o-1", 97), prefix: "someone.else", transactional: false));
        await db.ExecuteAsync(Emit(Event("m-3", "o-1", 3, type: "Paid")));
        // Let a heartbeat (Relay's own message) be written after these, then one last message: once the slot is
        // confirmed past it, the heartbeat was read too.
        var written = await db.CurrentWalLsnAsync();
        Assert.True(await Eventually.WaitUntilAsync(async () => await db.CurrentWalLsnAsync() > written, Patience), "no heartbeat was written");
        await db.ExecuteAsync(Emit(Event("m-4", "o-2", 4)));
        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForCountAsync(4, Patience), $"received {reader.Count} of 4");
        Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the slot was not confirmed past the last message");
        Assert.True(await reader.WaitForCaughtUpAsync(Patience), "the reader did not catch up with the topics");
        Assert.Equal(["m-1", "m-2", "m-3", "m-4"], reader.Messages.Select(m => m.Header("id")!).Order());

        var messages = reader.Messages.ToDictionary(m => m.Header("id")!);
        var mapped = messages["m-1"];
        Assert.Equal(prefix + ".Order", mapped.Topic);
        Assert.Equal("o-1", mapped.Key);
        Assert.Equal("Created", mapped.Header("type"));
        Assert.Equal("acme", mapped.Header("tenant"));
        Assert.Equal("""{"total": 42.5, "note": "h\u00e9llo \"q\""}""", mapped.Value);   // the object as written
        Assert.Equal(prefix + ".Customer", messages["m-2"].Topic);
        Assert.Equal("plain text, not an object", messages["m-2"].Value);   // a string field: its text
        Assert.Null(messages["m-2"].Header("tenant"));                     // a missing field: no header
        Assert.Equal("Paid", messages["m-3"].Header("type"));
        Assert.Contains("relay_rows_received_total{table=\"message:outbox\"} 4", await relay.ScrapeMetricsAsync());
        Assert.Equal(0, relay.Status.ExitCode);
    }

    [Fact]
    public async Task messages_and_table_rows_of_one_transaction_arrive_in_commit_order()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 4);
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))
            .With("Relay:Outbox:Messages:0:Prefix", "outbox")
            .With("Relay:Outbox:Messages:0:Topic", topic);
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        // Each transaction: row, message, row, message … for three keys, interleaved, with seq in commit order.
        const int transactions = 20, perTransaction = 12;
        for (var t = 0; t < transactions; t++)
        {
            var statements = Enumerable.Range(t * perTransaction, perTransaction).Select(seq => seq % 2 == 0
                ? $"INSERT INTO public.outbox (id, aggregatetype, aggregateid, type, payload) VALUES ('{Guid.CreateVersion7()}', 'Order', 'key-{seq % 3}', 'Step', '{{\"seq\": {seq}}}')"
                : Emit(Event($"msg-{seq}", $"key-{seq % 3}", seq)));
            await db.ExecuteAsync($"BEGIN; {string.Join("; ", statements)}; COMMIT");
        }
        var end = await db.CurrentWalLsnAsync();

        var rowIds = await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0));
        var expected = rowIds.Concat(Enumerable.Range(0, transactions * perTransaction).Where(s => s % 2 == 1).Select(s => $"msg-{s}")).ToHashSet();
        Assert.Equal(transactions * perTransaction, expected.Count);
        Assert.True(await reader.WaitForDistinctIdsAsync(expected.Count, Patience), $"received {reader.DistinctIds} of {expected.Count}");
        Assert.True(await db.WaitForConfirmedAsync(end, Patience));
        Assert.True(await reader.WaitForCaughtUpAsync(Patience));
        // Each key's messages, rows and logical messages alike, in the order they were written.
        Assert.Equal(0, Delivery.AssertComplete(reader.Messages.ToList(), expected, Payloads.Seq));
    }

    [Fact]
    public async Task content_that_is_not_json_and_a_non_transactional_message_are_dead_lettered_naming_prefix_and_position()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var prefix = db.Name;
        var deadLetters = prefix + "_dlq";
        using var reader = kafka.ReadTopics(t => t.StartsWith(prefix, StringComparison.Ordinal));
        var settings = RelaySettings.For(db, kafka)
            .With("Relay:Outbox:Messages:0:Prefix", "outbox")
            .With("Relay:Outbox:Messages:0:Topic", prefix + ".events")
            .With("Relay:Outbox:Messages:0:OnUnpublishableRow", "DeadLetter")
            .With("Relay:Outbox:Messages:0:DeadLetterTopic", deadLetters);
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync(Emit(Event("m-1", "o-1", 1)));
        await db.ExecuteAsync(Emit("""{"id": "m-2", "aggregateid": "o-1", "payload": {"seq": 2""", prefix: "outbox"));
        await db.ExecuteAsync(Emit(Event("m-3", "o-1", 3), transactional: false));
        await db.ExecuteAsync(Emit(Event("m-4", "o-1", 4)));
        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForCountAsync(4, Patience), $"received {reader.Count} of 4");
        Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the dead letters held the slot back");
        Assert.Equal(["m-1", "m-4"], reader.Messages.Where(m => m.Topic == prefix + ".events").Select(m => m.Header("id")!));
        var dead = reader.Messages.Where(m => m.Topic == deadLetters).ToList();
        Assert.Equal(2, dead.Count);
        Assert.All(dead, m => Assert.Equal("message:outbox", m.Header("relay.table")));
        Assert.All(dead, m => Assert.Matches("^[0-9A-F]+/[0-9A-F]+$", m.Header("relay.position")!));

        var notJson = dead.Single(m => m.Header("relay.reason")!.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Matches(@"\(message at [0-9A-F]+/[0-9A-F]+\)$", notJson.Header("relay.reason"));
        Assert.Equal("""{"id": "m-2", "aggregateid": "o-1", "payload": {"seq": 2""", notJson.Value);   // the whole content: its only copy
        var untransactional = dead.Single(m => m != notJson);
        Assert.Contains("emitted non-transactionally", untransactional.Header("relay.reason"));
        Assert.Equal("m-3", untransactional.Header("id"));
        Assert.Equal(Event("m-3", "o-1", 3), untransactional.Value);
        Assert.Equal(2, relay.Events.WithId(RelayEvents.DeadLettered).Count);
    }

    [Fact]
    public async Task content_that_is_not_json_stops_the_relay_naming_prefix_and_position_without_confirming_past_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        using var reader = kafka.ReadTopics(t => t == db.Name);
        var settings = RelaySettings.For(db, kafka)
            .With("Relay:Outbox:Messages:0:Prefix", "outbox")
            .With("Relay:Outbox:Messages:0:Topic", db.Name);
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync(Emit(Event("m-1", "o-1", 1)));
        Assert.True(await reader.WaitForCountAsync(1, Patience));
        var beforeBadMessage = await db.CurrentWalLsnAsync();
        await db.ExecuteAsync(Emit("not json at all"));
        await db.ExecuteAsync(Emit(Event("m-after", "o-1", 3)));

        await relay.Stopping.WaitAsync(Patience);
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Matches(@"^Message with prefix 'outbox' \(event id NULL, transaction at [0-9A-F]+/[0-9A-F]+\) cannot be published: its content is not valid JSON .*\(message at [0-9A-F]+/[0-9A-F]+\)\. ",
            relay.Status.FatalError);
        Assert.Contains("pg_replication_slot_advance", relay.Status.FatalError);
        Assert.True(await db.ConfirmedFlushLsnAsync() <= beforeBadMessage, "the slot was confirmed past the message that could not be published");
        Assert.DoesNotContain(reader.Messages, m => m.Header("id") == "m-after");
    }

    [Fact]
    public async Task messages_written_while_the_relay_process_is_killed_with_sigkill_all_arrive_after_restart()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka)
            .With("Relay:Outbox:Messages:0:Prefix", "outbox")
            .With("Relay:Outbox:Messages:0:Topic", topic);
        const int transactions = 200, perTransaction = 50, kills = 2;
        var relay = RelayProcess.Start(settings);
        await db.WaitForStreamingAsync();

        var writer = Task.Run(async () =>
        {
            for (var t = 0; t < transactions; t++)
            {
                await db.ExecuteAsync("""
                    SELECT pg_logical_emit_message(true, 'outbox', jsonb_build_object('id', 'm-' || g, 'aggregatetype', 'Order',
                           'aggregateid', 'key-' || (g % 40), 'type', 'Step', 'payload', jsonb_build_object('seq', g))::text)
                    FROM generate_series($1::int * $2::int, $1::int * $2::int + $2::int - 1) g
                    """, t, perTransaction);
                await Task.Delay(10);
            }
        });
        for (var kill = 1; kill <= kills; kill++)
        {
            Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, Patience), "the relay did not start streaming");
            Assert.True(await reader.WaitForCountAsync(kill * 1000, Patience), $"received {reader.Count} before kill {kill}");
            relay.Kill();
            Figures.Report($"SIGKILL {kill} with {reader.Count} messages received, writer {(writer.IsCompleted ? "done" : "still emitting")}");
            await relay.DisposeAsync();
            relay = RelayProcess.Start(settings);
        }
        await writer;
        var end = await db.CurrentWalLsnAsync();
        var expected = Enumerable.Range(0, transactions * perTransaction).Select(g => $"m-{g}").ToHashSet();
        Assert.True(await reader.WaitForDistinctIdsAsync(expected.Count, TimeSpan.FromSeconds(120)), $"received {reader.DistinctIds} of {expected.Count}");
        Assert.True(await db.WaitForConfirmedAsync(end, Patience), "slot not confirmed to the end after the last restart");
        Assert.True(await reader.WaitForCaughtUpAsync(Patience));
        await relay.DisposeAsync();

        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), expected, Payloads.Seq);
        Figures.Report($"{expected.Count} logical messages, {kills} SIGKILLs: 0 lost, {duplicates} duplicates, per-key order kept among first deliveries");
    }
}
