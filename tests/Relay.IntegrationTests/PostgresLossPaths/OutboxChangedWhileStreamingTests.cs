using NpgsqlTypes;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, rows 2–4: an outbox table dropped and re-created, taken out of the publication, a publication that stops
/// publishing inserts or is dropped, while Relay streams. The server then stops sending those rows without a word; Relay
/// must notice before it confirms past them, stop (exit 1) and say what changed and from when to re-publish.
/// </summary>
public class OutboxChangedWhileStreamingTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("DROP TABLE public.outbox; CREATE TABLE public.outbox (LIKE public.template INCLUDING ALL)", "was dropped and re-created")]
    [InlineData("ALTER PUBLICATION {publication} DROP TABLE public.outbox", "was removed from publication")]
    [InlineData("ALTER PUBLICATION {publication} SET (publish = 'update')", "no longer publishes inserts")]
    [InlineData("DROP PUBLICATION {publication}", "was dropped")]
    [InlineData("ALTER PUBLICATION {publication} DROP TABLE public.outbox", "taken out of publication", "ALTER PUBLICATION {publication} ADD TABLE public.outbox")]
    [InlineData("ALTER PUBLICATION {publication} SET (publish = 'update')", "was altered", "ALTER PUBLICATION {publication} SET (publish = 'insert')")]
    public async Task the_relay_stops_without_confirming_past_the_change_and_names_it(string change, string expected, string? undo = null)
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.outbox");
        await db.CreateOutboxTableAsync("public.template");
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();
        await InsertAsync(db, "before");
        Assert.True(await reader.WaitForDistinctIdsAsync(1, Patience));
        var beforeChange = await db.CurrentWalLsnAsync();
        Assert.True(await db.WaitForConfirmedAsync(beforeChange, Patience));

        await db.ExecuteAsync(change.Replace("{publication}", db.PublicationName));
        await InsertAsync(db, "after");   // the server does not send this row any more
        var afterChange = await db.CurrentWalLsnAsync();
        if (undo is not null)
            await db.ExecuteAsync(undo.Replace("{publication}", db.PublicationName));   // put back before the next check: the row stays lost
        await db.ExecuteAsync("CREATE TABLE unrelated (x int); INSERT INTO unrelated VALUES (1)");   // WAL that idle acknowledgements would follow

        await relay.Stopping.WaitAsync(Patience);
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains(expected, relay.Status.FatalError);
        Assert.Contains("re-publish the outbox rows committed since", relay.Status.FatalError);
        Assert.True(relay.Events.Has(RelayEvents.CatalogChanged) || relay.Status.FatalError!.Contains("pg_drop_replication_slot"));
        var confirmed = await db.ConfirmedFlushLsnAsync();
        Assert.True(confirmed < afterChange, $"slot confirmed {confirmed}, past the row at {afterChange} that was never published");
        Assert.DoesNotContain(reader.Messages, m => m.Key == "after");
    }

    [Fact]
    public async Task a_restart_after_the_publication_was_dropped_is_refused_instead_of_creating_a_new_one()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await using (var first = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")))
            await db.WaitForStreamingAsync();
        await db.ExecuteAsync($"DROP PUBLICATION {db.PublicationName}");
        await InsertAsync(db, "in the gap");

        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        await relay.Stopping.WaitAsync(Patience);
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains($"publication '{db.PublicationName}' does not exist while replication slot '{db.SlotName}' does", relay.Status.FatalError);
        Assert.Contains($"SELECT pg_drop_replication_slot('{db.SlotName}')", relay.Status.FatalError);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM pg_publication WHERE pubname = $1", db.PublicationName));
    }

    static Task InsertAsync(TestDatabase db, string key) =>
        db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', $1, 'Created', '{}')", key);
}
