using Relay.IntegrationTests.Fixtures;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, "also": the Stop policy's message names the transaction and the exact statement that skips it, and
/// following docs/operations.md's poison-row steps works: the bad transaction is skipped, nothing after it is.
/// </summary>
public class PoisonRowRunbookTests(PostgresFixture postgres, KafkaFixture kafka)
{
    void SetRoundTripTime(int milliseconds)
    {
        for (var broker = 1; broker <= 3 && kafka.Mock is not null; broker++)
            kafka.Mock.SetRoundTripTime(broker, milliseconds);
    }

    [Fact]
    public async Task the_statement_in_the_stop_message_skips_exactly_the_poison_transaction()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.ExecuteAsync("""
            CREATE TABLE public.outbox (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text, aggregateid text, type text, payload jsonb)
            """);
        var topic = db.Name + ".events";
        using var reader = kafka.ReadTopics(t => t == topic);
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));
        string error;
        NpgsqlTypes.NpgsqlLogSequenceNumber afterGood;
        await using (var relay = await InProcessRelay.StartAsync(settings))
        {
            await db.WaitForStreamingAsync();
            // Slow acknowledgements: good-1 is still in flight when the poison row stops the relay. Its transaction must
            // be confirmed before the relay exits, or skipping the poison transaction would skip good-1 too.
            SetRoundTripTime(1500);
            try
            {
                await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'good-1', 'Created', '{}')");
                afterGood = await db.CurrentWalLsnAsync();
                await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', NULL, 'Created', '{}')");
                await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
            }
            finally
            {
                SetRoundTripTime(0);
            }
            Assert.Equal(1, relay.Status.ExitCode);
            error = relay.Status.FatalError!;
        }
        Assert.True(await db.ConfirmedFlushLsnAsync() >= afterGood, "the transaction before the poison row was not confirmed before the relay stopped");
        Assert.Contains("key column 'aggregateid' is NULL", error);
        var statement = System.Text.RegularExpressions.Regex.Match(error, @"SELECT pg_replication_slot_advance\('[^']+', '[0-9A-F]+/[0-9A-F]+'\)").Value;
        Assert.False(string.IsNullOrEmpty(statement), $"no pg_replication_slot_advance statement in: {error}");

        // The runbook: with the relay stopped, run the statement, then start it again.
        await db.ExecuteAsync(statement);
        await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'good-2', 'Created', '{}')");
        await using var restarted = await InProcessRelay.StartAsync(settings);
        Assert.True(await reader.WaitForDistinctIdsAsync(2, TimeSpan.FromSeconds(60)), $"received {reader.DistinctIds} of 2");
        Assert.Equal(["good-1", "good-2"], reader.Messages.Select(m => m.Key!).Distinct().Order());
        Assert.Equal(0, restarted.Status.ExitCode);
    }
}
