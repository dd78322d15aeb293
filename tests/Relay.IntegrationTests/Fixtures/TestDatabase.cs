using Npgsql;
using NpgsqlTypes;
using Relay.Testing;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>A database of one test, with its own slot and publication names; dropped with its slots afterwards.</summary>
public sealed class TestDatabase(string name, string connectionString, string serverConnectionString) : IAsyncDisposable
{
    readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    public string Name { get; } = name;
    public string ConnectionString { get; } = connectionString;
    public string SlotName { get; } = name + "_slot";
    public string PublicationName { get; } = name + "_pub";

    /// <summary>Creates an outbox table shaped as Debezium's outbox defaults expect.</summary>
    public Task CreateOutboxTableAsync(string table = "public.outbox", string payloadType = "jsonb") =>
        ExecuteAsync($"""
            CREATE TABLE {table} (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                aggregatetype text NOT NULL,
                aggregateid text NOT NULL,
                type text NOT NULL,
                payload {payloadType},
                created_at timestamptz NOT NULL DEFAULT now())
            """);

    /// <summary>Drops pooled connections (after the server was restarted under them).</summary>
    public void ClearPool() => _dataSource.Clear();

    public async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task<List<T>> ListAsync<T>(string sql, Func<NpgsqlDataReader, T> read)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
            rows.Add(read(reader));
        return rows;
    }

    public Task<NpgsqlLogSequenceNumber> CurrentWalLsnAsync() => ScalarAsync<NpgsqlLogSequenceNumber>("SELECT pg_current_wal_lsn()");

    /// <summary>The slot's confirmed_flush_lsn, or null before the slot exists.</summary>
    public async Task<NpgsqlLogSequenceNumber?> ConfirmedFlushLsnAsync()
    {
        await using var command = _dataSource.CreateCommand("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = SlotName });
        return await command.ExecuteScalarAsync() is NpgsqlLogSequenceNumber lsn ? lsn : null;
    }

    /// <summary>Waits until the slot's confirmed position reaches <paramref name="lsn"/>.</summary>
    public Task<bool> WaitForConfirmedAsync(NpgsqlLogSequenceNumber lsn, TimeSpan timeout) =>
        Eventually.WaitUntilAsync(async () => await ConfirmedFlushLsnAsync() is { } confirmed && confirmed >= lsn, timeout, TimeSpan.FromMilliseconds(100));

    /// <summary>
    /// Waits until a relay streams from this database's slot. A slot sees only what is committed after it was
    /// created, so tests insert their rows after this.
    /// </summary>
    public async Task WaitForStreamingAsync(TimeSpan? timeout = null)
    {
        // Active alone is not enough: the slot is also active while it is being created.
        if (!await Eventually.WaitUntilAsync(async () => await ScalarAsync<long>("""
                SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid
                WHERE s.slot_name = $1 AND a.query LIKE 'START_REPLICATION%'
                """, SlotName) == 1, timeout ?? TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"No relay streamed from slot {SlotName} within the timeout.");
    }

    /// <summary>
    /// Writes and checkpoints WAL until the slot's wal_status is 'lost' (needs a server with a tiny
    /// max_slot_wal_keep_size); returns the final wal_status.
    /// </summary>
    public async Task<string> MakeSlotLoseWalAsync()
    {
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS filler (x text)");
        const string status = "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1";
        for (var i = 0; i < 20 && await ScalarAsync<string>(status, SlotName) != "lost"; i++)
        {
            await ExecuteAsync("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 20000)");
            await ExecuteAsync("SELECT pg_switch_wal()");
            await ExecuteAsync("CHECKPOINT");
        }
        return await ScalarAsync<string>(status, SlotName);
    }

    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(serverConnectionString);
        await admin.OpenAsync();
        // A slot still held by a walsender cannot be dropped: end that backend first.
        await using (var terminate = new NpgsqlCommand(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL", admin))
        {
            terminate.Parameters.Add(new NpgsqlParameter { Value = Name });
            await terminate.ExecuteNonQueryAsync();
        }
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                await using var drop = new NpgsqlCommand(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", admin);
                drop.Parameters.Add(new NpgsqlParameter { Value = Name });
                await drop.ExecuteNonQueryAsync();
                break;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                await Task.Delay(100);
            }
        }
        await using var dropDatabase = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", admin);
        await dropDatabase.ExecuteNonQueryAsync();
    }
}
