using Npgsql;
using Relay.DevServices;
using Relay.IntegrationTests.Fixtures;

namespace Relay.IntegrationTests.PostgresLossPaths;

/// <summary>
/// Issue 12, row 8: start-up problems a restart cannot fix stop the relay within seconds (exit 1) with the statement to
/// run, instead of "Run failed; reconnecting" for ever or a misleading message.
/// </summary>
public class StartUpErrorTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static async Task<string> FatalErrorAsync(RelaySettings settings, TimeSpan within)
    {
        await using var relay = await InProcessRelay.StartAsync(settings);
        await relay.Stopping.WaitAsync(within);
        Assert.Equal(1, relay.Status.ExitCode);
        return relay.Status.FatalError!;
    }

    static async Task<string> CheckAsync(RelaySettings settings)
    {
        await using var check = RelayProcess.Start(settings, "check");
        Assert.Equal(1, await check.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        return string.Join('\n', check.Output);
    }

    [Fact]
    public async Task a_role_that_may_not_create_the_publication_is_told_the_statement_to_run_as_the_owner()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var role = db.Name + "_replicator";
        await db.ExecuteAsync($"CREATE ROLE {role} LOGIN REPLICATION; GRANT SELECT ON public.outbox TO {role}");
        try
        {
            var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role }.ConnectionString;
            var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox")
                .With("Relay:Postgres:ConnectionString", connection), TimeSpan.FromSeconds(15));
            Assert.Contains($"role '{role}' may not create it (it does not own public.outbox, owned by 'postgres')", error);
            Assert.Contains($"run as the tables' owner: CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')", error);
            var check = await CheckAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox").With("Relay:Postgres:ConnectionString", connection));
            Assert.Contains($"FAIL  publication {db.PublicationName}: ", check);
            Assert.Contains($"role '{role}' may not create it", check);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await db.ExecuteAsync($"REVOKE ALL ON public.outbox FROM {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task slot_creation_held_up_by_an_open_transaction_names_it_and_the_statement_that_ends_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await using var open = new NpgsqlConnection(db.ConnectionString);
        await open.OpenAsync();
        await using var transaction = await open.BeginTransactionAsync();
        await using (var write = new NpgsqlCommand("INSERT INTO public.outbox (aggregatetype, aggregateid, type) VALUES ('A', 'held', 't')", open, transaction))
            await write.ExecuteNonQueryAsync();   // a transaction id: slot creation waits for it
        var pid = open.ProcessID;

        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox").With("Relay:Postgres:SlotCreationTimeout", "00:00:03");
        var error = await FatalErrorAsync(settings, TimeSpan.FromSeconds(30));
        Assert.Contains($"PID {pid}", error);
        Assert.Contains($"SELECT pg_terminate_backend({pid})", error);
        // Once the transaction is older than the timeout, the prerequisites say so before anything waits, and so does relay check.
        var check = await CheckAsync(settings);
        Assert.Contains($"FAIL  replication slot {db.SlotName}: ", check);
        Assert.Contains($"SELECT pg_terminate_backend({pid})", check);
    }

    [Fact]
    public async Task no_free_replication_slot_stops_the_relay_with_the_setting_to_raise()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries for a server with max_replication_slots = 1");
        await using var cluster = await PostgresCluster.StartAsync(["max_replication_slots = 1"]);
        await using var db = await postgres.CreateDatabaseAsync(cluster.ConnectionString);
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync("SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')");
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"), TimeSpan.FromSeconds(15));
        Assert.Contains($"all 1 replication slots are in use and Relay's slot '{db.SlotName}' is not one of them", error);
        Assert.Contains("raise max_replication_slots", error);
    }
}
