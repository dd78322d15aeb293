using System.Text;
using Npgsql;
using Relay.Core;

namespace Relay.Postgres.Republish;

/// <summary>
/// Reads a selection page by page (keyset: each page starts after the last key of the one before), each page a short
/// query of its own: no snapshot is held for the whole run, so vacuum is not held back on a busy outbox, and memory
/// stays bounded by the pipeline's window (a page is streamed, not buffered).
/// </summary>
sealed class PostgresSelectedRows(NpgsqlConnection connection, SelectionQuery query, RowKey? end, PgType[] types)
    : SelectedRows
{
    public const int PageSize = 1000;

    public override async Task ReadAsync(ISelectedRowSink sink, CancellationToken cancellationToken)
    {
        var row = new OutboxRow(query.Selection.Table.Columns.Count) { Table = query.Selection.Table };
        if (RowsWithoutEventId > 0)
        {
            await using var command = query.Command(connection,
                $"SELECT {query.Columns()} FROM {query.Table} WHERE {query.Filter} AND {query.EventId} IS NULL ORDER BY {query.Order}");
            await ReadRowsAsync(command, row, sink, cancellationToken);
        }
        if (end is null)
            return;
        var after = (RowKey?)null;
        while (true)
        {
            var sql = new StringBuilder($"SELECT {query.Columns()} FROM {query.Table} WHERE {query.Filter} AND {query.Present} ")
                .Append($"AND ({query.Order}, {query.EventId}) <= (CAST(@end_order AS {query.OrderType}), CAST(@end_id AS {query.EventIdType})) ");
            if (after is not null)
                // The first condition alone lets an index on the order column start at the page (row comparisons use
                // only an index on both columns).
                sql.Append($"AND {query.Order} >= CAST(@page_order AS {query.OrderType}) ")
                    .Append($"AND ({query.Order}, {query.EventId}) > (CAST(@page_order AS {query.OrderType}), CAST(@page_id AS {query.EventIdType})) ");
            sql.Append($"ORDER BY {query.Order}, {query.EventId} LIMIT {PageSize}");
            await using var command = query.Command(connection, sql.ToString());
            command.Parameters.Add(SelectionQuery.Named("end_order", end.OrderValue));
            command.Parameters.Add(SelectionQuery.Named("end_id", end.EventId!));
            if (after is not null)
            {
                command.Parameters.Add(SelectionQuery.Named("page_order", after.OrderValue));
                command.Parameters.Add(SelectionQuery.Named("page_id", after.EventId!));
            }
            var (read, last) = await ReadRowsAsync(command, row, sink, cancellationToken);
            if (read < PageSize)
                return;
            after = last;
        }
    }

    /// <summary>Streams a query's rows into the sink; returns how many there were and the last one's key.</summary>
    async Task<(int Read, RowKey? Last)> ReadRowsAsync(NpgsqlCommand command, OutboxRow row, ISelectedRowSink sink, CancellationToken cancellationToken)
    {
        // Every value in its type's text output, as pgoutput's text mode sends it (binary mode publishes the same bytes).
        command.AllResultTypesAreUnknown = true;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var (read, last) = (0, (RowKey?)null);
        while (await reader.ReadAsync(cancellationToken))
        {
            for (var column = 0; column < types.Length; column++)
                row.Values[column] = reader.IsDBNull(column + 2) ? null : PgValues.FromText(types[column], Encoding.UTF8.GetBytes(reader.GetString(column + 2)));
            last = new RowKey(reader.IsDBNull(0) ? "NULL" : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
            read++;
            await sink.OnRowAsync(row, last, cancellationToken);
        }
        return (read, last);
    }

    public override ValueTask DisposeAsync() => connection.DisposeAsync();
}
