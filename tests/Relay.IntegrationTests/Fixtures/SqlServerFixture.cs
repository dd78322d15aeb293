using Microsoft.Data.SqlClient;
using Testcontainers.MsSql;

[assembly: AssemblyFixture(typeof(Relay.IntegrationTests.Fixtures.SqlServerFixture))]

namespace Relay.IntegrationTests.Fixtures;

/// <summary>
/// A SQL Server with SQL Agent (CDC's capture job needs it), from <c>RELAY_TEST_SQLSERVER</c> (a connection string of a
/// login that may create databases) or Testcontainers.MsSql when a Docker engine answers. None can run on the project's
/// CI machine: then <see cref="SkipReason"/> says so and the SQL Server tests are reported as skipped.
/// </summary>
public sealed class SqlServerFixture : IAsyncLifetime
{
    MsSqlContainer? _container;
    int _databases;

    public string? ConnectionString { get; private set; }

    public string SkipReason =>
        "No SQL Server reachable: set RELAY_TEST_SQLSERVER to a connection string (SQL Agent running, login may create databases) " +
        "or run where a Docker engine answers (Testcontainers.MsSql with MSSQL_AGENT_ENABLED=true). SQL Server cannot run on this machine.";

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("RELAY_TEST_SQLSERVER") is { Length: > 0 } configured)
        {
            ConnectionString = configured;
            return;
        }
        _container = await DockerProbe.TryAsync(async () =>
        {
            var container = new MsSqlBuilder("mcr.microsoft.com/mssql/server:2022-latest").WithEnvironment("MSSQL_AGENT_ENABLED", "true").Build();
            await container.StartAsync();
            return container;
        });
        ConnectionString = _container?.GetConnectionString();
    }

    /// <summary>A fresh database with CDC enabled; dropped on dispose.</summary>
    public async Task<SqlServerDatabase> CreateDatabaseAsync()
    {
        var name = $"relay_t{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await using (var master = new SqlConnection(ConnectionString))
        {
            await master.OpenAsync();
            await using var create = new SqlCommand($"CREATE DATABASE [{name}]", master);
            await create.ExecuteNonQueryAsync();
        }
        var database = new SqlServerDatabase(name, new SqlConnectionStringBuilder(ConnectionString) { InitialCatalog = name, TrustServerCertificate = true }.ConnectionString, ConnectionString!);
        await database.ExecuteAsync("EXEC sys.sp_cdc_enable_db");
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        if (_container is not null)
            await _container.DisposeAsync();
    }
}
