using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests.Republish;

/// <summary>
/// <c>relay republish</c> exits 0 only when Kafka acknowledged every message: a refused topic, brokers that stay down and
/// an interrupt end it non-zero, each saying how far it got; an interrupted run prints the command that sends the rest.
/// </summary>
public class RepublishFailureTests(PostgresFixture postgres, KafkaFixture kafka)
{
    const int TopicAuthorizationFailed = 29;

    [Fact]
    public async Task a_topic_the_broker_refuses_ends_the_run_with_exit_1_naming_the_topic()
    {
        Assert.SkipWhen(kafka.Mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".refused";
        kafka.Mock!.SetTopicError(topic, TopicAuthorizationFailed);
        await RepublishTable.CreateAsync(db);
        await RepublishTable.FillAsync(db, 0, 30);

        await using var republish = RelayProcess.Start(RepublishTable.Settings(db, kafka, topic), "republish", "--from", "2026-11-30T09:00:00Z", "--ack-timeout", "2m");
        Assert.Equal(1, await republish.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.Contains(republish.Output, line => line.StartsWith("Failed: a row of public.outbox", StringComparison.Ordinal)
                                                  && line.Contains($"topic {topic} (TopicAuthorizationFailed)", StringComparison.Ordinal));
        Assert.Contains("Nothing was acknowledged.", republish.Output);
        Assert.True(republish.Events.Has(RelayEvents.RepublishFailed));
        Assert.False(republish.Events.Has(RelayEvents.RepublishCompleted));
    }

    [Fact]
    public async Task with_the_brokers_down_the_run_gives_up_after_the_ack_timeout_with_exit_1()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        await using var db = await postgres.CreateDatabaseAsync();
        await RepublishTable.CreateAsync(db);
        await RepublishTable.FillAsync(db, 0, 30);

        mock!.SetBrokerDown();
        try
        {
            var started = DateTime.UtcNow;
            await using var republish = RelayProcess.Start(RepublishTable.Settings(db, kafka, db.Name + ".events"),
                "republish", "--from", "2026-11-30T09:00:00Z", "--ack-timeout", "5s");
            Assert.Equal(1, await republish.WaitForExitAsync(RepublishTable.RunTimeout));
            var took = DateTime.UtcNow - started;
            Assert.Contains(republish.Output, line => line.StartsWith("Failed: Kafka acknowledged nothing for 5 s with 30 message(s) waiting", StringComparison.Ordinal));
            Assert.Contains("Nothing was acknowledged.", republish.Output);
            Assert.Contains("30 row(s) sent after that point were not all acknowledged: some may have reached Kafka, and a resumed run sends them again.",
                republish.Output);
            Assert.Contains("Run the same command again to start over.", republish.Output);
            Assert.True(republish.Events.Has(RelayEvents.RepublishFailed));
            Figures.Report($"brokers down, --ack-timeout 5s: exit 1 after {took.TotalSeconds:0.0} s (process start included)");
        }
        finally
        {
            mock.SetBrokerUp();
        }
    }

    [Fact]
    public async Task ctrl_c_mid_run_waits_for_what_is_in_flight_and_prints_a_resume_command_that_sends_the_rest()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 6);
        await RepublishTable.CreateAsync(db);
        await RepublishTable.FillAsync(db, 0, 20_000);
        using var reader = kafka.ReadTopics(t => t == topic);
        // About 1,000 rows/s (20 in flight, batches wait 20 ms), so the interrupt lands mid-run.
        var settings = RepublishTable.Settings(db, kafka, topic)
            .With("Relay:Pipeline:MaxInFlightMessages", "20").With("Relay:Kafka:Producer:linger.ms", "20");

