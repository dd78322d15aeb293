using Npgsql;
using Relay.DevServices;
using Testcontainers.PostgreSql;

[assembly: AssemblyFixture(typeof(Relay.IntegrationTests.Fixtures.PostgresFixture))]

namespace Relay.IntegrationTests.Fixtures;

/// <summary>
/// One PostgreSQL server for the whole run, from the first of: <c>RELAY_TEST_POSTGRES</c> (a connection string to a
/// superuser on a server with wal_level=logical), Testcontainers when a Docker engine answers, or a throwaway cluster
/// from the machine's PostgreSQL binaries. Each test gets its own database, slot and publication.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    PostgreSqlContainer? _container;
    int _databases;

    public string ConnectionString { get; private set; } = "";
    public string Origin { get; private set; } = "";
    /// <summary>The throwaway cluster, when that is what runs (tests that restart the server need it).</summary>
    public PostgresCluster? LocalCluster { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("RELAY_TEST_POSTGRES") is { Length: > 0 } configured)
        {
            (ConnectionString, Origin) = (configured, "RELAY_TEST_POSTGRES");
            return;
        }
        if (await DockerProbe.TryAsync(async () =>
            {
                var container = new PostgreSqlBuilder("postgres:17").WithCommand("-c", "wal_level=logical").Build();
                await container.StartAsync();
                return container;
            }) is { } container)
        {
            _container = container;
            (ConnectionString, Origin) = (container.GetConnectionString(), "Testcontainers");
            return;
        }
        LocalCluster = await PostgresCluster.StartAsync();
        (ConnectionString, Origin) = (LocalCluster.ConnectionString, $"local cluster on port {LocalCluster.Port}");
    }

    /// <summary>A fresh database with unique slot and publication names, dropped (with its slots) on dispose.</summary>
    public Task<TestDatabase> CreateDatabaseAsync() => CreateDatabaseAsync(ConnectionString);

    /// <summary>A fresh database on another server (e.g. a dedicated cluster a test restarts).</summary>
    public async Task<TestDatabase> CreateDatabaseAsync(string serverConnectionString)
    {
        var name = $"relay_t{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await using (var admin = new NpgsqlConnection(serverConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name };
        return new TestDatabase(name, builder.ConnectionString, serverConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (_container is not null)
            await _container.DisposeAsync();
        if (LocalCluster is not null)
            await LocalCluster.DisposeAsync();
    }
}
