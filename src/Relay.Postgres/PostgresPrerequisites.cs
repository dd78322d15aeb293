using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// The PostgreSQL prerequisites, read from the catalog without changing anything: server settings, the role, tables and
/// columns, the publication and the slot (https://www.postgresql.org/docs/current/logical-replication-config.html).
/// The daemon and <c>relay check</c> both use these findings, so they never disagree: a failure stops the daemon at
/// start (and is a FAIL in the check), a warning is logged (WARN).
/// </summary>
sealed partial class PostgresPrerequisites(PostgresSourceOptions options, IReadOnlyList<OutboxTableMapping> tables,
    IReadOnlyList<OutboxTableMapping>? messages = null)
{
    readonly List<PreflightCheck> _findings = [];
    readonly Dictionary<(string Table, string Column), PgType> _columnTypes = [];
    readonly Dictionary<string, TableFacts> _tables = [];
    readonly Dictionary<string, IReadOnlySet<string>> _tableColumns = [];

    public async Task<PostgresInspection> InspectAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        _findings.Clear();
        _columnTypes.Clear();
        _tables.Clear();
        _tableColumns.Clear();
        await SettingsAsync(connection, cancellationToken);
        await RoleAsync(connection, cancellationToken);
        if (messages is { Count: > 0 })
            _findings.Add(LogicalMessages(connection.PostgreSqlVersion.Major, messages));
        foreach (var table in tables)
            await TableAsync(connection, table, cancellationToken);
        var publication = await PublicationAsync(connection, cancellationToken);
        var slot = await SlotAsync(connection, publication, cancellationToken);
        // A missing slot whose first start never finished its snapshot was not lost: that start is simply done again.
        var lost = slot is null && publication?.MarkedSlot == options.SlotName && !publication.SnapshotPending;
        await FirstStartSnapshotAsync(connection, publication, slot, lost, cancellationToken);
        return new PostgresInspection(_findings.ToList(), connection.PostgreSqlVersion.Major, connection.Database,
            new Dictionary<(string, string), PgType>(_columnTypes), new Dictionary<string, TableFacts>(_tables), publication, slot, lost)
        {
            TableColumns = new Dictionary<string, IReadOnlySet<string>>(_tableColumns),
        };
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
        // Each column with its type (for a domain, the type underneath, which decides its binary format) and whether it
        // is generated; the table's OID, whether it is partitioned, and whether this role owns it.
        const string sql = """
            SELECT a.attname, a.atttypid, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, a.attgenerated <> '',
                   c.oid, c.relkind = 'p', pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner)::text
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
            """;
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = table.Schema }, new() { Value = table.Name } } };
        var columns = new HashSet<string>(StringComparer.Ordinal);
        var generated = new List<MappedColumn>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var column = reader.GetString(0);
                columns.Add(column);
                _tables[table.QualifiedName] = new TableFacts(reader.GetFieldValue<uint>(4), reader.GetBoolean(5), reader.GetBoolean(6), reader.GetString(7));
                if (table.Columns.FirstOrDefault(c => c.Name == column) is not { } mapped)
                    continue;
                _columnTypes[(table.QualifiedName, column)] = new PgType(reader.GetFieldValue<uint>(1), reader.GetFieldValue<uint>(2));
                if (reader.GetBoolean(3))
                    generated.Add(mapped);
            }
        }
        var name = $"table {table.QualifiedName}";
        _tableColumns[table.QualifiedName] = columns;
        if (columns.Count == 0)
        {
            _findings.Add(PreflightCheck.Fail(name,
                $"{table.ConfigurationKey}:Table: table '{table.QualifiedName}' does not exist in database '{connection.Database}'",
                $"create it, or fix {table.ConfigurationKey}:Table"));
            return;
        }
        var missing = table.Columns.Where(c => !columns.Contains(c.Name)).ToList();
        if (missing.Count > 0)
            _findings.Add(PreflightCheck.Fail(name,
                string.Join("; ", missing.Select(c => $"{c.ConfigurationKey}: column '{c.Name}' does not exist in table '{table.QualifiedName}'")) +
                $" (it has: {string.Join(", ", columns.Order())})",
                "add the columns, or fix the mapping keys named"));
        else if (generated.Count > 0)
            _findings.Add(PreflightCheck.Fail(name,
                string.Join("; ", generated.Select(c => $"{c.ConfigurationKey}: column '{c.Name}' of table '{table.QualifiedName}' is GENERATED")) +
                ", and pgoutput does not send generated columns (before PostgreSQL 18, and Relay does not ask for them)",
                "map a stored column instead (set it in the INSERT, or with a trigger)"));
        else if (_tables[table.QualifiedName].Partitioned && connection.PostgreSqlVersion.Major < 13)
            _findings.Add(PreflightCheck.Fail(name,
                $"{table.ConfigurationKey}:Table: table '{table.QualifiedName}' is partitioned, and PostgreSQL {connection.PostgreSqlVersion.Major} publishes " +
                "a partitioned table only under its partitions' names (publish_via_partition_root needs PostgreSQL 13)",
                "upgrade to PostgreSQL 13 or later, or use a table that is not partitioned"));
        else
            _findings.Add(PreflightCheck.Pass(name, $"has the mapped columns {string.Join(", ", table.Columns.Select(c => c.Name))}" +
                (_tables[table.QualifiedName].Partitioned ? " (partitioned: published via its root)" : "")));
    }

    /// <summary>pgoutput sends logical decoding messages from PostgreSQL 14 on (its <c>messages</c> option).</summary>
    internal static PreflightCheck LogicalMessages(int serverMajorVersion, IReadOnlyList<OutboxTableMapping> messages)
    {
        var prefixes = string.Join(", ", messages.Select(m => m.MessagePrefix));
        return serverMajorVersion >= 14
            ? PreflightCheck.Pass("logical decoding messages", $"pgoutput sends them on PostgreSQL {serverMajorVersion} (prefixes: {prefixes})")
            : PreflightCheck.Fail("logical decoding messages",
                $"{OutboxOptions.Section}:Messages: pgoutput sends pg_logical_emit_message messages only from PostgreSQL 14 on (its 'messages' option); " +
                $"this server is PostgreSQL {serverMajorVersion}, so messages with prefix(es) {prefixes} would never reach Relay",
                $"upgrade the server to PostgreSQL 14 or later, or write the events to an outbox table (remove {OutboxOptions.Section}:Messages)");
    }

    internal static string CreatePublicationStatement(string publication, IEnumerable<OutboxTableMapping> tables, bool viaRoot)
    {
        var list = string.Join(", ", tables.Select(t => t.QualifiedName));
        return $"CREATE PUBLICATION {publication}{(list.Length > 0 ? $" FOR TABLE {list}" : "")} WITH (publish = 'insert'" +
               (viaRoot ? ", publish_via_partition_root = true)" : ")");
    }
}

