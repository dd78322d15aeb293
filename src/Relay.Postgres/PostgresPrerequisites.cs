using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// The PostgreSQL prerequisites, read from the catalog without changing anything: server settings, the role, tables and
/// columns, the publication and the slot (https://www.postgresql.org/docs/current/logical-replication-config.html).
/// The daemon and <c>relay check</c> both use these findings, so they never disagree: a failure stops the daemon at
/// start (and is a FAIL in the check), a warning is logged (WARN).
/// </summary>
sealed class PostgresPrerequisites(PostgresSourceOptions options, IReadOnlyList<OutboxTableMapping> tables)
{
    readonly List<PreflightCheck> _findings = [];
    readonly Dictionary<(string Table, string Column), PgType> _columnTypes = [];

    public async Task<PostgresInspection> InspectAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        _findings.Clear();
        _columnTypes.Clear();
        await SettingsAsync(connection, cancellationToken);
        await RoleAsync(connection, cancellationToken);
        foreach (var table in tables)
            await TableAsync(connection, table, cancellationToken);
        var publicationExists = await PublicationAsync(connection, cancellationToken);
        var slot = await SlotAsync(connection, cancellationToken);
        return new PostgresInspection(_findings.ToList(), connection.PostgreSqlVersion.Major, connection.Database,
            new Dictionary<(string, string), PgType>(_columnTypes), publicationExists, slot);
    }

    static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    async Task SettingsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var walLevel = await ScalarAsync<string>(connection, "SHOW wal_level", cancellationToken);
        _findings.Add(walLevel == "logical"
            ? PreflightCheck.Pass("wal_level", "logical")
            : PreflightCheck.Fail("wal_level", $"PostgreSQL wal_level is '{walLevel}', Relay needs 'logical'",
                "run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart the server"));

        var slotExists = await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            cancellationToken, options.SlotName) > 0;
        var maxSlots = int.Parse(await ScalarAsync<string>(connection, "SHOW max_replication_slots", cancellationToken));
        var usedSlots = await ScalarAsync<long>(connection, "SELECT count(*) FROM pg_catalog.pg_replication_slots", cancellationToken);
        _findings.Add(slotExists || usedSlots < maxSlots
            ? PreflightCheck.Pass("max_replication_slots", $"{usedSlots} of {maxSlots} used{(slotExists ? ", including Relay's" : "")}")
            : PreflightCheck.Fail("max_replication_slots",
                $"all {maxSlots} replication slots are in use and Relay's slot '{options.SlotName}' is not one of them",
                "raise max_replication_slots (restart needed) or drop an unused slot"));

        // A warning, not a failure: a standby relay waits while the active one holds a sender, and senders free up.
        var maxSenders = int.Parse(await ScalarAsync<string>(connection, "SHOW max_wal_senders", cancellationToken));
        var usedSenders = await ScalarAsync<long>(connection,
            "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender'", cancellationToken);
        _findings.Add(usedSenders < maxSenders
            ? PreflightCheck.Pass("max_wal_senders", $"{usedSenders} of {maxSenders} in use")
            : PreflightCheck.Warn("max_wal_senders", $"all {maxSenders} in use: Relay's replication connection is refused until one frees up",
                "raise max_wal_senders (restart needed) or stop an unused replication client"));
    }

    async Task RoleAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var user = await ScalarAsync<string>(connection, "SELECT current_user::text", cancellationToken);
        var replication = await ScalarAsync<bool>(connection,
            "SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user", cancellationToken);
        _findings.Add(replication
            ? PreflightCheck.Pass("REPLICATION privilege", $"role '{user}' may replicate")
            : PreflightCheck.Fail("REPLICATION privilege",
                $"Role '{user}' lacks the REPLICATION attribute that logical replication needs", $"run ALTER ROLE {user} WITH REPLICATION"));
    }

    async Task TableAsync(NpgsqlConnection connection, OutboxTableMapping table, CancellationToken cancellationToken)
    {
        // Each column with its type, and for a domain the type underneath (which decides its binary format).
        const string sql = """
            SELECT a.attname, a.atttypid, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
            """;
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = table.Schema }, new() { Value = table.Name } } };
        var columns = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                columns.Add(reader.GetString(0));
                if (table.Columns.Any(c => c.Name == reader.GetString(0)))
                    _columnTypes[(table.QualifiedName, reader.GetString(0))] = new PgType(reader.GetFieldValue<uint>(1), reader.GetFieldValue<uint>(2));
            }
        }
        var name = $"table {table.QualifiedName}";
        if (columns.Count == 0)
        {
            _findings.Add(PreflightCheck.Fail(name,
                $"{table.ConfigurationKey}:Table: table '{table.QualifiedName}' does not exist in database '{connection.Database}'",
                $"create it, or fix {table.ConfigurationKey}:Table"));
            return;
        }
        var missing = table.Columns.Where(c => !columns.Contains(c.Name)).ToList();
        _findings.Add(missing.Count == 0
            ? PreflightCheck.Pass(name, $"has the mapped columns {string.Join(", ", table.Columns.Select(c => c.Name))}")
            : PreflightCheck.Fail(name,
                string.Join("; ", missing.Select(c => $"{c.ConfigurationKey}: column '{c.Name}' does not exist in table '{table.QualifiedName}'")) +
                $" (it has: {string.Join(", ", columns.Order())})",
                "add the columns, or fix the mapping keys named"));
    }

    /// <returns>Whether the publication exists.</returns>
    async Task<bool> PublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var publication = options.PublicationName;
        var name = $"publication {publication}";
        const string key = PostgresSourceOptions.Section + ":PublicationName";
        await using var command = new NpgsqlCommand(
            "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_catalog.pg_publication WHERE pubname = $1", connection)
            { Parameters = { new() { Value = publication } } };
        bool all, insert, update, delete, truncate;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                _findings.Add(options.CreatePublication
                    ? PreflightCheck.Pass(name, "does not exist yet; Relay creates it at start (publish = 'insert')")
                    : PreflightCheck.Fail(name,
                        $"{key}: publication '{publication}' does not exist and {PostgresSourceOptions.Section}:CreatePublication is false",
                        $"create it with {CreatePublicationStatement(publication, tables)}"));
                return false;
            }
            (all, insert, update, delete, truncate) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4));
        }
        var published = await PublishedTablesAsync(connection, cancellationToken);
        var missing = all ? [] : tables.Where(t => !published.Contains(t.QualifiedName)).ToList();
        var extra = new[] { (update, "update"), (delete, "delete"), (truncate, "truncate") }.Where(p => p.Item1).Select(p => p.Item2).ToList();
        if (missing.Count > 0)
            _findings.Add(PreflightCheck.Fail(name,
                $"{key}: publication '{publication}' exists but does not include {string.Join(", ", missing.Select(t => t.QualifiedName))}",
                $"run ALTER PUBLICATION {publication} ADD TABLE {string.Join(", ", missing.Select(Sql.Quote))}, or name another publication"));
        else if (!insert)
            _findings.Add(PreflightCheck.Fail(name, $"{key}: publication '{publication}' does not publish inserts",
                $"run ALTER PUBLICATION {publication} SET (publish = 'insert')"));
        else if (extra.Count > 0)
            // Relay ignores what is not an insert, but the server still decodes and sends it.
            _findings.Add(PreflightCheck.Warn(name, $"also publishes {string.Join(", ", extra)}, which Relay ignores but the server still decodes and sends",
                $"ALTER PUBLICATION {publication} SET (publish = 'insert')"));
        else
            _findings.Add(PreflightCheck.Pass(name, all ? "covers all tables, inserts only" : "covers the outbox tables, inserts only"));
        return true;
    }

    async Task<HashSet<string>> PublishedTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT schemaname || '.' || tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1", connection)
            { Parameters = { new() { Value = options.PublicationName } } };
        var published = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            published.Add(reader.GetString(0));
        return published;
    }

    /// <returns>The slot as found, or null when it does not exist.</returns>
    async Task<SlotState?> SlotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var slot = options.SlotName;
        var name = $"replication slot {slot}";
        const string key = PostgresSourceOptions.Section + ":SlotName";
        // wal_status exists from PostgreSQL 13 on; before that a lost slot shows itself when streaming starts.
        var modern = connection.PostgreSqlVersion.Major >= 13;
        await using var command = new NpgsqlCommand($"""
            SELECT plugin, slot_type, database, confirmed_flush_lsn::text, active_pid, {(modern ? "wal_status" : "NULL::text")},
                   pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                   {(modern ? "current_setting('max_slot_wal_keep_size')" : "'-1'")}
            FROM pg_catalog.pg_replication_slots WHERE slot_name = $1
            """, connection) { Parameters = { new() { Value = slot } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            _findings.Add(options.CreateSlot
                ? PreflightCheck.Pass(name, "does not exist yet; Relay creates it at start (pgoutput)")
                : PreflightCheck.Fail(name, $"{key}: replication slot '{slot}' does not exist and {PostgresSourceOptions.Section}:CreateSlot is false",
                    $"create it with SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"));
            return null;
        }
        var (plugin, type, database) = (reader.IsDBNull(0) ? "" : reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? "" : reader.GetString(2));
        var state = new SlotState(reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4));
        var walStatus = reader.IsDBNull(5) ? null : reader.GetString(5);
        var retained = reader.IsDBNull(6) ? 0 : reader.GetInt64(6);
        var keepSize = reader.GetString(7);
        if (type != "logical" || plugin != "pgoutput")
            _findings.Add(PreflightCheck.Fail(name, $"{key}: slot '{slot}' exists but is a {type} slot with plugin '{plugin}'; Relay needs a logical slot with plugin 'pgoutput'",
                "name another slot in Relay:Postgres:SlotName, or drop this one"));
        else if (database != connection.Database)
            _findings.Add(PreflightCheck.Fail(name, $"{key}: slot '{slot}' belongs to database '{database}', not '{connection.Database}'",
                "name another slot in Relay:Postgres:SlotName"));
        else if (walStatus == "lost")
            _findings.Add(PreflightCheck.Fail(name,
                $"{key}: replication slot '{slot}' has lost WAL it still needed (wal_status = lost, confirmed up to {state.ConfirmedLsn ?? "(none)"}): " +
                "outbox rows committed after that were removed before Relay published them",
                $"recover them from the outbox table, then drop and recreate the slot (SELECT pg_drop_replication_slot('{slot}')); " +
                "raise max_slot_wal_keep_size to prevent this"));
        else if (walStatus == "unreserved")
            _findings.Add(PreflightCheck.Warn(name, $"wal_status = unreserved: {retained} bytes retained, beyond max_slot_wal_keep_size = {keepSize}; WAL will be removed soon",
                "keep Relay streaming (it is about to lose rows), or raise max_slot_wal_keep_size"));
        else
            _findings.Add(PreflightCheck.Pass(name,
                $"pgoutput, {(state.ActivePid is { } pid ? $"active (PID {pid}): a new relay would be a standby" : "inactive")}, " +
                $"wal_status {walStatus ?? "n/a (PostgreSQL < 13)"}, {retained} bytes retained (max_slot_wal_keep_size = {keepSize})"));
        return state;
    }

    internal static string CreatePublicationStatement(string publication, IEnumerable<OutboxTableMapping> tables) =>
        $"CREATE PUBLICATION {publication} FOR TABLE {string.Join(", ", tables.Select(t => t.QualifiedName))} WITH (publish = 'insert')";
}

/// <summary>What <see cref="PostgresPrerequisites"/> found: the findings, and the facts the source acts on.</summary>
sealed record PostgresInspection(
    IReadOnlyList<PreflightCheck> Findings,
    int ServerMajorVersion,
    string Database,
    IReadOnlyDictionary<(string Table, string Column), PgType> ColumnTypes,
    bool PublicationExists,
    SlotState? Slot);

/// <summary>The slot as the catalog shows it: its confirmed position and the PID of the process streaming from it, if any.</summary>
sealed record SlotState(string? ConfirmedLsn, int? ActivePid);

/// <summary>Quoting for the statements Relay runs and prints.</summary>
static class Sql
{
    public static string Quote(OutboxTableMapping table) => $"{QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}";

    public static string QuoteIdentifier(string identifier) => $"\"{identifier.Replace("\"", "\"\"")}\"";
}
