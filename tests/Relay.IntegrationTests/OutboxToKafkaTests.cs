using System.Text;
using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>Rows inserted into outbox tables arrive in Kafka exactly as mapped, and nothing else does.</summary>
public class OutboxToKafkaTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task rows_of_two_outbox_tables_arrive_with_the_mapped_topic_key_headers_and_value()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var prefix = db.Name;
        await db.CreateOutboxTableAsync("public.outbox");
        await db.ExecuteAsync("CREATE SCHEMA billing");
        await db.ExecuteAsync("""
            CREATE TABLE billing.events (
                event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                invoice text NOT NULL,
                kind text NOT NULL,
                tenant text,
                body bytea,
                note text)
            """);
        await db.ExecuteAsync("CREATE TABLE public.orders (id serial PRIMARY KEY, total int)");

        var settings = RelaySettings.For(db, kafka)
            .Table(0, "public.outbox", ("TopicTemplate", prefix + ".{aggregatetype}"))
            .Table(1, "billing.events", ("Topic", prefix + ".billing"), ("EventIdColumn", "event_id"),
                ("KeyColumn", "invoice"), ("TypeColumn", "kind"), ("PayloadColumn", "body"), ("HeaderColumns:0", "tenant"));
        using var reader = kafka.ReadTopics(t => t.StartsWith(prefix + ".", StringComparison.Ordinal));
        await using var relay = await InProcessRelay.StartAsync(settings);
        await db.WaitForStreamingAsync();

        // Outbox inserts, with other kinds of change around them that must not reach Kafka.
        await db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
            SELECT CASE WHEN g % 2 = 0 THEN 'Order' ELSE 'Customer' END, 'agg-' || (g % 5), 'Created',
                   jsonb_build_object('n', g, 'text', 'héllo ' || g)
            FROM generate_series(1, 20) g
            """);
        await db.ExecuteAsync("INSERT INTO public.orders (total) SELECT g FROM generate_series(1, 50) g");
        await db.ExecuteAsync("UPDATE public.outbox SET type = 'Updated'");
        await db.ExecuteAsync("DELETE FROM public.outbox WHERE aggregateid = 'agg-1'");
        await db.ExecuteAsync("""
            INSERT INTO billing.events (invoice, kind, tenant, body, note)
            SELECT 'inv-' || g, 'InvoiceIssued', CASE WHEN g % 2 = 0 THEN 'acme' END, decode('00ff' || lpad(to_hex(g), 4, '0'), 'hex'), 'n'
            FROM generate_series(1, 10) g
            """);
        await db.ExecuteAsync("UPDATE billing.events SET note = 'changed'");
        // A last row: once it is in, everything before it has been relayed.
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'last', 'Created', '{}')");

        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForCountAsync(31, Patience), $"received {reader.Count} of 31");
        // Nothing extra: once the slot is confirmed past the last row, Kafka acknowledged all the relay sent before it;
        // once the reader has read the topics up to their ends, it has seen all of that.
        Assert.True(await db.WaitForConfirmedAsync(end, Patience), "the slot was not confirmed past the last row");
        Assert.True(await reader.WaitForCaughtUpAsync(Patience), "the reader did not catch up with the topics");
        Assert.Equal(31, reader.Count);

        var expectedOutbox = await db.ListAsync("SELECT id::text, aggregatetype, aggregateid, type, payload::text FROM public.outbox",
            r => (Id: r.GetString(0), Type: r.GetString(1), Key: r.GetString(2), EventType: r.GetString(3), Payload: r.GetString(4)));
        var messages = reader.Messages.ToDictionary(m => m.Header("id")!);
        // The deleted rows (agg-1) were published when inserted; the rows still in the table must match exactly.
        foreach (var row in expectedOutbox)
        {
            var message = messages[row.Id];
            Assert.Equal($"{prefix}.{row.Type}", message.Topic);
            Assert.Equal(row.Key, message.Key);
            Assert.Equal("Created", message.Header("type"));   // as inserted, not as updated later
            Assert.Equal(row.Payload, message.Value);
        }
        Assert.Equal(21, reader.Messages.Count(m => m.Topic != prefix + ".billing"));

        var billing = reader.Messages.Where(m => m.Topic == prefix + ".billing").OrderBy(m => long.Parse(m.Header("id")!)).ToList();
        Assert.Equal(10, billing.Count);
        for (var g = 1; g <= 10; g++)
        {
            var message = billing[g - 1];
            Assert.Equal(g.ToString(), message.Header("id"));
            Assert.Equal($"inv-{g}", message.Key);
            Assert.Equal("InvoiceIssued", message.Header("type"));
            Assert.Equal(new byte[] { 0x00, 0xff, 0x00, (byte)g }, message.ValueBytes);
            Assert.Equal(g % 2 == 0 ? "acme" : null, message.Header("tenant"));
            Assert.False(message.HeaderBytes.ContainsKey("note"));
        }
    }

    [Fact]
    public async Task a_mapped_column_relay_only_reads_as_text_makes_the_whole_stream_text_and_the_messages_stay_the_same()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".ledger";
        // numeric has no binary form Relay turns back into text: values come as text (bytea as hex, decoded).
        await db.ExecuteAsync("CREATE TABLE public.ledger (id bigint GENERATED ALWAYS AS IDENTITY, account numeric(10,2), kind text, body bytea)");
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.ledger", ("Topic", topic),
            ("EventIdColumn", "id"), ("KeyColumn", "account"), ("TypeColumn", "kind"), ("PayloadColumn", "body")));
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync("INSERT INTO public.ledger (account, kind, body) VALUES (42.5, 'Debited', '\\x00ff7f'::bytea), (7, 'Credited', NULL)");

        Assert.True(await reader.WaitForCountAsync(2, Patience), $"received {reader.Count} of 2");
        Assert.Contains(relay.Events.WithId(RelayEvents.TextValues), e => e.Property("Reason")!.Contains("public.ledger.account", StringComparison.Ordinal));   // names the column
        Assert.Equal("text", relay.Events.WithId(RelayEvents.StreamingStarted).Last().Property("ValueFormat"));
        var debit = reader.Messages.Single(m => m.Header("type") == "Debited");
        Assert.Equal(("1", "42.50"), (debit.Header("id"), debit.Key));
        Assert.Equal(new byte[] { 0x00, 0xff, 0x7f }, debit.ValueBytes);
        var credit = reader.Messages.Single(m => m.Header("type") == "Credited");
        Assert.Equal(("2", "7.00"), (credit.Header("id"), credit.Key));
        Assert.Null(credit.ValueBytes);   // NULL payload: a tombstone
    }

    [Fact]
    public async Task ten_thousand_events_over_six_partitions_keep_per_key_order_and_the_slot_is_confirmed_to_the_end()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".orders";
        await kafka.CreateTopicAsync(topic, partitions: 6);
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("ALTER TABLE public.outbox ADD COLUMN seq int");
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();

        const int keys = 100, perTransaction = 100, transactions = 100;
        for (var t = 0; t < transactions; t++)
        {
            await db.ExecuteAsync("""
                INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload, seq)
                SELECT 'Order', 'key-' || (g % $2), 'Step', jsonb_build_object('seq', g), g
                FROM generate_series($1::int * $3::int, $1::int * $3::int + $3::int - 1) g
                """, t, keys, perTransaction);
        }
        var end = await db.CurrentWalLsnAsync();

        Assert.True(await reader.WaitForCountAsync(keys * transactions, Patience), $"received {reader.Count}");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)), "the slot was not confirmed to the end of the WAL");
        var messages = reader.Messages.ToList();
        Assert.Equal(10_000, messages.Select(m => m.Header("id")).Distinct().Count());
        Assert.Equal(6, messages.Select(m => m.Partition).Distinct().Count());
        foreach (var key in messages.GroupBy(m => m.Key))
        {
            Assert.Single(key.Select(m => m.Partition).Distinct());
            var sequence = key.OrderBy(m => m.Offset).Select(Payloads.Seq).ToList();
            Assert.Equal(sequence.Order().ToList(), sequence);
        }
    }

    [Fact]
    public async Task relay_creates_an_insert_only_publication_of_exactly_the_configured_tables_and_a_permanent_slot()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.outbox");
        await db.CreateOutboxTableAsync("public.outbox2");
        await db.CreateOutboxTableAsync("public.not_an_outbox");
        using var reader = kafka.ReadTopics(t => t == db.Name);
        await using (var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka)
                         .Table(0, "public.outbox", ("Topic", db.Name)).Table(1, "public.outbox2", ("Topic", db.Name))))
        {
            await db.WaitForStreamingAsync();
            await db.ExecuteAsync("INSERT INTO public.outbox2 (aggregatetype, aggregateid, type, payload) VALUES ('A', 'a', 't', '{}')");
            Assert.True(await reader.WaitForCountAsync(1, Patience));
        }

        var publication = await db.ListAsync(
            $"SELECT pubinsert, pubupdate, pubdelete, pubtruncate, puballtables FROM pg_publication WHERE pubname = '{db.PublicationName}'",
            r => (r.GetBoolean(0), r.GetBoolean(1), r.GetBoolean(2), r.GetBoolean(3), r.GetBoolean(4)));
        Assert.Equal([(true, false, false, false, false)], publication);
        var tables = await db.ListAsync($"SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '{db.PublicationName}' ORDER BY 1",
            r => r.GetString(0));
        Assert.Equal(["public.outbox", "public.outbox2"], tables);
        var slot = await db.ListAsync($"SELECT plugin, slot_type, temporary FROM pg_replication_slots WHERE slot_name = '{db.SlotName}'",
            r => (r.GetString(0), r.GetString(1), r.GetBoolean(2)));
        Assert.Equal([("pgoutput", "logical", false)], slot);
        Assert.Equal("{}", Encoding.UTF8.GetString(reader.Messages.Single().ValueBytes!));
    }
}
