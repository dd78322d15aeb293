using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>The outbox tables and the publication as they were when the stream was prepared.</summary>
sealed record CatalogSnapshot(IReadOnlyList<WatchedTable> Tables, string Publication, bool ViaRoot)
{
    public CatalogSnapshot(PostgresInspection inspection, string publication)
        : this(inspection.Tables.Select(t => new WatchedTable(t.Key, t.Value.Oid, t.Value.Partitioned)).ToList(), publication,
            inspection.Tables.Values.Any(t => t.Partitioned))
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

    /// <summary>When the catalog was last seen as expected (UTC).</summary>
    public DateTime LastIntact { get; private set; } = DateTime.UtcNow;

    /// <summary>What changed, or null when everything is as it was.</summary>
    public async Task<string?> FindChangeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var change = await PublicationChangeAsync(connection, cancellationToken) ?? await TableChangeAsync(connection, cancellationToken);
        if (change is null)
            LastIntact = DateTime.UtcNow;
        return change;
    }

    async Task<string?> PublicationChangeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var viaRoot = connection.PostgreSqlVersion.Major >= 13 ? "pubviaroot" : "false";
        await using var command = new NpgsqlCommand($"SELECT pubinsert, {viaRoot} FROM pg_catalog.pg_publication WHERE pubname = $1", connection)
            { Parameters = { new() { Value = expected.Publication } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return $"publication '{expected.Publication}' was dropped";
        if (!reader.GetBoolean(0))
            return $"publication '{expected.Publication}' no longer publishes inserts (ALTER PUBLICATION … SET (publish = …))";
        if (expected.ViaRoot && !reader.GetBoolean(1))
            return $"publication '{expected.Publication}' no longer publishes via the partition root";
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

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
