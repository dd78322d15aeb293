using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>Issue 12, row 1: a partitioned outbox table is published under its own name, or refused with the fix.</summary>
public class PartitionedOutboxTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static async Task CreatePartitionedOutboxAsync(TestDatabase db) => await db.ExecuteAsync("""
        CREATE TABLE public.outbox (
            id uuid NOT NULL DEFAULT gen_random_uuid(), aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL,
            payload jsonb, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
        CREATE TABLE public.outbox_2026_11 PARTITION OF public.outbox FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
        CREATE TABLE public.outbox_2026_12 PARTITION OF public.outbox FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');
        """);

    [Fact]
    public async Task rows_in_every_partition_arrive_and_the_publication_publishes_via_the_root()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await CreatePartitionedOutboxAsync(db);
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic)));
        await db.WaitForStreamingAsync();

        await db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload, created_at) VALUES
              ('Order', 'o-1', 'Created', '{"n": 1}', '2026-11-30 10:00+00'),
              ('Order', 'o-2', 'Created', '{"n": 2}', '2026-12-01 10:00+00')
            """);
        Assert.True(await reader.WaitForDistinctIdsAsync(2, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of 2 (one row per partition)");
        Assert.Equal(["o-1", "o-2"], reader.Messages.Select(m => m.Key).Order());
        Assert.True(await db.ScalarAsync<bool>("SELECT pubviaroot FROM pg_publication WHERE pubname = $1", db.PublicationName));
        Assert.Equal(0, relay.Status.ExitCode);
    }

    [Fact]
    public async Task an_existing_publication_that_publishes_the_partitions_is_refused_with_the_alter_to_run()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await CreatePartitionedOutboxAsync(db);
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')");

        await using var relay = await InProcessRelay.StartAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        Assert.Contains($"run ALTER PUBLICATION {db.PublicationName} SET (publish_via_partition_root = true)", relay.Status.FatalError);
        // Nothing was confirmed, nothing created: the operator's ALTER is all it takes.
        Assert.Null(await db.ConfirmedFlushLsnAsync());
    }
}
