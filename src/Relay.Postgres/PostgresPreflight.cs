using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// The PostgreSQL prerequisites, checked without changing anything: server settings, the role, tables and columns, the
/// publication and the slot (https://www.postgresql.org/docs/current/logical-replication-config.html).
/// </summary>
sealed class PostgresPreflight(PostgresSourceOptions options, IReadOnlyList<OutboxTableMapping> tables)
{
    readonly List<PreflightCheck> _results = [];

    public async Task<IReadOnlyList<PreflightCheck>> RunAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection connection;
        try
        {
            connection = new NpgsqlConnection(options.ConnectionString);
            await connection.OpenAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or ArgumentException)
        {
            var error = e is ArgumentException ? e : PostgresErrors.Translate(e, options.ConnectionString, options.SlotName);
            _results.Add(PreflightCheck.Fail("database reachable", error.Message, $"fix {PostgresSourceOptions.Section}:ConnectionString or the network path"));
            return _results;
        }
        await using (connection)
        {
            _results.Add(PreflightCheck.Pass("database reachable", $"PostgreSQL {connection.PostgreSqlVersion} at {connection.Host}:{connection.Port}, database {connection.Database}"));
            await SettingsAsync(connection, cancellationToken);
            await RoleAsync(connection, cancellationToken);
            foreach (var table in tables)
                await TableAsync(connection, table, cancellationToken);
            await PublicationAsync(connection, cancellationToken);
            await SlotAsync(connection, cancellationToken);
        }
        return _results;
    }

    async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    async Task SettingsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var walLevel = await ScalarAsync<string>(connection, "SHOW wal_level", cancellationToken);
        _results.Add(walLevel == "logical"
            ? PreflightCheck.Pass("wal_level", "logical")
            : PreflightCheck.Fail("wal_level", $"'{walLevel}'", "ALTER SYSTEM SET wal_level = logical; then restart the server"));

        var slotExists = await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", cancellationToken, options.SlotName) > 0;
        var maxSlots = int.Parse(await ScalarAsync<string>(connection, "SHOW max_replication_slots", cancellationToken));
        var usedSlots = await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_replication_slots", cancellationToken);
        _results.Add(slotExists || usedSlots < maxSlots
            ? PreflightCheck.Pass("max_replication_slots", $"{usedSlots} of {maxSlots} used{(slotExists ? ", including Relay's" : "")}")
            : PreflightCheck.Fail("max_replication_slots", $"all {maxSlots} in use and Relay's slot '{options.SlotName}' is not one of them",
                "raise max_replication_slots (restart needed) or drop an unused slot"));

        var maxSenders = int.Parse(await ScalarAsync<string>(connection, "SHOW max_wal_senders", cancellationToken));
        var usedSenders = await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'", cancellationToken);
        _results.Add(usedSenders < maxSenders
            ? PreflightCheck.Pass("max_wal_senders", $"{usedSenders} of {maxSenders} in use")
            : PreflightCheck.Fail("max_wal_senders", $"all {maxSenders} in use", "raise max_wal_senders (restart needed) or stop an unused replication client"));
    }

    async Task RoleAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var user = await ScalarAsync<string>(connection, "SELECT current_user::text", cancellationToken);
        var replication = await ScalarAsync<bool>(connection, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user", cancellationToken);
        _results.Add(replication
            ? PreflightCheck.Pass("REPLICATION privilege", $"role '{user}' may replicate")
            : PreflightCheck.Fail("REPLICATION privilege", $"role '{user}' lacks REPLICATION", $"ALTER ROLE {user} WITH REPLICATION"));
    }

    async Task TableAsync(NpgsqlConnection connection, OutboxTableMapping table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relname = $2
            """, connection) { Parameters = { new() { Value = table.Schema }, new() { Value = table.Name } } };
        var columns = new HashSet<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                columns.Add(reader.GetString(0));
        var name = $"table {table.QualifiedName}";
        if (columns.Count == 0)
        {
            _results.Add(PreflightCheck.Fail(name, "does not exist", $"create it, or fix {table.ConfigurationKey}:Table"));
            return;
        }
        var missing = table.Columns.Where(c => !columns.Contains(c.Name)).ToList();
        _results.Add(missing.Count == 0
            ? PreflightCheck.Pass(name, $"has the mapped columns {string.Join(", ", table.Columns.Select(c => c.Name))}")
            : PreflightCheck.Fail(name, $"lacks {string.Join(", ", missing.Select(c => $"'{c.Name}' ({c.ConfigurationKey})"))}",
                "add the columns, or fix the mapping keys named"));
    }

    async Task PublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var name = $"publication {options.PublicationName}";
        await using var command = new NpgsqlCommand(
            "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1", connection)
            { Parameters = { new() { Value = options.PublicationName } } };
        bool all, insert, update, delete, truncate;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                _results.Add(options.CreatePublication
                    ? PreflightCheck.Pass(name, "does not exist yet; Relay creates it at start (publish = 'insert')")
                    : PreflightCheck.Fail(name, "does not exist and CreatePublication is false",
                        $"CREATE PUBLICATION {options.PublicationName} FOR TABLE {string.Join(", ", tables.Select(t => t.QualifiedName))} WITH (publish = 'insert')"));
                return;
            }
            (all, insert, update, delete, truncate) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4));
        }
        var published = new HashSet<string>();
        await using (var tablesCommand = new NpgsqlCommand("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1", connection)
                         { Parameters = { new() { Value = options.PublicationName } } })
        await using (var reader = await tablesCommand.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                published.Add(reader.GetString(0));
        var missing = all ? [] : tables.Where(t => !published.Contains(t.QualifiedName)).Select(t => t.QualifiedName).ToList();
        var extra = new[] { (update, "update"), (delete, "delete"), (truncate, "truncate") }.Where(p => p.Item1).Select(p => p.Item2).ToList();
        if (missing.Count > 0)
            _results.Add(PreflightCheck.Fail(name, $"does not include {string.Join(", ", missing)}",
                $"ALTER PUBLICATION {options.PublicationName} ADD TABLE {string.Join(", ", missing)}"));
        else if (!insert || extra.Count > 0)
            _results.Add(PreflightCheck.Fail(name, insert ? $"also publishes {string.Join(", ", extra)}" : "does not publish inserts",
                $"ALTER PUBLICATION {options.PublicationName} SET (publish = 'insert')"));
        else
            _results.Add(PreflightCheck.Pass(name, all ? "covers all tables, inserts only" : "covers the outbox tables, inserts only"));
    }

    async Task SlotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var name = $"replication slot {options.SlotName}";
        var modern = connection.PostgreSqlVersion.Major >= 13;
        await using var command = new NpgsqlCommand($"""
            SELECT plugin, database, active_pid, {(modern ? "wal_status" : "NULL::text")},
                   pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                   {(modern ? "current_setting('max_slot_wal_keep_size')" : "'-1'")}
            FROM pg_replication_slots WHERE slot_name = $1
            """, connection) { Parameters = { new() { Value = options.SlotName } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            _results.Add(options.CreateSlot
                ? PreflightCheck.Pass(name, "does not exist yet; Relay creates it at start (pgoutput)")
                : PreflightCheck.Fail(name, "does not exist and CreateSlot is false", $"SELECT pg_create_logical_replication_slot('{options.SlotName}', 'pgoutput')"));
            return;
        }
        var plugin = reader.IsDBNull(0) ? "" : reader.GetString(0);
        var database = reader.IsDBNull(1) ? "" : reader.GetString(1);
        var activePid = reader.IsDBNull(2) ? (int?)null : reader.GetInt32(2);
        var walStatus = reader.IsDBNull(3) ? null : reader.GetString(3);
        var retained = reader.IsDBNull(4) ? 0 : reader.GetInt64(4);
        var keepSize = reader.GetString(5);
        if (plugin != "pgoutput" || database != connection.Database)
            _results.Add(PreflightCheck.Fail(name, $"belongs to plugin '{plugin}', database '{database}'", "name another slot in Relay:Postgres:SlotName"));
        else if (walStatus == "lost")
            _results.Add(PreflightCheck.Fail(name, "wal_status = lost: WAL it needed was removed, events were never relayed",
                $"recover the rows from the outbox table, then SELECT pg_drop_replication_slot('{options.SlotName}') and restart Relay"));
        else if (walStatus == "unreserved")
            _results.Add(PreflightCheck.Fail(name, $"wal_status = unreserved: {retained} bytes retained, beyond max_slot_wal_keep_size = {keepSize}; WAL will be removed soon",
                "start Relay now, or raise max_slot_wal_keep_size"));
        else
            _results.Add(PreflightCheck.Pass(name,
                $"pgoutput, {(activePid is { } pid ? $"active (PID {pid}): a new relay would be a standby" : "inactive")}, " +
                $"wal_status {walStatus ?? "n/a (PostgreSQL < 13)"}, {retained} bytes retained (max_slot_wal_keep_size = {keepSize})"));
    }
}