/// <summary>What <see cref="PostgresPrerequisites"/> found: the findings, and the facts the source acts on.</summary>
sealed record PostgresInspection(
    IReadOnlyList<PreflightCheck> Findings,
    int ServerMajorVersion,
    string Database,
    IReadOnlyDictionary<(string Table, string Column), PgType> ColumnTypes,
    IReadOnlyDictionary<string, TableFacts> Tables,
    PublicationState? Publication,
    SlotState? Slot,
    bool SlotLost)
{
    /// <summary>When the catalog was read (UTC).</summary>
    public DateTime InspectedAt { get; } = DateTime.UtcNow;

    /// <summary>Each outbox table's columns (none when it does not exist).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> TableColumns { get; init; } = new Dictionary<string, IReadOnlySet<string>>();
}

/// <summary>An outbox table as the catalog has it: its OID, whether it is partitioned, whether this role owns it.</summary>
sealed record TableFacts(uint Oid, bool Partitioned, bool Owned, string Owner);

/// <summary>
/// The publication as found: what it publishes, the slot Relay noted on it, and whether that note says the slot's
/// first-start snapshot has not completed (see <see cref="PublicationNote"/>).
/// </summary>
sealed record PublicationState(bool Insert, bool ViaRoot, string? MarkedSlot, string? Comment, bool SnapshotPending = false);

/// <summary>The slot as the catalog shows it: its confirmed position and the PID of the process streaming from it, if any.</summary>
sealed record SlotState(string? ConfirmedLsn, int? ActivePid);

/// <summary>Quoting for the statements Relay runs and prints.</summary>
static class Sql
{
    public static string Quote(OutboxTableMapping table) => $"{QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}";

    public static string QuoteIdentifier(string identifier) => $"\"{identifier.Replace("\"", "\"\"")}\"";
}
