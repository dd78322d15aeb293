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

public sealed class SqlServerDatabase(string name, string connectionString, string serverConnectionString) : IAsyncDisposable
{
    public string Name { get; } = name;
    public string ConnectionString { get; } = connectionString;

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new SqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>An outbox table with Debezium's column names, captured by CDC (inserts, updates, deletes: Relay filters).</summary>
    public async Task CreateOutboxTableAsync(string table = "outbox")
    {
        await ExecuteAsync($"""
            CREATE TABLE dbo.{table} (
                id uniqueidentifier NOT NULL PRIMARY KEY DEFAULT NEWID(),
                aggregatetype nvarchar(255) NOT NULL,
                aggregateid nvarchar(255) NOT NULL,
                type nvarchar(255) NOT NULL,
                payload nvarchar(max) NULL,
                seq int NULL)
            """);
        await ExecuteAsync($"EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'{table}', @role_name = NULL, @supports_net_changes = 0");
    }

    public async ValueTask DisposeAsync()
    {
        SqlConnection.ClearAllPools();
        await using var master = new SqlConnection(serverConnectionString);
        await master.OpenAsync();
        await using var drop = new SqlCommand($"ALTER DATABASE [{Name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{Name}]", master);
        await drop.ExecuteNonQueryAsync();
    }
}
