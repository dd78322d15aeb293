using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>The outbox tables and the publication as they were when the stream was prepared.</summary>
sealed record CatalogSnapshot(IReadOnlyList<WatchedTable> Tables, string Publication, bool ViaRoot, DateTime InspectedAt)
{
    public CatalogSnapshot(PostgresInspection inspection, string publication)
        : this(inspection.Tables.Select(t => new WatchedTable(t.Key, t.Value.Oid, t.Value.Partitioned)).ToList(), publication,
            inspection.Tables.Values.Any(t => t.Partitioned), inspection.InspectedAt)
    {
    }
}

sealed record WatchedTable(string QualifiedName, uint Oid, bool Partitioned);

/// <summary>
/// Checks, before every confirmation, that the outbox tables and the publication are still as they were at start. A
/// table dropped and re-created, removed from the publication, or a publication dropped or no longer publishing inserts
/// makes the server stop sending that table's rows without a word: confirming past that point would lose them for
/// good. Any DDL committed before a position Relay received is visible in the catalog by the time it confirms it, so
/// a check right before the confirmation cannot miss it.
/// </summary>
sealed class CatalogWatch(PostgresSourceOptions options, CatalogSnapshot expected) : IAsyncDisposable
{
    readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(options.ConnectionString);

    // The publication's row (OID and version) and its table memberships' rows as first seen: a change undone between two
    // checks (DROP and ADD TABLE, SET publish and back, DROP and CREATE PUBLICATION) still leaves a new OID or version.
    (uint Oid, uint Version, string Members)? _baseline, _current;

    /// <summary>When the catalog was last seen as expected (UTC); at first, when the source was prepared.</summary>
    public DateTime LastIntact { get; private set; } = expected.InspectedAt;

    /// <summary>What changed, or null when everything is as it was.</summary>
    public async Task<string?> FindChangeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var change = await PublicationChangeAsync(connection, cancellationToken) ?? await TableChangeAsync(connection, cancellationToken) ?? BaselineChange();
        if (change is null)
            LastIntact = DateTime.UtcNow;
        return change;
    }

    async Task<string?> PublicationChangeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var viaRoot = connection.PostgreSqlVersion.Major >= 13 ? "pubviaroot" : "false";
        await using var command = new NpgsqlCommand($"""
            SELECT p.pubinsert, {viaRoot}, p.oid, p.xmin::text::bigint,
                   coalesce((SELECT string_agg(r.oid::text, ',' ORDER BY r.oid) FROM pg_catalog.pg_publication_rel r
                             WHERE r.prpubid = p.oid AND r.prrelid::bigint = ANY($2)), '')
            FROM pg_catalog.pg_publication p WHERE p.pubname = $1
            """, connection) { Parameters = { new() { Value = expected.Publication }, new() { Value = expected.Tables.Select(t => (long)t.Oid).ToArray() } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return $"publication '{expected.Publication}' was dropped";
        if (!reader.GetBoolean(0))
            return $"publication '{expected.Publication}' no longer publishes inserts (ALTER PUBLICATION … SET (publish = …))";
        if (expected.ViaRoot && !reader.GetBoolean(1))
            return $"publication '{expected.Publication}' no longer publishes via the partition root";
        _current = (reader.GetFieldValue<uint>(2), (uint)reader.GetInt64(3), reader.GetString(4));
        return null;
    }

    /// <summary>What the specific checks cannot see: a change undone since the first check.</summary>
    string? BaselineChange()
    {
        if (_current is not { } now)
            return null;
        _baseline ??= now;
        if (now.Oid != _baseline.Value.Oid)
            return $"publication '{expected.Publication}' was dropped and re-created";
        if (now.Version != _baseline.Value.Version)
            return $"publication '{expected.Publication}' was altered (ALTER PUBLICATION … SET …)";
        if (now.Members != _baseline.Value.Members)
            return $"an outbox table was taken out of publication '{expected.Publication}' and put back (ALTER PUBLICATION … DROP/ADD/SET TABLE)";
        return null;
    }

    async Task<string?> TableChangeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Each table's OID now (NULL when gone) and whether the publication still includes it.
        await using var command = new NpgsqlCommand("""
            SELECT t.name, c.oid,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_publication p WHERE p.pubname = $2 AND p.puballtables)
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables pt WHERE pt.pubname = $2 AND pt.schemaname || '.' || pt.tablename = t.name)
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
                              WHERE p.pubname = $2 AND r.prrelid = c.oid)
            FROM unnest($1::text[]) AS t(name)
            LEFT JOIN pg_catalog.pg_class c ON c.oid = to_regclass(quote_ident(split_part(t.name, '.', 1)) || '.' || quote_ident(split_part(t.name, '.', 2)))
            """, connection) { Parameters = { new() { Value = expected.Tables.Select(t => t.QualifiedName).ToArray() }, new() { Value = expected.Publication } } };
        var found = new Dictionary<string, (uint? Oid, bool Member)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                found[reader.GetString(0)] = (reader.IsDBNull(1) ? null : reader.GetFieldValue<uint>(1), reader.GetBoolean(2));
        foreach (var table in expected.Tables)
        {
            var (oid, member) = found[table.QualifiedName];
            if (oid is null)
                return $"table '{table.QualifiedName}' was dropped";
            if (oid != table.Oid)
                return $"table '{table.QualifiedName}' was dropped and re-created (OID {table.Oid} is now {oid})";
            if (!member)
                return $"table '{table.QualifiedName}' was removed from publication '{expected.Publication}'";
        }
        return null;
    }

    /// <summary>
    /// Whether the publication lists this table, or a partitioned table it is a partition of, by name (not as one of all
    /// tables or of a schema).
    /// </summary>
    public async Task<bool> IsListedInPublicationAsync(string schema, string name, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
                           JOIN pg_catalog.pg_class c ON c.oid = r.prrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE p.pubname = $1 AND n.nspname = $2 AND c.relname = $3)
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                              CROSS JOIN LATERAL pg_catalog.pg_partition_ancestors(c.oid) a
                              JOIN pg_catalog.pg_publication_rel r ON r.prrelid = a.relid JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
                              WHERE p.pubname = $1 AND n.nspname = $2 AND c.relname = $3 AND c.relispartition)
            """, connection) { Parameters = { new() { Value = expected.Publication }, new() { Value = schema }, new() { Value = name } } };
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
