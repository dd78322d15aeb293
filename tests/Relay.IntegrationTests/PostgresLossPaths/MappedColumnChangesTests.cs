using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>Issue 12, rows 6 and 7: mapped columns pgoutput does not send, and a header column added while rows wait.</summary>
public class MappedColumnChangesTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task a_generated_mapped_column_is_refused_at_start_naming_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.ExecuteAsync("""
            CREATE TABLE public.outbox (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregateid text NOT NULL, type text NOT NULL, payload jsonb,
                aggregatetype text GENERATED ALWAYS AS ('Order') STORED)
            """);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.StartsWith("Relay:Outbox:Tables:0:TopicTemplate: column 'aggregatetype' of table 'public.outbox' is GENERATED", relay.Status.FatalError);
        Assert.Null(await db.ConfirmedFlushLsnAsync());
    }

    [Fact]
    public async Task rows_from_before_a_header_column_was_added_publish_without_that_header()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var topic = db.Name + ".events";
        await using (var first = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic))))
            await db.WaitForStreamingAsync();

        // While the relay is down: an older row, then the migration that adds the column, then a row that has it.
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'old', 'Created', '{}')");
        await db.ExecuteAsync("ALTER TABLE public.outbox ADD COLUMN tenant text");
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload, tenant) VALUES ('Order', 'new', 'Created', '{}', 'acme')");

        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic), ("HeaderColumns:0", "tenant")));
        Assert.True(await reader.WaitForDistinctIdsAsync(2, Patience), $"received {reader.DistinctIds} of 2");
        Assert.Null(reader.Messages.First(m => m.Key == "old").Header("tenant"));
        Assert.Equal("acme", reader.Messages.First(m => m.Key == "new").Header("tenant"));
        Assert.Equal("public.outbox", Assert.Single(relay.Events.WithId(RelayEvents.ColumnsAbsent)).Property("Table"));
        Assert.Equal(0, relay.Status.ExitCode);
    }
}
