using Microsoft.Data.SqlClient;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>A database of one test on the SQL Server, with CDC enabled; dropped afterwards.</summary>
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
