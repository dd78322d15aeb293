using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>Creating Relay's permanent pgoutput slot, with the errors an operator can act on.</summary>
static class ReplicationSlots
{
    /// <summary>
    /// Creates the slot on <paramref name="replication"/> (with <see cref="LogicalSlotSnapshotInitMode.Export"/>, its
    /// snapshot lives until that connection's next command).
    /// </summary>
    /// <returns>The new slot, or null when another process created it first.</returns>
    public static async Task<PgOutputReplicationSlot?> CreateAsync(LogicalReplicationConnection replication, PostgresSourceOptions options,
        LogicalSlotSnapshotInitMode snapshot, CancellationToken cancellationToken)
    {
        var slot = options.SlotName;
        // Creating a slot waits for every transaction with an id open at that moment: one left open would make it
        // wait for ever, so give it a while, then name the transactions to end.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        patience.CancelAfter(options.SlotCreationTimeout);
        try
        {
            return await replication.CreatePgOutputReplicationSlot(slot, temporarySlot: false, slotSnapshotInitMode: snapshot,
                cancellationToken: patience.Token);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            return null;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ConfigurationLimitExceeded)
        {
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:SlotName: cannot create replication slot '{slot}': {e.MessageText}. " +
                "Raise max_replication_slots (restart needed) or drop an unused slot.", e);
        }
        catch (Exception e) when (patience.IsCancellationRequested && !cancellationToken.IsCancellationRequested && e is OperationCanceledException or NpgsqlException)
        {
            await using var connection = new NpgsqlConnection(options.ConnectionString);
            await connection.OpenAsync(CancellationToken.None);
            var blockers = await PostgresPrerequisites.OpenTransactionsAsync(connection, options.SlotCreationTimeout, CancellationToken.None);
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:SlotName: creating replication slot '{slot}' waited {options.SlotCreationTimeout.TotalSeconds:0} s for transactions " +
                $"that were open when it began: {(blockers.Count == 0 ? "(they have ended since; start again)" : PostgresPrerequisites.Describe(blockers))}. " +
                (blockers.Count == 0 ? "" : $"End them ({string.Join("; ", blockers.Select(b => $"SELECT pg_terminate_backend({b.Pid})"))}) or let them finish, then start again."), e);
        }
    }
}