        await using var first = RelayProcess.Start(settings, "republish", "--from", "2026-11-30T09:00:00Z");
        Assert.True(await Eventually.WaitUntilAsync(() => reader.Count >= 1000, TimeSpan.FromSeconds(60), givenUp: () => first.HasExited),
            $"only {reader.Count} messages arrived before the run ended");
        first.Interrupt();
        Assert.Equal(130, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(first.Events.Has(RelayEvents.RepublishInterrupted));
        var resume = Assert.Single(first.Output, line => line.StartsWith("Resume with: ", StringComparison.Ordinal))["Resume with: ".Length..];

        // In flight was drained and reading stopped: Kafka holds exactly the rows up to the resume point.
        var words = ShellWords(resume);
        var (orderValue, eventId) = (words[words.IndexOf("--from-value") + 1], words[words.IndexOf("--after-id") + 1]);
        var upTo = (await db.ListAsync($"""
            SELECT id::text FROM public.outbox WHERE (created_at, id) <= ('{orderValue.Replace("'", "''")}'::timestamptz, '{eventId}'::uuid)
            """, r => r.GetString(0))).ToHashSet();
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));
        Assert.InRange(upTo.Count, 1000, 19_999);
        Assert.Equal(upTo, reader.Messages.Select(m => m.Header("id")!).ToHashSet());
        Assert.Equal(upTo.Count, reader.Count);

        await using var second = RelayProcess.StartShellCommand(settings, resume);
        Assert.Equal(0, await second.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));
        var all = (await db.ListAsync("SELECT id::text FROM public.outbox", r => r.GetString(0))).ToHashSet();
        var duplicates = Delivery.AssertComplete(reader.Messages.ToList(), all, Payloads.Seq);
        Assert.Equal(0, duplicates);
        Figures.Report($"Ctrl-C after {upTo.Count} of 20000 rows acknowledged; the printed resume command sent the other {all.Count - upTo.Count}: 0 lost, 0 duplicates, per-key order kept");
    }

    [Fact]
    public async Task under_the_dead_letter_policy_unpublishable_rows_are_dead_lettered_with_the_header_and_the_rest_arrives()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var (topic, deadLetters) = (db.Name + ".events", db.Name + ".dlq");
        await kafka.CreateTopicAsync(topic, 6);
        await db.ExecuteAsync("""
            CREATE TABLE public.outbox (id uuid, aggregatetype text, aggregateid text, type text, payload jsonb, created_at timestamptz NOT NULL);
            INSERT INTO public.outbox
            SELECT gen_random_uuid(), 'Order', 'key-' || (g % 7), 'Step', jsonb_build_object('seq', g), timestamptz '2026-11-30 09:00:00+00' + g * interval '1 s'
            FROM generate_series(0, 49) g;
            INSERT INTO public.outbox VALUES
              (gen_random_uuid(), 'Order', NULL, 'Step', '{"seq": 100}', '2026-11-30 09:00:10.5+00'),
              (NULL, 'Order', 'key-1', 'Step', '{"seq": 101}', '2026-11-30 09:00:20.5+00')
            """);
        using var reader = kafka.ReadTopics(t => t == topic || t == deadLetters);
        var settings = RelaySettings.For(db, kafka)
            .Table(0, "public.outbox", ("Topic", topic), ("OnUnpublishableRow", "DeadLetter"), ("DeadLetterTopic", deadLetters));

        await using var republish = RelayProcess.Start(settings, "republish", "--from", "2026-11-30T09:00:00Z");
        Assert.Equal(0, await republish.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.True(await reader.WaitForCaughtUpAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(50, reader.Messages.Count(m => m.Topic == topic));
        var dead = reader.Messages.Where(m => m.Topic == deadLetters).OrderBy(m => Payloads.Seq(m)).ToList();
        Assert.Equal(2, dead.Count);
        Assert.All(reader.Messages, m => Assert.Equal("true", m.Header(RepublishTable.Header)));
        Assert.Contains("key column 'aggregateid' is NULL", dead[0].Header("relay.reason"));
        // Named by the order column, in PostgreSQL's text (as the resume command gives it).
        Assert.Equal("created_at " + await db.ScalarAsync<string>("SELECT created_at::text FROM public.outbox WHERE aggregateid IS NULL"), dead[0].Header("relay.position"));
        Assert.Contains("event id column 'id' is NULL", dead[1].Header("relay.reason"));
        Assert.Contains(republish.Output, line => line.Contains("2 could not be published and went to dead-letter topic", StringComparison.Ordinal));

        // Under Stop, a row without an event id (which cannot be placed in the order) refuses the run before anything is sent.
        settings.With("Relay:Outbox:Tables:0:OnUnpublishableRow", "Stop");
        await using var stopped = RelayProcess.Start(settings, "republish", "--from", "2026-11-30T09:00:00Z");
        Assert.Equal(1, await stopped.WaitForExitAsync(RepublishTable.RunTimeout));
        Assert.Contains(stopped.Output, line => line.StartsWith("Failed: 1 selected row(s) of public.outbox have a NULL event id", StringComparison.Ordinal));
        Assert.False(stopped.Events.Has(RelayEvents.RepublishStarting));
    }

    /// <summary>Splits a command line as a POSIX shell does for words plain, in single quotes, or with a backslash-escaped character.</summary>
    static List<string> ShellWords(string line)
    {
        var (words, word, quoted, escaped, inWord) = (new List<string>(), new System.Text.StringBuilder(), false, false, false);
        foreach (var c in line)
        {
            if (escaped)
            {
                word.Append(c);
                (escaped, inWord) = (false, true);
            }
            else if (c == '\\' && !quoted)
                escaped = true;
            else if (c == '\'')
                (quoted, inWord) = (!quoted, true);
            else if (c == ' ' && !quoted)
            {
                if (inWord)
                    words.Add(word.ToString());
                (word, inWord) = (new System.Text.StringBuilder(), false);
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }
}
