using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Npgsql.Replication;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// Tails PostgreSQL's WAL through logical replication with the built-in <c>pgoutput</c> plugin
/// (https://www.postgresql.org/docs/current/protocol-logical-replication.html). Only the INSERTs of the configured
/// outbox tables reach Relay: the publication is created with <c>publish = 'insert'</c>, so the server filters the rest.
/// </summary>
public sealed class PostgresOutboxSource(
    IOptions<PostgresSourceOptions> options,
    OutboxTables outboxTables,
    ILoggerFactory loggerFactory) : IOutboxSource
{
    IReadOnlyList<OutboxTableMapping> tables => outboxTables.Mappings;
    // Where the slot stood when last prepared, for the "streaming from" log line.
    string _slotPosition = "the slot's confirmed position";
    // The mapped columns' types as the catalog had them when last prepared, and whether values can come in binary.
    readonly Dictionary<(string Table, string Column), PgType> _columnTypes = [];
    bool _binary;
    readonly PostgresSourceOptions _options = options.Value;
    readonly ILogger _logger = loggerFactory.CreateLogger<PostgresOutboxSource>();

    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_options.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            Log.Connected(_logger, connection.PostgreSqlVersion.ToString(), connection.Database);

            await CheckWalLevelAsync(connection, cancellationToken);
            await CheckReplicationPrivilegeAsync(connection, cancellationToken);
            _columnTypes.Clear();
            foreach (var table in tables)
                await CheckTableAsync(connection, table, _columnTypes, cancellationToken);
            _binary = ChooseBinary(connection.PostgreSqlVersion.Major);
            await EnsurePublicationAsync(connection, cancellationToken);
            await EnsureSlotAsync(connection, cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
        }
    }

    public async Task<IOutboxStream> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new LogicalReplicationConnection(ReplicationConnectionString())
        {
            WalReceiverStatusInterval = _options.WalReceiverStatusInterval,
        };
        try
        {
            await connection.Open(cancellationToken);
            // A copy: the next PrepareAsync refills the source's dictionary.
            return new PostgresOutboxStream(connection, _options, tables, new Dictionary<(string, string), PgType>(_columnTypes), _binary,
                _slotPosition, _logger);
        }
        catch (Exception e)
        {
            await connection.DisposeAsync();
            if (e is NpgsqlException or TimeoutException)
                throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
            throw;
        }
    }

    public Task<IReadOnlyList<PreflightCheck>> CheckAsync(CancellationToken cancellationToken) =>
        new PostgresPreflight(_options, tables).RunAsync(cancellationToken);

    public async Task<long?> GetRetainedBytesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_options.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                connection) { Parameters = { new() { Value = _options.SlotName } } };
            return await command.ExecuteScalarAsync(cancellationToken) is long bytes ? bytes : null;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return null;
        }
    }

    static async Task CheckReplicationPrivilegeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT rolname, rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (await reader.ReadAsync(cancellationToken) && !reader.GetBoolean(1))
            throw new RelayConfigurationException(
                $"Role '{reader.GetString(0)}' lacks the REPLICATION attribute that logical replication needs: " +
                $"run ALTER ROLE {reader.GetString(0)} WITH REPLICATION.");
    }

    /// <summary>pgoutput sends values as text in the walsender's settings: make bytea arrive as hex, whatever the server default.</summary>
    string ReplicationConnectionString()
    {
        var builder = new NpgsqlConnectionStringBuilder(_options.ConnectionString);
        builder.Options = $"{builder.Options} -c bytea_output=hex".Trim();
        return builder.ConnectionString;
    }

    bool ChooseBinary(int serverMajorVersion)
    {
        if (!_options.BinaryValues)
            return false;
        if (serverMajorVersion < 14)
        {
            Log.TextValues(_logger, $"PostgreSQL {serverMajorVersion} has no binary mode in pgoutput (14 and later do)");
            return false;
        }
        var other = _columnTypes.Where(c => !PgValues.SupportsBinary(c.Value.BaseOid)).Select(c => $"{c.Key.Table}.{c.Key.Column}").ToList();
        if (other.Count > 0)
        {
            Log.TextValues(_logger, $"column(s) {string.Join(", ", other)} have types Relay only reads as text");
            return false;
        }
        return true;
    }

    static async Task CheckWalLevelAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SHOW wal_level", connection);
        var walLevel = (string?)await command.ExecuteScalarAsync(cancellationToken);
        if (walLevel != "logical")
            throw new RelayConfigurationException(
                $"PostgreSQL wal_level is '{walLevel}', Relay needs 'logical': run ALTER SYSTEM SET wal_level = logical " +
                "(or set it in postgresql.conf) and restart the server.");
    }

    static async Task CheckTableAsync(NpgsqlConnection connection, OutboxTableMapping table,
        Dictionary<(string Table, string Column), PgType> columnTypes, CancellationToken cancellationToken)
    {
        // Each column with its type, and for a domain the type underneath (which decides its binary format).
        const string sql = """
            SELECT a.attname, a.atttypid, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
            """;
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = table.Schema }, new() { Value = table.Name } } };
        var columns = new HashSet<string>(StringComparer.Ordinal);
        var found = false;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                found = true;
                if (reader.IsDBNull(0))
                    continue;
                columns.Add(reader.GetString(0));
                if (table.Columns.Any(c => c.Name == reader.GetString(0)))
                    columnTypes[(table.QualifiedName, reader.GetString(0))] = new PgType(reader.GetFieldValue<uint>(1), reader.GetFieldValue<uint>(2));
            }
        }
        if (!found)
            throw new RelayConfigurationException(
                $"{table.ConfigurationKey}:Table: table '{table.QualifiedName}' does not exist in database '{connection.Database}'.");
        foreach (var column in table.Columns.Where(c => !columns.Contains(c.Name)))
            throw new RelayConfigurationException(
                $"{column.ConfigurationKey}: column '{column.Name}' does not exist in table '{table.QualifiedName}' " +
                $"(it has: {string.Join(", ", columns.Order())}).");
    }

    async Task EnsurePublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var name = _options.PublicationName;
        await using var command = new NpgsqlCommand(
            "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_catalog.pg_publication WHERE pubname = $1",
            connection) { Parameters = { new() { Value = name } } };
        bool allTables, insert, update, delete, truncate;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                await reader.DisposeAsync();
                await CreatePublicationAsync(connection, cancellationToken);
                return;
            }
            (allTables, insert, update, delete, truncate) =
                (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4));
        }

        if (!insert)
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: publication '{name}' does not publish inserts; " +
                $"run ALTER PUBLICATION {name} SET (publish = 'insert').");
        var extra = new[] { (update, "update"), (delete, "delete"), (truncate, "truncate") }.Where(p => p.Item1).Select(p => p.Item2).ToList();
        if (extra.Count > 0)
            Log.PublicationPublishesMore(_logger, name, string.Join(", ", extra));
        if (allTables)
            return;

        await using var tablesCommand = new NpgsqlCommand(
            "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1", connection)
            { Parameters = { new() { Value = name } } };
        var published = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await tablesCommand.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                published.Add($"{reader.GetString(0)}.{reader.GetString(1)}");
        }
        var missing = tables.Where(t => !published.Contains(t.QualifiedName)).ToList();
        if (missing.Count > 0)
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: publication '{name}' exists but does not include " +
                $"{string.Join(", ", missing.Select(t => t.QualifiedName))}; run ALTER PUBLICATION {name} ADD TABLE " +
                $"{string.Join(", ", missing.Select(Quote))}, or name another publication.");
    }

    async Task CreatePublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var name = _options.PublicationName;
        if (!_options.CreatePublication)
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: publication '{name}' does not exist and " +
                $"{PostgresSourceOptions.Section}:CreatePublication is false; create it with CREATE PUBLICATION {name} " +
                $"FOR TABLE {string.Join(", ", tables.Select(Quote))} WITH (publish = 'insert').");
        var tableList = string.Join(", ", tables.Select(Quote));
        await using var create = new NpgsqlCommand(
            $"CREATE PUBLICATION {QuoteIdentifier(name)} FOR TABLE {tableList} WITH (publish = 'insert')", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
            Log.PublicationCreated(_logger, name, tableList);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            // Another relay created it between our check and now: verify what it created.
            await EnsurePublicationAsync(connection, cancellationToken);
        }
    }

    async Task EnsureSlotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var slot = _options.SlotName;
        // wal_status exists from PostgreSQL 13 on; before that a lost slot shows itself when streaming starts.
        var walStatus = connection.PostgreSqlVersion.Major >= 13 ? "wal_status" : "NULL::text";
        await using var command = new NpgsqlCommand(
            $"SELECT plugin, slot_type, database, confirmed_flush_lsn::text, active_pid, {walStatus} FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            connection) { Parameters = { new() { Value = slot } } };
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                var (plugin, type, database) = (reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
                if (type != "logical" || plugin != "pgoutput")
                    throw new RelayConfigurationException(
                        $"{PostgresSourceOptions.Section}:SlotName: slot '{slot}' exists but is a {type} slot with plugin " +
                        $"'{plugin}'; Relay needs a logical slot with plugin 'pgoutput'. Name another slot or drop this one.");
                if (database != connection.Database)
                    throw new RelayConfigurationException(
                        $"{PostgresSourceOptions.Section}:SlotName: slot '{slot}' belongs to database '{database}', " +
                        $"not '{connection.Database}'. Name another slot.");
                var confirmed = reader.IsDBNull(3) ? "(none)" : reader.GetString(3);
                if (!reader.IsDBNull(5) && reader.GetString(5) == "lost")
                    throw new RelayConfigurationException(
                        $"{PostgresSourceOptions.Section}:SlotName: replication slot '{slot}' has lost WAL it still needed " +
                        $"(wal_status = lost, confirmed up to {confirmed}): outbox rows committed after that were removed before " +
                        "Relay published them. Recover them from the outbox table, then drop and recreate the slot " +
                        $"(SELECT pg_drop_replication_slot('{slot}')); raise max_slot_wal_keep_size to prevent this.");
                if (!reader.IsDBNull(4))
                    throw new StandbyException($"Replication slot '{slot}' is in use by another process (PID {reader.GetInt32(4)}).");
                Log.SlotFound(_logger, slot, confirmed);
                _slotPosition = confirmed;
                return;
            }
        }

        if (!_options.CreateSlot)
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:SlotName: replication slot '{slot}' does not exist and " +
                $"{PostgresSourceOptions.Section}:CreateSlot is false; create it with " +
                $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput').");

        await using var replication = new LogicalReplicationConnection(_options.ConnectionString);
        await replication.Open(cancellationToken);
        try
        {
            var created = await replication.CreatePgOutputReplicationSlot(slot, temporarySlot: false,
                slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport, cancellationToken: cancellationToken);
            Log.SlotCreated(_logger, slot, created.ConsistentPoint.ToString());
            _slotPosition = created.ConsistentPoint.ToString();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            Log.SlotCreatedConcurrently(_logger, slot);
        }
    }

    static string Quote(OutboxTableMapping table) => $"{QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}";

    static string QuoteIdentifier(string identifier) => $"\"{identifier.Replace("\"", "\"\"")}\"";
}
