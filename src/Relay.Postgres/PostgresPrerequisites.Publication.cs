using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>The publication and the slot: whether they fit, and whether Relay may create what is missing.</summary>
sealed partial class PostgresPrerequisites
{
    const string PublicationKey = PostgresSourceOptions.Section + ":PublicationName", SlotKey = PostgresSourceOptions.Section + ":SlotName";

    bool AnyPartitioned => _tables.Values.Any(t => t.Partitioned);

    /// <returns>The publication as found, or null when it does not exist.</returns>
    async Task<PublicationState?> PublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var publication = options.PublicationName;
        var name = $"publication {publication}";
        var viaRootColumn = connection.PostgreSqlVersion.Major >= 13 ? "pubviaroot" : "false";
        await using var command = new NpgsqlCommand($"""
            SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, {viaRootColumn}, obj_description(oid, 'pg_publication')
            FROM pg_catalog.pg_publication WHERE pubname = $1
            """, connection) { Parameters = { new() { Value = publication } } };
        bool all, insert, update, delete, truncate, viaRoot;
        string? note;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                await reader.DisposeAsync();
                await MissingPublicationAsync(connection, cancellationToken);
                return null;
            }
            (all, insert, update, delete, truncate, viaRoot) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4), reader.GetBoolean(5));
            note = reader.IsDBNull(6) ? null : reader.GetString(6);
        }
        var published = await PublishedTablesAsync(connection, cancellationToken);
        var filtered = connection.PostgreSqlVersion.Major >= 15 ? await FilteredTablesAsync(connection, cancellationToken) : [];
        var missing = all ? [] : tables.Where(t => !published.Contains(t.QualifiedName)).ToList();
        var partitioned = tables.Where(t => _tables.TryGetValue(t.QualifiedName, out var facts) && facts.Partitioned).ToList();
        var extra = new[] { (update, "update"), (delete, "delete"), (truncate, "truncate") }.Where(p => p.Item1).Select(p => p.Item2).ToList();
        if (missing.Count > 0)
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{publication}' exists but does not include {string.Join(", ", missing.Select(t => t.QualifiedName))}",
                $"run ALTER PUBLICATION {publication} ADD TABLE {string.Join(", ", missing.Select(Sql.Quote))}, or name another publication"));
        else if (filtered.Count > 0)
            // A row filter leaves rows out, a column list may leave a mapped column out: both without a word.
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{publication}' has a row filter or column list on {string.Join(", ", filtered)}, so some outbox rows or columns would never reach Relay",
                $"run ALTER PUBLICATION {publication} SET TABLE {string.Join(", ", tables.Select(Sql.Quote))} (no WHERE, no column list)"));
        else if (!insert)
            _findings.Add(PreflightCheck.Fail(name, $"{PublicationKey}: publication '{publication}' does not publish inserts",
                $"run ALTER PUBLICATION {publication} SET (publish = 'insert')"));
        else if (partitioned.Count > 0 && !viaRoot)
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{publication}' publishes partitioned table(s) {string.Join(", ", partitioned.Select(t => t.QualifiedName))} " +
                "under their partitions' names (publish_via_partition_root = false), so their rows would not be recognised",
                $"run ALTER PUBLICATION {publication} SET (publish_via_partition_root = true)"));
        else if (extra.Count > 0)
            _findings.Add(PreflightCheck.Warn(name, $"also publishes {string.Join(", ", extra)}, which Relay ignores but the server still decodes and sends",
                $"ALTER PUBLICATION {publication} SET (publish = 'insert')"));
        else
            _findings.Add(PreflightCheck.Pass(name, all ? "covers all tables, inserts only" : "covers the outbox tables, inserts only"));
        return new PublicationState(insert, viaRoot, PublicationNote.MarkedSlot(note), note, PublicationNote.IsSnapshotPending(note));
    }

    /// <summary>Whether Relay may and can create the missing publication: it must own the tables and may create in the database.</summary>
    async Task MissingPublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var publication = options.PublicationName;
        var name = $"publication {publication}";
        var statement = CreatePublicationStatement(publication, tables, AnyPartitioned);
        if (!options.CreatePublication)
        {
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{publication}' does not exist and {PostgresSourceOptions.Section}:CreatePublication is false",
                $"create it with {statement}"));
            return;
        }
        var user = await ScalarAsync<string>(connection, "SELECT current_user::text", cancellationToken);
        var mayCreate = await ScalarAsync<bool>(connection, "SELECT has_database_privilege(current_database(), 'CREATE')", cancellationToken);
        var notOwned = _tables.Where(t => !t.Value.Owned).ToList();
        if (notOwned.Count > 0 || !mayCreate)
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{publication}' does not exist and role '{user}' may not create it" +
                (notOwned.Count > 0 ? $" (it does not own {string.Join(", ", notOwned.Select(t => $"{t.Key}, owned by '{t.Value.Owner}'"))})" : "") +
                (mayCreate ? "" : " (it lacks CREATE on the database)"),
                $"run as the tables' owner: {statement}; or GRANT {notOwned.FirstOrDefault().Value?.Owner ?? "<owner>"} TO {user}" +
                (mayCreate ? "" : $" and GRANT CREATE ON DATABASE {connection.Database} TO {user}")));
        else
            _findings.Add(PreflightCheck.Pass(name, $"does not exist yet; Relay creates it at start (publish = 'insert'{(AnyPartitioned ? ", publish_via_partition_root = true" : "")})"));
    }

    async Task<HashSet<string>> PublishedTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Members by name, as the publication lists them (tables, schemas, all tables) and as added (a partitioned root).
        await using var command = new NpgsqlCommand("""
            SELECT schemaname || '.' || tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1
            UNION
            SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_publication_rel r
            JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
            JOIN pg_catalog.pg_class c ON c.oid = r.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE p.pubname = $1
            """, connection) { Parameters = { new() { Value = options.PublicationName } } };
        var published = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            published.Add(reader.GetString(0));
        return published;
    }

    /// <summary>The outbox tables the publication lists with a row filter or a column list (PostgreSQL 15+).</summary>
    async Task<List<string>> FilteredTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_publication_rel r
            JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
            JOIN pg_catalog.pg_class c ON c.oid = r.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE p.pubname = $1 AND (r.prqual IS NOT NULL OR r.prattrs IS NOT NULL)
            """, connection) { Parameters = { new() { Value = options.PublicationName } } };
        var filtered = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (tables.Any(t => t.QualifiedName == reader.GetString(0)))
                filtered.Add(reader.GetString(0));
        }
        return filtered;
    }

    /// <returns>The slot as found, or null when it does not exist.</returns>
    async Task<SlotState?> SlotAsync(NpgsqlConnection connection, PublicationState? publication, CancellationToken cancellationToken)
    {
        var slot = options.SlotName;
        var name = $"replication slot {slot}";
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
            await reader.DisposeAsync();
            await MissingSlotAsync(connection, publication, cancellationToken);
            return null;
        }
        var (plugin, type, database) = (reader.IsDBNull(0) ? "" : reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? "" : reader.GetString(2));
        var state = new SlotState(reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4));
        var walStatus = reader.IsDBNull(5) ? null : reader.GetString(5);
        var retained = reader.IsDBNull(6) ? 0 : reader.GetInt64(6);
        var keepSize = reader.GetString(7);
        var confirmed = state.ConfirmedLsn ?? "(none)";
        if (type != "logical" || plugin != "pgoutput")
            _findings.Add(PreflightCheck.Fail(name, $"{SlotKey}: slot '{slot}' exists but is a {type} slot with plugin '{plugin}'; Relay needs a logical slot with plugin 'pgoutput'",
                "name another slot in Relay:Postgres:SlotName, or drop this one"));
        else if (database != connection.Database)
            _findings.Add(PreflightCheck.Fail(name, $"{SlotKey}: slot '{slot}' belongs to database '{database}', not '{connection.Database}'",
                "name another slot in Relay:Postgres:SlotName"));
        else if (walStatus == "lost")
            _findings.Add(PreflightCheck.Fail(name,
                $"{SlotKey}: replication slot '{slot}' has lost WAL it still needed (wal_status = lost, confirmed up to {confirmed}): " +
                "outbox rows committed after that were removed before Relay published them",
                $"re-publish the rows committed since {confirmed} from the outbox table, then drop and recreate the slot " +
                $"(SELECT pg_drop_replication_slot('{slot}')); raise max_slot_wal_keep_size to prevent this"));
        else if (publication is null)
            // pgoutput looks the publication up as the catalog was at each change: one created now cannot decode the
            // changes the slot still holds ("publication does not exist"), and rows in between were never published.
            _findings.Add(PreflightCheck.Fail(name,
                $"{PublicationKey}: publication '{options.PublicationName}' does not exist while replication slot '{slot}' does (confirmed up to {confirmed}): " +
                "the publication was dropped after the slot was created (or the slot was created first), so the slot cannot decode what it holds " +
                "and outbox rows committed since may not have been published",
                $"drop the slot (SELECT pg_drop_replication_slot('{slot}')) so that Relay creates publication and slot together, " +
                $"then re-publish the outbox rows committed since {confirmed}"));
        else if (walStatus == "unreserved")
            _findings.Add(PreflightCheck.Warn(name, $"wal_status = unreserved: {retained} bytes retained, beyond max_slot_wal_keep_size = {keepSize}; WAL will be removed soon",
                "keep Relay streaming (it is about to lose rows), or raise max_slot_wal_keep_size"));
        else
            _findings.Add(PreflightCheck.Pass(name,
                $"pgoutput, {(state.ActivePid is { } pid ? $"active (PID {pid}): a new relay would be a standby" : "inactive")}, " +
                $"wal_status {walStatus ?? "n/a (PostgreSQL < 13)"}, {retained} bytes retained (max_slot_wal_keep_size = {keepSize})"));
        return state;
    }

    /// <summary>A first start, or a slot Relay used before and lost (its publication carries Relay's note).</summary>
    async Task MissingSlotAsync(NpgsqlConnection connection, PublicationState? publication, CancellationToken cancellationToken)
    {
        var slot = options.SlotName;
        var name = $"replication slot {slot}";
        if (publication?.MarkedSlot == slot && !publication.SnapshotPending)
        {
            var detail = $"{SlotKey}: replication slot '{slot}' is gone, but Relay streamed publication '{options.PublicationName}' through it before " +
                         "(dropped, a failover to a server without it, or pg_upgrade before PostgreSQL 17): outbox rows committed between its last " +
                         "confirmed position and now were not published";
            const string fix = "re-publish the outbox rows committed since the last event your consumers received (docs/operations.md, \"Lost slot\")";
            _findings.Add(options.OnLostSlot == LostSlotPolicy.Stop
                ? PreflightCheck.Fail(name, detail, $"{fix}; then set {PostgresSourceOptions.Section}:OnLostSlot to Recreate for one start, or create the slot yourself")
                : PreflightCheck.Warn(name, detail + $"; Relay creates a new slot at the current position ({PostgresSourceOptions.Section}:OnLostSlot = Recreate)", fix));
            return;
        }
        if (!options.CreateSlot)
        {
            _findings.Add(PreflightCheck.Fail(name, $"{SlotKey}: replication slot '{slot}' does not exist and {PostgresSourceOptions.Section}:CreateSlot is false",
                $"create it with SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"));
            return;
        }
        // Creating the slot waits for every transaction with an id; one open longer than Relay would wait blocks it.
        var blockers = await OpenTransactionsAsync(connection, options.SlotCreationTimeout, cancellationToken);
        _findings.Add(blockers.Count == 0
            ? PreflightCheck.Pass(name, "does not exist yet; Relay creates it at start (pgoutput)")
            : PreflightCheck.Fail(name, $"{SlotKey}: replication slot '{slot}' does not exist yet, and creating it would wait for transactions open " +
                $"longer than {PostgresSourceOptions.Section}:SlotCreationTimeout: {Describe(blockers)}",
                $"end them ({string.Join("; ", blockers.Select(b => $"SELECT pg_terminate_backend({b.Pid})"))}) or let them finish, then start Relay"));
    }

    /// <summary>Transactions with a transaction id open for longer than <paramref name="olderThan"/>: slot creation waits for them.</summary>
    public static async Task<IReadOnlyList<OpenTransaction>> OpenTransactionsAsync(NpgsqlConnection connection, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT pid, datname::text, EXTRACT(epoch FROM now() - xact_start)::float8, state, usename::text, application_name
            FROM pg_catalog.pg_stat_activity
            WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND xact_start < now() - make_interval(secs => $1)
            ORDER BY xact_start
            """, connection) { Parameters = { new() { Value = olderThan.TotalSeconds } } };
        var open = new List<OpenTransaction>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            open.Add(new OpenTransaction(reader.GetInt32(0), reader.IsDBNull(1) ? "" : reader.GetString(1), TimeSpan.FromSeconds(reader.GetDouble(2)),
                reader.IsDBNull(3) ? "" : reader.GetString(3), reader.IsDBNull(4) ? "" : reader.GetString(4), reader.IsDBNull(5) ? "" : reader.GetString(5)));
        return open;
    }

    public static string Describe(IEnumerable<OpenTransaction> transactions) =>
        string.Join("; ", transactions.Select(t => $"PID {t.Pid} (database {t.Database}, user {t.User}, application '{t.Application}', {t.State}, open {t.Age:hh\\:mm\\:ss})"));
}

/// <summary>A transaction that slot creation waits for (never its query text: it may hold data or secrets).</summary>
sealed record OpenTransaction(int Pid, string Database, TimeSpan Age, string State, string User, string Application);
