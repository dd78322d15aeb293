using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Npgsql.Replication;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// Tails PostgreSQL's WAL through logical replication with the built-in <c>pgoutput</c> plugin
/// (https://www.postgresql.org/docs/current/protocol-logical-replication.html). Only the INSERTs of the configured
/// outbox tables reach Relay: the publication is created with <c>publish = 'insert'</c>, so the server filters the rest.
/// </summary>
public sealed class PostgresOutboxSource(
    IOptions<PostgresSourceOptions> options,
    OutboxMapping outbox,
    PostgresMetrics metrics,
    ILoggerFactory loggerFactory) : IOutboxSource
{
    // Read when used, not when constructed: the host validates every option before it starts its services.
    PostgresSourceOptions _options => options.Value;
    readonly ILogger _logger = loggerFactory.CreateLogger<PostgresOutboxSource>();

    IReadOnlyList<OutboxTableMapping> Tables => outbox.Tables;
    IReadOnlyList<OutboxTableMapping> Messages => outbox.Messages;

    public async Task<SourcePlan> PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_options.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            Log.Connected(_logger, connection.PostgreSqlVersion.ToString(), connection.Database);
            var inspection = await new PostgresPrerequisites(_options, Tables, Messages).InspectAsync(connection, cancellationToken);
            ThrowOnFailures(inspection.Findings);
            var viaRoot = inspection.Tables.Values.Any(t => t.Partitioned);
            if (inspection.Publication is null && !await TryCreatePublicationAsync(connection, viaRoot, cancellationToken))
                return await PrepareAsync(cancellationToken);   // another relay created it just now: check what it made
            if (inspection.SlotLost)
                OnLostSlot();
            var start = inspection.Slot is { } slot ? UseSlot(slot) : await CreateSlotAsync(connection, cancellationToken);
            if (inspection.Publication?.MarkedSlot != _options.SlotName)
                await NoteSlotOnPublicationAsync(connection, inspection.Publication?.Comment, cancellationToken);
            return new PostgresPlan(inspection.ColumnTypes, ChooseBinary(inspection), start, new CatalogSnapshot(inspection, _options.PublicationName));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
        }
    }

    /// <summary>Warnings are logged; failures, all of them, stop the relay with what to run.</summary>
    void ThrowOnFailures(IReadOnlyList<PreflightCheck> findings)
    {
        foreach (var warning in findings.Where(f => f.Severity == CheckSeverity.Warn))
            Log.PrerequisiteWarning(_logger, warning.Name, warning.Detail, warning.Fix ?? "");
        var failures = findings.Where(f => f.Severity == CheckSeverity.Fail).Select(f => $"{f.Detail}: {f.Fix}.").ToList();
        if (failures.Count > 0)
            throw new RelayConfigurationException(string.Join(Environment.NewLine, failures));
    }

    public async Task<IOutboxStream> OpenAsync(SourcePlan plan, CancellationToken cancellationToken)
    {
        var prepared = plan as PostgresPlan ?? throw new ArgumentException($"Not a plan of the PostgreSQL source: {plan}", nameof(plan));
        var connection = new LogicalReplicationConnection(ReplicationConnectionString())
        {
            WalReceiverStatusInterval = _options.WalReceiverStatusInterval,
        };
        try
        {
            await connection.Open(cancellationToken);
            return new PostgresOutboxStream(connection, _options, Tables, Messages, prepared, new CatalogWatch(_options, prepared.Catalog), _logger);
        }
        catch (Exception e)
        {
            await connection.DisposeAsync();
            if (e is NpgsqlException or TimeoutException)
                throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
            throw;
        }
    }

    public async Task<IReadOnlyList<PreflightCheck>> CheckAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection connection;
        try
        {
            connection = new NpgsqlConnection(_options.ConnectionString);
            await connection.OpenAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or ArgumentException)
        {
            var error = e is ArgumentException ? e : PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
            return [PreflightCheck.Fail("database reachable", error.Message, $"fix {PostgresSourceOptions.Section}:ConnectionString or the network path")];
        }
        await using (connection)
        {
            var reachable = PreflightCheck.Pass("database reachable",
                $"PostgreSQL {connection.PostgreSqlVersion} at {connection.Host}:{connection.Port}, database {connection.Database}");
            var inspection = await new PostgresPrerequisites(_options, Tables, Messages).InspectAsync(connection, cancellationToken);
            return [reachable, .. inspection.Findings];
        }
    }

    /// <summary>pgoutput sends values as text in the walsender's settings: make bytea arrive as hex, whatever the server default.</summary>
    string ReplicationConnectionString()
    {
        var builder = new NpgsqlConnectionStringBuilder(_options.ConnectionString);
        builder.Options = $"{builder.Options} -c bytea_output=hex".Trim();
        return builder.ConnectionString;
    }

    bool ChooseBinary(PostgresInspection inspection)
    {
        if (!_options.BinaryValues)
            return false;
        if (inspection.ServerMajorVersion < 14)
        {
            Log.TextValues(_logger, $"PostgreSQL {inspection.ServerMajorVersion} has no binary mode in pgoutput (14 and later do)");
            return false;
        }
        var other = inspection.ColumnTypes.Where(c => !PgValues.SupportsBinary(c.Value.BaseOid)).Select(c => $"{c.Key.Table}.{c.Key.Column}").ToList();
        if (other.Count > 0)
        {
            Log.TextValues(_logger, $"column(s) {string.Join(", ", other)} have types Relay only reads as text");
            return false;
        }
        return true;
    }

    /// <returns>False when another process created the publication first.</returns>
    async Task<bool> TryCreatePublicationAsync(NpgsqlConnection connection, bool viaRoot, CancellationToken cancellationToken)
    {
        var name = _options.PublicationName;
        var tableList = string.Join(", ", Tables.Select(Sql.Quote));
        // A partitioned outbox is published under its own name (PostgreSQL 13+), not its partitions'.
        var with = viaRoot ? "publish = 'insert', publish_via_partition_root = true" : "publish = 'insert'";
        // Messages only (the table-less outbox): pgoutput still needs a publication, one without tables.
        var forTables = Tables.Count > 0 ? $" FOR TABLE {tableList}" : "";
        await using var create = new NpgsqlCommand($"CREATE PUBLICATION {Sql.QuoteIdentifier(name)}{forTables} WITH ({with})", connection);
        try
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
            Log.PublicationCreated(_logger, name, Tables.Count > 0 ? tableList : "no tables (messages only)");
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            return false;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: role '{connection.UserName}' may not create publication '{name}' ({e.MessageText}): " +
                $"run as the tables' owner: {PostgresPrerequisites.CreatePublicationStatement(name, Tables, viaRoot)}.", e);
        }
    }

    void OnLostSlot()
    {
        Log.SlotLost(_logger, _options.SlotName, _options.PublicationName);
        metrics.SlotRecreated();
    }

    string UseSlot(SlotState slot)
    {
        if (slot.ActivePid is { } pid)
            throw new StandbyException($"Replication slot '{_options.SlotName}' is in use by another process (PID {pid}).");
        Log.SlotFound(_logger, _options.SlotName, slot.ConfirmedLsn ?? "(none)");
        return slot.ConfirmedLsn ?? "the slot's confirmed position";
    }

    /// <returns>Where the new slot starts (its consistent point).</returns>
    async Task<string> CreateSlotAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var slot = _options.SlotName;
        await using var replication = new LogicalReplicationConnection(_options.ConnectionString);
        await replication.Open(cancellationToken);
        // Creating a slot waits for every transaction with an id open at that moment: one left open would make it
        // wait for ever, so give it a while, then name the transactions to end.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        patience.CancelAfter(_options.SlotCreationTimeout);
        try
        {
            var created = await replication.CreatePgOutputReplicationSlot(slot, temporarySlot: false,
                slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport, cancellationToken: patience.Token);
            Log.SlotCreated(_logger, slot, created.ConsistentPoint.ToString());
            return created.ConsistentPoint.ToString();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            Log.SlotCreatedConcurrently(_logger, slot);
            return "the slot's confirmed position";
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ConfigurationLimitExceeded)
        {
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:SlotName: cannot create replication slot '{slot}': {e.MessageText}. " +
                "Raise max_replication_slots (restart needed) or drop an unused slot.", e);
        }
        catch (Exception e) when (patience.IsCancellationRequested && !cancellationToken.IsCancellationRequested && e is OperationCanceledException or NpgsqlException)
        {
            var blockers = await PostgresPrerequisites.OpenTransactionsAsync(connection, _options.SlotCreationTimeout, CancellationToken.None);
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:SlotName: creating replication slot '{slot}' waited {_options.SlotCreationTimeout.TotalSeconds:0} s for transactions " +
                $"that were open when it began: {(blockers.Count == 0 ? "(they have ended since; start again)" : PostgresPrerequisites.Describe(blockers))}. " +
                (blockers.Count == 0 ? "" : $"End them ({string.Join("; ", blockers.Select(b => $"SELECT pg_terminate_backend({b.Pid})"))}) or let them finish, then start again."), e);
        }
    }

    /// <summary>
    /// Leaves Relay's note on the publication (on a first start, and on existing deployments that lack it), so that a
    /// slot lost later is told from a first start. A comment of someone else's is kept.
    /// </summary>
    async Task NoteSlotOnPublicationAsync(NpgsqlConnection connection, string? existingComment, CancellationToken cancellationToken)
    {
        if (existingComment is not null && !existingComment.StartsWith("Relay streams this publication", StringComparison.Ordinal))
        {
            Log.SlotNotNoted(_logger, _options.PublicationName, "the publication has a comment of its own, which Relay keeps");
            return;
        }
        var note = PostgresPrerequisites.SlotNote(_options.SlotName).Replace("'", "''");
        await using var comment = new NpgsqlCommand($"COMMENT ON PUBLICATION {Sql.QuoteIdentifier(_options.PublicationName)} IS '{note}'", connection);
        try
        {
            await comment.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            Log.SlotNotNoted(_logger, _options.PublicationName, $"{e.MessageText}; make Relay's role the publication's owner");
        }
    }
}

/// <summary>What <see cref="PostgresOutboxSource.PrepareAsync"/> found for the stream it opens next.</summary>
/// <param name="ColumnTypes">Each mapped column's type (a domain as its base type), to read binary values.</param>
/// <param name="BinaryValues">Whether pgoutput sends values in binary (14+, and every mapped type allows it).</param>
/// <param name="StartsAt">Where the slot stands (for the "streaming from" log line).</param>
/// <param name="Catalog">The tables and publication as found, watched while streaming (<see cref="CatalogWatch"/>).</param>
sealed record PostgresPlan(IReadOnlyDictionary<(string Table, string Column), PgType> ColumnTypes, bool BinaryValues, string StartsAt,
    CatalogSnapshot Catalog) : SourcePlan;
