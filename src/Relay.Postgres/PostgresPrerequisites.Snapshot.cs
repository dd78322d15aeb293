using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>Whether a first start can publish the existing rows of the tables that ask for it.</summary>
sealed partial class PostgresPrerequisites
{
    /// <summary>
    /// Only when a snapshot will run: the slot does not exist yet (and was not lost), or a first start's snapshot never
    /// completed. Relay needs SELECT on the tables, the order column, and the publication's comment to record progress in.
    /// </summary>
    async Task FirstStartSnapshotAsync(NpgsqlConnection connection, PublicationState? publication, SlotState? slot, bool lost,
        CancellationToken cancellationToken)
    {
        var snapshotTables = tables.Where(t => t.PublishExistingRowsOnFirstStart && _tableColumns.GetValueOrDefault(t.QualifiedName) is { Count: > 0 }).ToList();
        var pending = publication?.SnapshotPending == true;
        if (snapshotTables.Count == 0 || lost || (slot is not null && !pending))
            return;

        const string name = "first-start snapshot";
        var problems = new List<string>();
        var sizes = new List<string>();
        foreach (var table in snapshotTables)
        {
            var columns = _tableColumns[table.QualifiedName];
            if (FirstStartSnapshot.OrderColumn(table, columns) is { } order && !columns.Contains(order))
                problems.Add($"{table.ConfigurationKey}:ExistingRowsOrderColumn: column '{order}' does not exist in table '{table.QualifiedName}'");
            var oid = (long)_tables[table.QualifiedName].Oid;
            if (!await ScalarAsync<bool>(connection, "SELECT has_table_privilege($1::bigint::oid, 'SELECT')", cancellationToken, oid))
                problems.Add($"{table.ConfigurationKey}:PublishExistingRowsOnFirstStart: role '{connection.UserName}' may not read table " +
                             $"'{table.QualifiedName}' (GRANT SELECT ON {Sql.Quote(table)} TO {connection.UserName})");
            var estimate = await ScalarAsync<long>(connection, """
                SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_catalog.pg_class c
                WHERE c.oid = $1::bigint::oid OR c.oid IN (SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1::bigint::oid)
                """, cancellationToken, oid);
            sizes.Add($"{table.QualifiedName} (~{estimate:N0} rows by the planner's estimate)");
        }
        // The progress note goes on the publication: it must be Relay's to write (its owner, and no comment of another's).
        if (publication is not null)
        {
            if (!PublicationNote.IsRelays(publication.Comment))
                problems.Add($"publication '{options.PublicationName}' has a comment of its own, where Relay would record whether the snapshot completed " +
                             $"(COMMENT ON PUBLICATION {options.PublicationName} IS NULL to let Relay use it)");
            else if (!await ScalarAsync<bool>(connection, "SELECT pg_has_role(pubowner, 'USAGE') FROM pg_catalog.pg_publication WHERE pubname = $1",
                         cancellationToken, options.PublicationName))
                problems.Add($"role '{connection.UserName}' does not own publication '{options.PublicationName}', so it cannot record on it whether the " +
                             "snapshot completed (make Relay's role the publication's owner: ALTER PUBLICATION … OWNER TO …)");
        }

        if (problems.Count > 0)
            _findings.Add(PreflightCheck.Fail(name, string.Join("; ", problems),
                "fix what is named, or publish only new rows (set PublishExistingRowsOnFirstStart to false)"));
        else if (slot is not null)
            _findings.Add(PreflightCheck.Warn(name,
                $"the first start's snapshot of {string.Join(", ", snapshotTables.Select(t => t.QualifiedName))} was not acknowledged by Kafka " +
                "(Relay stopped during it): Relay reads the existing rows again at its next start, so consumers see those published before again",
                "nothing: duplicates only, consumers de-duplicate by the id header"));
        else
            _findings.Add(PreflightCheck.Pass(name,
                $"first start: Relay publishes the existing rows of {string.Join(", ", sizes)} as of its new slot's consistent point, then streams from it"));
    }
}
