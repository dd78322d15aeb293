using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Runbooks;

/// <summary>
/// docs/operations.md, "Add an outbox table to a running relay", step by step: the migration creates the table and adds
/// it to Relay's publication in one transaction, the application writes to it at once (before Relay knows the table),
/// then Relay is rolled out with the table configured. No row of either table is lost on the way.
/// </summary>
public class AddTableRunbookTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task rows_written_before_relay_knows_the_new_table_are_published_once_it_does()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.orders_outbox");
        var (ordersTopic, paymentsTopic) = (db.Name + ".orders", db.Name + ".payments");
        using var reader = kafka.ReadTopics(t => t == ordersTopic || t == paymentsTopic);
        var before = RelaySettings.For(db, kafka).Table(0, "public.orders_outbox", ("Topic", ordersTopic));
        await using var running = RelayProcess.Start(before);
        Assert.True(await running.WaitForEventAsync(RelayEvents.StreamingStarted, Patience));
        await InsertAsync(db, "public.orders_outbox", "order-1");
        Assert.True(await reader.WaitForDistinctIdsAsync(1, Patience));

        // Step 1: the migration creates the table and adds it to the publication, in one transaction.
        await db.ExecuteAsync($"""
            BEGIN;
            CREATE TABLE public.payments_outbox (LIKE public.orders_outbox INCLUDING ALL);
            ALTER PUBLICATION {db.PublicationName} ADD TABLE public.payments_outbox;
            COMMIT;
            """);
        // The application writes to it at once, and to the old table too.
        await InsertAsync(db, "public.payments_outbox", "payment-1");
        await InsertAsync(db, "public.orders_outbox", "order-2");
        await InsertAsync(db, "public.payments_outbox", "payment-2");
        var written = await db.CurrentWalLsnAsync();

        // The relay that does not know the table stops at its first row rather than confirm past it.
        Assert.Equal(1, await running.WaitForExitAsync(Patience));
        var fatal = Assert.Single(running.Events.WithId(RelayEvents.Fatal)).Message;
        Assert.Contains("public.payments_outbox is in publication", fatal);
        Assert.Contains("Add it to Relay:Outbox:Tables", fatal);
        Assert.True(await db.ConfirmedFlushLsnAsync() < written, "the slot was confirmed past rows of the new table");

        // Step 2: Relay is rolled out with the table configured.
        var after = new RelaySettings().Merge(before).Table(1, "public.payments_outbox", ("Topic", paymentsTopic));
        await using var rolledOut = RelayProcess.Start(after);
        Assert.True(await reader.WaitForDistinctIdsAsync(4, Patience), $"{reader.DistinctIds} of 4 events arrived");
        Assert.Equal(["payment-1", "payment-2"], reader.Messages.Where(m => m.Topic == paymentsTopic).Select(m => m.Key).Distinct().Order());
        Assert.Equal(["order-1", "order-2"], reader.Messages.Where(m => m.Topic == ordersTopic).Select(m => m.Key).Distinct().Order());
        Assert.True(await db.WaitForConfirmedAsync(written, Patience));
    }

    [Fact]
    public async Task a_publication_of_every_table_publishes_other_tables_by_design_and_relay_says_it_skips_them()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.orders_outbox");
        await db.CreateOutboxTableAsync("public.audit_log");
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR ALL TABLES WITH (publish = 'insert')");
        var topic = db.Name + ".orders";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.orders_outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();

        await InsertAsync(db, "public.audit_log", "not-an-event");
        await InsertAsync(db, "public.orders_outbox", "order-1");

        Assert.True(await reader.WaitForDistinctIdsAsync(1, Patience));
        Assert.True(await relay.WaitForEventAsync(RelayEvents.UnconfiguredTableSkipped, Patience));
        Assert.Contains("public.audit_log", Assert.Single(relay.Events.WithId(RelayEvents.UnconfiguredTableSkipped)).Message);
        Assert.Equal(0, relay.Status.ExitCode);
    }

    static Task InsertAsync(TestDatabase db, string table, string key) =>
        db.ExecuteAsync($"INSERT INTO {table} (aggregatetype, aggregateid, type, payload) VALUES ('A', $1, 'Created', '{{}}')", key);
}
