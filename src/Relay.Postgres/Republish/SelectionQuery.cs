using System.Text;
using Npgsql;
using NpgsqlTypes;
using Relay.Core;

namespace Relay.Postgres.Republish;

/// <summary>What the catalog says about the table: its columns' types, and whether an index begins with the order column.</summary>
sealed record TableShape(IReadOnlyDictionary<string, ColumnType> Columns, bool OrderColumnIndexed)
{
    public PgType[] MappedTypes { get; init; } = [];

    public static async Task<TableShape> ReadAsync(NpgsqlConnection connection, OutboxTableMapping mapping, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT a.attname, format_type(a.atttypid, NULL), quote_ident(tn.nspname) || '.' || quote_ident(t.typname),
                   a.atttypid, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum)
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
            WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
            """;
        var columns = new Dictionary<string, ColumnType>(StringComparer.Ordinal);
        var indexed = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = mapping.Schema }, new() { Value = mapping.Name } } })
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var name = reader.GetString(0);
                columns[name] = new ColumnType(reader.GetString(1), reader.GetString(2), new PgType(reader.GetFieldValue<uint>(3), reader.GetFieldValue<uint>(4)));
                if (reader.GetBoolean(5))
                    indexed.Add(name);
            }
        }
        var has = $" (it has: {string.Join(", ", columns.Keys.Order())})";
        if (columns.Count == 0)
            throw new RelayConfigurationException(
                $"{mapping.ConfigurationKey}:Table: table '{mapping.QualifiedName}' does not exist in database '{connection.Database}'.");
        var missing = mapping.Columns.Where(c => !columns.ContainsKey(c.Name)).ToList();
        if (missing.Count > 0)
            throw new RelayConfigurationException(string.Join("; ",
                missing.Select(c => $"{c.ConfigurationKey}: column '{c.Name}' does not exist in table '{mapping.QualifiedName}'")) + has + ".");
        var order = mapping.RepublishOrderColumn;
        if (!columns.ContainsKey(order))
            throw new RelayConfigurationException(mapping.RepublishOrderColumnConfigured
                ? $"{mapping.ConfigurationKey}:RepublishOrderColumn: column '{order}' does not exist in table '{mapping.QualifiedName}'{has}."
                : $"{mapping.ConfigurationKey}:RepublishOrderColumn: table '{mapping.QualifiedName}' has no column '{order}' to order and select its rows by; " +
                  $"set the key to the column that orders its rows as they were inserted (a timestamp or a sequence){has}.");
        return new TableShape(columns, indexed.Contains(order))
        {
            MappedTypes = mapping.Columns.Select(c => columns[c.Name].PgType).ToArray(),
        };
    }
}

/// <summary>A column's type: as people read it, as a cast names it (schema.name, no modifier), and its OIDs.</summary>
sealed record ColumnType(string Display, string SqlName, PgType PgType);

/// <summary>The SQL of a selection: quoted names, the columns' types for casts, and the filter of the range and ids.</summary>
sealed class SelectionQuery
{
    const uint PgTimestampTz = 1184;
    public const string IdsTable = "pg_temp.relay_republish_ids";

    public SelectionQuery(RowSelection selection, TableShape table)
    {
        Selection = selection;
        var mapping = selection.Table;
        Table = Sql.Quote(mapping);
        Order = Sql.QuoteIdentifier(mapping.RepublishOrderColumn);
        EventId = Sql.QuoteIdentifier(mapping.Options.EventIdColumn);
        (OrderType, OrderTypeName) = (table.Columns[mapping.RepublishOrderColumn].SqlName, table.Columns[mapping.RepublishOrderColumn].Display);
        (EventIdType, EventIdTypeName) = (table.Columns[mapping.Options.EventIdColumn].SqlName, table.Columns[mapping.Options.EventIdColumn].Display);
        if ((selection.From?.IsInstant == true || selection.To?.IsInstant == true) && table.Columns[mapping.RepublishOrderColumn].PgType.BaseOid != PgTimestampTz)
            throw new RelayConfigurationException(
                $"--from/--to select rows by time, and {mapping.ConfigurationKey}:RepublishOrderColumn '{mapping.RepublishOrderColumn}' of " +
                $"{mapping.QualifiedName} is {OrderTypeName}, not timestamp with time zone: give --from-value/--to-value in that column's own terms.");

        var range = new List<string>();
        if (selection.From is not null)
            range.Add(selection.AfterEventId is null
                ? $"{Order} >= CAST(@from AS {OrderType})"
                : $"{Order} >= CAST(@from AS {OrderType}) AND ({Order}, {EventId}) > (CAST(@from AS {OrderType}), CAST(@after AS {EventIdType}))");
        if (selection.To is not null)
            range.Add($"{Order} < CAST(@to AS {OrderType})");
        RangeFilter = range.Count == 0 ? "true" : string.Join(" AND ", range);
        Filter = selection.EventIds is null ? RangeFilter : $"{RangeFilter} AND {EventId} IN (SELECT id FROM {IdsTable})";
        Present = $"{Order} IS NOT NULL AND {EventId} IS NOT NULL";
    }

    public RowSelection Selection { get; }
    public string Table { get; }
    public string Order { get; }
    public string EventId { get; }
    /// <summary>The columns' types as casts name them (no type modifier, so a bound is never truncated).</summary>
    public string OrderType { get; }
    public string EventIdType { get; }
    /// <summary>The columns' types as people know them.</summary>
    public string OrderTypeName { get; }
    public string EventIdTypeName { get; }
    /// <summary>The range of the order column (and where a resumed run starts).</summary>
    public string RangeFilter { get; }
    /// <summary>The range and, with an ids file, the ids.</summary>
    public string Filter { get; }
    /// <summary>Rows that have a place in the order.</summary>
    public string Present { get; }

    /// <summary>A command with the selection's bounds as text parameters (cast in the SQL to the column's type).</summary>
    public NpgsqlCommand Command(NpgsqlConnection connection, string sql)
    {
        var command = new NpgsqlCommand(sql, connection);
        if (Selection.From is { } from)
            command.Parameters.Add(Named("from", from.Value));
        if (Selection.AfterEventId is { } after)
            command.Parameters.Add(Named("after", after));
        if (Selection.To is { } to)
            command.Parameters.Add(Named("to", to.Value));
        return command;
    }

    public static NpgsqlParameter Named(string name, string value) => new(name, NpgsqlDbType.Text) { Value = value };

    /// <summary>The selected columns of a page: the key, then the mapping's columns in <see cref="OutboxTableMapping.Columns"/> order.</summary>
    public string Columns()
    {
        var columns = new StringBuilder($"{Order}, {EventId}");
        foreach (var column in Selection.Table.Columns)
            columns.Append(", ").Append(Sql.QuoteIdentifier(column.Name));
        return columns.ToString();
    }
}
