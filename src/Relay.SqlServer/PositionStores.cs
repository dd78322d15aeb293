using System.Data;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.SqlClient;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// The position in a table of the source database, created when absent. The active relay holds a lease on its row;
/// every write is a compare-and-set on that lease, so a second relay with the same position name is detected: it waits
/// as a standby until the lease expires or is released, and a relay that lost its lease stops writing.
/// </summary>
sealed class SqlPositionStore(SqlServerSourceOptions options, string owner) : IPositionStore
{
    /// <summary>Who holds the lease: one id per source (one per process in production), not per run.</summary>
    internal string Owner => _owner;

    readonly string _owner = owner;
    readonly (string Schema, string Table) _table = Split(options.PositionTable);

    static (string, string) Split(string name) => name.Split('.') is [var schema, var table]
        ? (schema, table)
        : throw new RelayConfigurationException($"{SqlServerSourceOptions.Section}:PositionTable: '{name}' is not schema.table.");

    string Table => $"[{_table.Schema}].[{_table.Table}]";

    async Task<SqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqlConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public async Task<SourcePosition?> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var sql = $"""
            SET XACT_ABORT ON;
            -- Concurrent first starts: one creates, the others wait on the application lock and find it created.
            BEGIN TRANSACTION;
            EXEC sp_getapplock @Resource = @qualified, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 30000;
            IF SCHEMA_ID(@schema) IS NULL EXEC('CREATE SCHEMA [' + @schema + ']');
            IF OBJECT_ID(@qualified, 'U') IS NULL
                CREATE TABLE {Table} (
                    name nvarchar(200) NOT NULL PRIMARY KEY,
                    commit_lsn binary(10) NULL,
                    seqval binary(10) NULL,
                    owner nvarchar(200) NULL,
                    lease_until datetime2 NULL,
                    updated_at datetime2 NOT NULL);
            IF NOT EXISTS (SELECT 1 FROM {Table} WITH (UPDLOCK, HOLDLOCK) WHERE name = @name)
                INSERT INTO {Table} (name, updated_at) VALUES (@name, SYSUTCDATETIME());
            COMMIT;
            UPDATE {Table} SET owner = @owner, lease_until = DATEADD(millisecond, @lease, SYSUTCDATETIME())
            WHERE name = @name AND (owner IS NULL OR owner = @owner OR lease_until < SYSUTCDATETIME());
            SELECT @@ROWCOUNT, commit_lsn, seqval, owner FROM {Table} WHERE name = @name;
            """;
        await using var command = new SqlCommand(sql, connection);
        command.Parameters.Add("@schema", SqlDbType.NVarChar, 128).Value = _table.Schema;
        command.Parameters.Add("@qualified", SqlDbType.NVarChar, 300).Value = $"{_table.Schema}.{_table.Table}";
        AddCommon(command);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.GetInt32(0) == 0)
            throw new StandbyException($"Position '{options.PositionName}' in {options.PositionTable} is held by another relay ({reader.GetString(3)}).");
        return reader.IsDBNull(1) ? null : SqlServerLsn.Position((byte[])reader[1], (byte[])reader[2]);
    }

    public async Task SaveAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand($"""
            UPDATE {Table} SET commit_lsn = @lsn, seqval = @seqval, updated_at = SYSUTCDATETIME(),
                               lease_until = DATEADD(millisecond, @lease, SYSUTCDATETIME())
            WHERE name = @name AND owner = @owner
            """, connection);
        AddCommon(command);
        command.Parameters.Add("@lsn", SqlDbType.Binary, 10).Value = SqlServerLsn.ToBytes(position.Commit);
        command.Parameters.Add("@seqval", SqlDbType.Binary, 10).Value = SqlServerLsn.ToBytes(position.Sequence);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new StandbyException($"Position '{options.PositionName}' was taken over by another relay; this one stops writing and waits.");
    }

    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand(
            $"UPDATE {Table} SET lease_until = DATEADD(millisecond, @lease, SYSUTCDATETIME()) WHERE name = @name AND owner = @owner", connection);
        AddCommon(command);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new StandbyException($"Position '{options.PositionName}' was taken over by another relay; this one stops and waits.");
    }

    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand($"UPDATE {Table} SET owner = NULL, lease_until = NULL WHERE name = @name AND owner = @owner", connection);
        AddCommon(command);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    void AddCommon(SqlCommand command)
    {
        command.Parameters.Add("@name", SqlDbType.NVarChar, 200).Value = options.PositionName;
        command.Parameters.Add("@owner", SqlDbType.NVarChar, 200).Value = _owner;
        command.Parameters.Add("@lease", SqlDbType.Int).Value = (int)options.LeaseDuration.TotalMilliseconds;
    }
}

/// <summary>
/// The position in a JSON file, for a single relay with a persistent volume (and tests). The claim is an exclusive lock
/// on <c>&lt;file&gt;.lock</c> held while the relay runs, so a second process on the same volume waits as a standby; a
/// save is written to a temporary file, flushed to disk, then renamed over the old one (atomic on POSIX file systems).
/// A file cannot coordinate replicas on different volumes (each emptyDir has its own): use the Table store for those.
/// </summary>
public sealed class FilePositionStore(string path) : IPositionStore, IAsyncDisposable
{

    FileStream? _lock;

    public async Task<SourcePosition?> ClaimAsync(CancellationToken cancellationToken)
    {
        if (_lock is null)
        {
            try
            {
                _lock = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e)
            {
                throw new StandbyException($"Position file '{path}' is locked by another relay process ({path}.lock); this one waits as a standby.", e);
            }
        }
        if (!File.Exists(path))
            return null;
        var stored = JsonSerializer.Deserialize(await File.ReadAllTextAsync(path, cancellationToken), StoredJson.Default.StoredPosition)
            ?? throw new RelayConfigurationException($"Position file '{path}' is empty or not a position.");
        return new SourcePosition(SqlServerLsn.Parse(stored.CommitLsn), SqlServerLsn.Parse(stored.Seqval));
    }

    public async Task SaveAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        if (_lock is null)
            throw new StandbyException($"Position file '{path}' is not claimed by this relay; it does not write it.");
        var temporary = path + ".tmp";
        await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await JsonSerializer.SerializeAsync(file, new StoredPosition(SqlServerLsn.Format(position.Commit), SqlServerLsn.Format(position.Sequence)),
                StoredJson.Default.StoredPosition, cancellationToken);
            file.Flush(flushToDisk: true);   // on disk before it replaces the old position: a crash leaves one or the other
        }
        File.Move(temporary, path, overwrite: true);
    }

    public Task RenewAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task ReleaseAsync(CancellationToken cancellationToken)
    {
        _lock?.Dispose();
        _lock = null;
        return Task.CompletedTask;
    }

    /// <summary>The lock belongs to this run: a failed run lets it go too, so the next run of the same process can claim it.</summary>
    public ValueTask DisposeAsync() => new(ReleaseAsync(CancellationToken.None));
}

/// <summary>The position file's content: <c>{"CommitLsn": "0x…", "Seqval": "0x…"}</c>.</summary>
sealed record StoredPosition(string CommitLsn, string Seqval);

/// <summary>Serializes <see cref="StoredPosition"/> with generated code (no reflection: the relay is compiled ahead of time).</summary>
[JsonSerializable(typeof(StoredPosition))]
sealed partial class StoredJson : JsonSerializerContext;
