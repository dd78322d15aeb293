using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Relay.Core;

namespace Relay.Postgres.Republish;

/// <summary>
/// <c>relay republish</c> on PostgreSQL: selects an outbox table's rows with ordinary queries on an ordinary connection
/// (no slot, no publication), so it runs beside the daemon. Values are read in text format, through the same output
/// functions and session settings pgoutput uses, and turned into bytes by <see cref="PgValues"/> as streaming does.
/// </summary>
public sealed class PostgresOutboxTableReader(IOptions<PostgresSourceOptions> options) : IOutboxTableReader
{
    public async Task<SelectedRows> SelectAsync(RowSelection selection, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(ConnectionString(options.Value.ConnectionString));
        try
        {
            await connection.OpenAsync(cancellationToken);
            var table = await TableShape.ReadAsync(connection, selection.Table, cancellationToken);
            var query = new SelectionQuery(selection, table);
            await CheckOrderAsync(connection, query, cancellationToken);
            await CheckBoundsAsync(connection, query, cancellationToken);
            if (selection.EventIds is not null)
                await LoadEventIdsAsync(connection, query, selection.EventIds, cancellationToken);
            return await CountAsync(connection, query, table, cancellationToken);
        }
        catch (Exception e)
        {
            await connection.DisposeAsync();
            throw e switch
            {
                PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } denied => new RelayConfigurationException(
                    $"Role '{new NpgsqlConnectionStringBuilder(options.Value.ConnectionString).Username}' may not read {selection.Table.QualifiedName} " +
                    $"({denied.MessageText}): GRANT SELECT ON {selection.Table.QualifiedName} TO that role.", denied),
                NpgsqlException or TimeoutException => PostgresErrors.Translate(e, options.Value.ConnectionString, options.Value.SlotName),
                _ => e,
            };
        }
    }

    /// <summary>
    /// The daemon's connection string, with the value settings of its replication connection (bytea as hex, which
    /// <see cref="PgValues.FromText"/> reads) and a name that shows in pg_stat_activity.
    /// </summary>
    static string ConnectionString(string daemon)
    {
        var builder = new NpgsqlConnectionStringBuilder(daemon);
        builder.Options = $"{builder.Options} -c bytea_output=hex".Trim();
        builder.ApplicationName ??= "relay republish";
        return builder.ConnectionString;
    }

    /// <summary>Rows are sent in (order column, event id) order: both must have a btree ordering.</summary>
    static async Task CheckOrderAsync(NpgsqlConnection connection, SelectionQuery query, CancellationToken cancellationToken)
    {
        await using var probe = new NpgsqlCommand($"SELECT 1 FROM {query.Table} ORDER BY {query.Order}, {query.EventId} LIMIT 0", connection);
        try
        {
            await probe.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedFunction)
        {
            var mapping = query.Selection.Table;
            throw new RelayConfigurationException(
                $"{mapping.ConfigurationKey}:RepublishOrderColumn: rows of {mapping.QualifiedName} are re-published ordered by '{mapping.RepublishOrderColumn}', " +
                $"then by the event id column '{mapping.Options.EventIdColumn}', and PostgreSQL cannot order them ({e.MessageText}); " +
                "set the key to a timestamp or sequence column.", e);
        }
    }

    /// <summary>Each bound, cast on its own, so a value the column's type cannot read is reported with its argument.</summary>
    static async Task CheckBoundsAsync(NpgsqlConnection connection, SelectionQuery query, CancellationToken cancellationToken)
    {
        var selection = query.Selection;
        foreach (var (argument, value, type, typeName) in new[]
                 {
                     (selection.From?.IsInstant == true ? "--from" : "--from-value", selection.From?.Value, query.OrderType, query.OrderTypeName),
                     (selection.To?.IsInstant == true ? "--to" : "--to-value", selection.To?.Value, query.OrderType, query.OrderTypeName),
                     ("--after-id", selection.AfterEventId, query.EventIdType, query.EventIdTypeName),
                 })
        {
            if (value is null)
                continue;
            await using var cast = new NpgsqlCommand($"SELECT CAST($1 AS {type})", connection) { Parameters = { Text(value) } };
            try
            {
                await cast.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                throw new RelayConfigurationException($"{argument} '{value}': {e.MessageText} (give a value of the column's type, {typeName}).", e);
            }
        }
    }

    /// <summary>
    /// The ids go into a temporary table of the event id column's own type (COPY, so a list of millions costs no memory
    /// here), which the page queries join.
    /// </summary>
    static async Task LoadEventIdsAsync(NpgsqlConnection connection, SelectionQuery query, IEnumerable<string> eventIds, CancellationToken cancellationToken)
    {
        await using (var create = new NpgsqlCommand(
                         $"CREATE TEMPORARY TABLE {SelectionQuery.IdsTable} AS SELECT {query.EventId} AS id FROM {query.Table} WITH NO DATA", connection))
            await create.ExecuteNonQueryAsync(cancellationToken);
        try
        {
            await using (var copy = await connection.BeginTextImportAsync($"COPY {SelectionQuery.IdsTable} (id) FROM STDIN", cancellationToken))
            {
                foreach (var id in eventIds)
                    await copy.WriteLineAsync(EscapeCopyText(id).AsMemory(), cancellationToken);
            }
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            throw new RelayConfigurationException(
                $"--ids-file: {e.MessageText} (event ids of {query.Selection.Table.QualifiedName} are {query.EventIdTypeName}).", e);
        }
        await using var analyze = new NpgsqlCommand($"ANALYZE {SelectionQuery.IdsTable}", connection);
        await analyze.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>COPY's text format: backslash, tab, newline and carriage return are escaped; nothing else is special.</summary>
    static string EscapeCopyText(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    /// <summary>Counts in one snapshot, and fixes the last key: the run ends there even while the table grows.</summary>
    static async Task<SelectedRows> CountAsync(NpgsqlConnection connection, SelectionQuery query, TableShape table, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var rows = await ScalarAsync<long>(connection, $"SELECT count(*) FROM {query.Table} WHERE {query.Filter} AND {query.Present}", query, cancellationToken);
        RowKey? end = null;
        await using (var last = query.Command(connection,
                         $"SELECT {query.Order}, {query.EventId} FROM {query.Table} WHERE {query.Filter} AND {query.Present} " +
                         $"ORDER BY {query.Order} DESC, {query.EventId} DESC LIMIT 1"))
        {
            last.AllResultTypesAreUnknown = true;   // the types' own text output, as pgoutput sends it: cast back exactly
            await using var reader = await last.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
                end = new RowKey(reader.GetString(0), reader.GetString(1));
        }
        // Rows without an event id: a resumed run (--after-id) does not send them again, the interrupted run sent them first.
        var withoutId = query.Selection.AfterEventId is null
            ? await ScalarAsync<long>(connection, $"SELECT count(*) FROM {query.Table} WHERE {query.Filter} AND {query.EventId} IS NULL", query, cancellationToken)
            : 0;
        var unordered = query.Selection.EventIds is null
            ? RowShortfall.None
            : await ShortfallAsync(connection, query,
                $"FROM {query.Table} WHERE {query.Filter} AND {query.Order} IS NULL AND {query.EventId} IS NOT NULL", query.EventId, cancellationToken);
        var missing = query.Selection.EventIds is null
            ? RowShortfall.None
            : await ShortfallAsync(connection, query,
                $"FROM (SELECT DISTINCT id FROM {SelectionQuery.IdsTable}) i WHERE NOT EXISTS (SELECT 1 FROM {query.Table} WHERE {query.EventId} = i.id AND {query.RangeFilter})",
                "i.id", cancellationToken);
        var ties = await TiesAsync(connection, query, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var warnings = new List<string>();
        var mapping = query.Selection.Table;
        if (ties.Count > 0)
            warnings.Add($"{ties.Count:N0} group(s) of selected rows share both '{mapping.RepublishOrderColumn}' and the key '{mapping.Options.KeyColumn}' " +
                         $"(e.g. key {ties.Samples[0]}), as rows one transaction writes with {mapping.RepublishOrderColumn} DEFAULT now() do: within a group " +
                         $"they go in event id order, which is their insert order only if ids grow (a sequence, UUIDv7), not with random UUIDs. " +
                         $"To keep each key's order, set {mapping.ConfigurationKey}:RepublishOrderColumn to a column that grows with every insert " +
                         "(an identity/bigserial column, or a timestamp defaulting to clock_timestamp()).");
        if (!table.OrderColumnIndexed)
            warnings.Add($"no index on {query.Selection.Table.QualifiedName} begins with '{query.Selection.Table.RepublishOrderColumn}': every page of " +
                         $"{PostgresSelectedRows.PageSize} rows reads the whole range. For a large table create one first: " +
                         $"CREATE INDEX CONCURRENTLY ON {query.Table} ({query.Order}, {query.EventId})");
        return new PostgresSelectedRows(connection, query, end, table.MappedTypes)
        {
            OrderColumn = query.Selection.Table.RepublishOrderColumn,
            Rows = rows,
            RowsWithoutEventId = withoutId,
            RowsWithoutOrderValue = unordered,
            MissingEventIds = missing,
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Rows of one key that share an order value are sent in event id order, which may not be the order they were
    /// inserted (and streamed) in: how many such groups the selection has, and an example key.
    /// </summary>
    static Task<RowShortfall> TiesAsync(NpgsqlConnection connection, SelectionQuery query, CancellationToken cancellationToken)
    {
        var key = Sql.QuoteIdentifier(query.Selection.Table.Options.KeyColumn);
        return ShortfallAsync(connection, query,
            $"FROM (SELECT {key} AS k FROM {query.Table} WHERE {query.Filter} AND {query.Present} GROUP BY {query.Order}, {key} HAVING count(*) > 1) ties",
            "k", cancellationToken);
    }

    static async Task<RowShortfall> ShortfallAsync(NpgsqlConnection connection, SelectionQuery query, string from, string sample, CancellationToken cancellationToken)
    {
        var count = await ScalarAsync<long>(connection, $"SELECT count(*) {from}", query, cancellationToken);
        if (count == 0)
            return RowShortfall.None;
        var samples = new List<string>();
        await using var command = query.Command(connection, $"SELECT {sample} {from} LIMIT 10");
        command.AllResultTypesAreUnknown = true;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            samples.Add(reader.GetString(0));
        return new RowShortfall(count, samples);
    }

    static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, SelectionQuery query, CancellationToken cancellationToken)
    {
        await using var command = query.Command(connection, sql);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    internal static NpgsqlParameter Text(string value) => new() { Value = value, NpgsqlDbType = NpgsqlDbType.Text };
}
