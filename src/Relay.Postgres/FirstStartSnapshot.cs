using System.Data;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>What a first start publishes before streaming: which tables, and whether the slot is still to be created.</summary>
/// <param name="CreateSlot">
/// True on a first start: the stream creates the slot on its own connection, exporting the snapshot of its consistent
/// point. False when a first start's snapshot never completed: the slot exists, and the rows are read again at a new
/// snapshot (nothing lost: the slot still holds everything committed since its consistent point; duplicates).
/// </param>
/// <param name="SlotPosition">With an existing slot, its confirmed position: the snapshot's rows belong before it.</param>
/// <param name="Tables">The tables that publish their existing rows, in configuration order.</param>
sealed record SnapshotPlan(bool CreateSlot, SourcePosition SlotPosition, IReadOnlyList<SnapshotTable> Tables);

/// <summary>A table to read: its mapping, the column to order by (null: as the rows lie), and which mapped columns are bytea.</summary>
sealed record SnapshotTable(OutboxTableMapping Table, string? OrderColumn, bool[] Bytea);

/// <summary>
/// Issue 16: the rows already in an outbox table when Relay first starts, published exactly once with the slot's own
/// boundary. <c>CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')</c> returns the slot's consistent point and a snapshot
/// that sees exactly the transactions committed before it; the slot streams exactly those committed after. The rows are
/// read in that snapshot (<c>SET TRANSACTION SNAPSHOT</c> on an ordinary connection, while the replication connection
/// waits: the snapshot lives until its next command) and handed to the sink before <c>START_REPLICATION</c>, followed (by
/// the stream) by a commit at the consistent point. So every snapshot message takes a sequence number before any streamed one, and the
/// checkpoint rule keeps the slot where it is until all of them are acknowledged (see <c>CheckpointTracker</c>).
/// </summary>
/// <remarks>https://www.postgresql.org/docs/current/protocol-replication.html#PROTOCOL-REPLICATION-CREATE-REPLICATION-SLOT</remarks>
sealed class FirstStartSnapshot(PostgresSourceOptions options, SnapshotPlan plan, PostgresMetrics metrics, ILogger logger)
{
    /// <summary>The column existing rows are read in the order of: the configured one, else <c>created_at</c> when the table has it.</summary>
    public static string? OrderColumn(OutboxTableMapping table, IReadOnlySet<string> columns) =>
        (table.Options as OutboxTableOptions)?.ExistingRowsOrderColumn is { Length: > 0 } configured ? configured
        : columns.Contains("created_at") ? "created_at" : null;

    /// <summary>
    /// Creates the slot when the plan says so and hands every existing row of the tables to <paramref name="sink"/>. The
    /// caller then reports the commit at the boundary (having noted it first: a confirmation may follow at once).
    /// </summary>
    /// <returns>
    /// The boundary: the slot's consistent point (or confirmed position), which everything read belongs before; and when
    /// reading began (the rows' "commit time" for the lag).
    /// </returns>
    public async Task<(SourcePosition Boundary, DateTime StartedAt)> PublishAsync(LogicalReplicationConnection replication, IOutboxSink sink, CancellationToken cancellationToken)
    {
        var tables = string.Join(", ", plan.Tables.Select(t => t.Table.QualifiedName));
        string? snapshotName = null;
        var boundary = plan.SlotPosition;
        if (plan.CreateSlot)
        {
            var slot = await ReplicationSlots.CreateAsync(replication, options, LogicalSlotSnapshotInitMode.Export, cancellationToken)
                ?? throw new StandbyException($"Replication slot '{options.SlotName}' was created by another relay at the same moment; waiting to take over.");
            (snapshotName, boundary) = (slot.SnapshotName, Lsn.ToPosition(slot.ConsistentPoint));
            Log.SlotCreated(logger, options.SlotName, slot.ConsistentPoint.ToString());
            Log.SnapshotStarting(logger, tables, slot.ConsistentPoint.ToString(), snapshotName ?? "");
        }
        else
            Log.SnapshotRestarted(logger, tables, options.SlotName, Lsn.Format(boundary));

        metrics.SnapshotPending(true);
        var startedAt = DateTime.UtcNow;
        await using var connection = new NpgsqlConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        // The exported snapshot must be the transaction's first statement. Then: rows in the order they lie in the
        // table, which neither a synchronized scan (starting mid-table) nor a parallel one keeps.
        var setup = (snapshotName is null ? "" : $"SET TRANSACTION SNAPSHOT '{snapshotName}'; ") +
                    "SET LOCAL synchronize_seqscans = off; SET LOCAL max_parallel_workers_per_gather = 0";
        await using (var command = new NpgsqlCommand(setup, connection, transaction))
            await command.ExecuteNonQueryAsync(cancellationToken);
        foreach (var table in plan.Tables)
            await PublishTableAsync(connection, transaction, table, boundary, sink, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (boundary, startedAt);
    }

    /// <summary>Streams one table's rows (the reader holds one row at a time; the sink's window applies backpressure).</summary>
    async Task PublishTableAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SnapshotTable table, SourcePosition boundary,
        IOutboxSink sink, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var mapping = table.Table;
        await using var command = new NpgsqlCommand(Select(table), connection, transaction) { CommandTimeout = 0 };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var row = new OutboxRow(mapping.Columns.Count) { Table = mapping, Position = boundary };
        long count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            for (var i = 0; i < mapping.Columns.Count; i++)
            {
                row.Values[i] = reader.IsDBNull(i) ? null
                    : table.Bytea[i] ? reader.GetFieldValue<byte[]>(i)
                    : Encoding.UTF8.GetBytes(reader.GetString(i));
            }
            // Its own time, not the snapshot's: commit-to-ack latency of these rows is the time Relay took with them.
            row.CommitTimestamp = DateTime.UtcNow;
            await sink.OnRowAsync(row, cancellationToken);
            count++;
        }
        Log.SnapshotTableRead(logger, count, mapping.QualifiedName, watch.Elapsed);
    }

    /// <summary>
    /// Every message of the snapshot is acknowledged (the checkpoint reached its boundary): replaces the "pending" note,
    /// so a later start does not read the rows again. Called before the slot may move past the boundary.
    /// </summary>
    public static async Task NoteCompleteAsync(PostgresSourceOptions options, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(options.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        try
        {
            await PublicationNote.WriteAsync(connection, options.PublicationName, PublicationNote.Slot(options.SlotName), cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: Kafka acknowledged the first-start snapshot, but Relay may not record that on publication " +
                $"'{options.PublicationName}' ({e.MessageText}), so it cannot move the slot on without reading the rows again at its next start: " +
                "make Relay's role the publication's owner and start again.", e);
        }
    }

    /// <summary>
    /// The mapped columns as the stream publishes them: text output of each value (what pgoutput sends in text mode),
    /// bytea as its bytes.
    /// </summary>
    internal static string Select(SnapshotTable table)
    {
        var columns = table.Table.Columns.Select((c, i) => $"{Sql.QuoteIdentifier(c.Name)}::{(table.Bytea[i] ? "bytea" : "text")}");
        var order = table.OrderColumn is { } column ? $" ORDER BY {Sql.QuoteIdentifier(column)}, ctid" : "";
        return $"SELECT {string.Join(", ", columns)} FROM {Sql.Quote(table.Table)}{order}";
    }
}
