using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;

namespace Relay.IntegrationTests;

/// <summary>Database prerequisites that a restart cannot fix stop the relay with exit code 1 and a message saying what to change.</summary>
public class StartUpTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static async Task<string> FatalErrorAsync(RelaySettings settings)
    {
        await using var relay = await InProcessRelay.StartAsync(settings);
        await relay.Stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, relay.Status.ExitCode);
        return relay.Status.FatalError!;
    }

    [Fact]
    public async Task a_server_without_logical_wal_level_is_refused_with_the_fix()
    {
        Assert.SkipWhen(PostgresCluster.FindBinDirectory() is null, "needs local PostgreSQL binaries to start a server with wal_level=replica");
        await using var cluster = await PostgresCluster.StartAsync(["wal_level = replica"]);
        var settings = new RelaySettings
        {
            ["Relay:Postgres:ConnectionString"] = cluster.ConnectionString,
            ["Relay:Kafka:BootstrapServers"] = kafka.BootstrapServers,
        }.Table(0, "public.outbox");

        var error = await FatalErrorAsync(settings);
        Assert.StartsWith("PostgreSQL wal_level is 'replica', Relay needs 'logical': run ALTER SYSTEM SET wal_level = logical", error);
    }

    [Fact]
    public async Task a_mapping_that_names_a_missing_column_is_refused_naming_the_key()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("HeaderColumns:0", "tenant")));
        Assert.StartsWith("Relay:Outbox:Tables:0:HeaderColumns:0: column 'tenant' does not exist in table 'public.outbox'", error);
    }

    [Fact]
    public async Task a_missing_table_is_refused_naming_the_key()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "sales.outbox"));
        Assert.StartsWith("Relay:Outbox:Tables:0:Table: table 'sales.outbox' does not exist", error);
    }

    [Fact]
    public async Task an_existing_publication_that_lacks_a_table_is_refused_with_the_statement_to_fix_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync("public.outbox");
        await db.CreateOutboxTableAsync("public.outbox2");
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'insert')");

        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox").Table(1, "public.outbox2"));
        Assert.Contains($"publication '{db.PublicationName}' exists but does not include public.outbox2", error);
        Assert.Contains($"ALTER PUBLICATION {db.PublicationName} ADD TABLE \"public\".\"outbox2\"", error);
    }

    [Fact]
    public async Task a_publication_that_does_not_publish_inserts_is_refused()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync($"CREATE PUBLICATION {db.PublicationName} FOR TABLE public.outbox WITH (publish = 'delete')");
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        Assert.Contains($"publication '{db.PublicationName}' does not publish inserts", error);
    }

    [Fact]
    public async Task an_existing_slot_of_another_plugin_is_refused()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        await db.ExecuteAsync($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'test_decoding')");
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox"));
        Assert.Contains($"slot '{db.SlotName}' exists but is a logical slot with plugin 'test_decoding'", error);
    }

    [Fact]
    public async Task with_slot_creation_disabled_a_missing_slot_is_refused_with_the_statement_to_create_it()
    {
        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var error = await FatalErrorAsync(RelaySettings.For(db, kafka).Table(0, "public.outbox").With("Relay:Postgres:CreateSlot", "false"));
        Assert.Contains($"SELECT pg_create_logical_replication_slot('{db.SlotName}', 'pgoutput')", error);
    }
}
