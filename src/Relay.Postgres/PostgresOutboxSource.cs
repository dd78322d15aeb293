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
            var (start, snapshot) = await ChooseStartAsync(connection, inspection, cancellationToken);
            var publication = inspection.Publication;
            if (snapshot is null && (publication?.MarkedSlot != _options.SlotName || publication.SnapshotPending))
                await NoteSlotOnPublicationAsync(connection, publication?.Comment, cancellationToken);
            return new PostgresPlan(inspection.ColumnTypes, ChooseBinary(inspection), start, new CatalogSnapshot(inspection, _options.PublicationName))
            {
                Snapshot = snapshot,
            };
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
        }
    }

    /// <summary>
    /// Where streaming starts: the existing slot; a new slot now; or, when tables publish their existing rows, a new slot
    /// the stream creates with a snapshot (a first start), or the existing rows read again before the existing slot (a
    /// first start's snapshot that Kafka did not acknowledge in full).
    /// </summary>
    async Task<(string Start, SnapshotPlan? Snapshot)> ChooseStartAsync(NpgsqlConnection connection, PostgresInspection inspection,
        CancellationToken cancellationToken)
    {
        var tables = SnapshotTables(Tables, inspection);
        if (inspection.Slot is { } slot)
        {
            var start = UseSlot(slot);
            return inspection.Publication?.SnapshotPending == true && tables.Count > 0 && slot.ConfirmedLsn is { } confirmed
                ? (start, new SnapshotPlan(CreateSlot: false, Lsn.ToPosition(NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(confirmed)), tables))
                : (start, null);
        }
        if (tables.Count == 0 || inspection.SlotLost)
            return (await CreateSlotAsync(cancellationToken), null);
        await NoteSnapshotPendingAsync(connection, cancellationToken);
        return ("the consistent point of a slot created with a snapshot of the existing rows", new SnapshotPlan(CreateSlot: true, SourcePosition.None, tables));
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
            return new PostgresOutboxStream(connection, _options, Tables, Messages, prepared, new CatalogWatch(_options, prepared.Catalog), metrics, _logger);
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
    async Task<string> CreateSlotAsync(CancellationToken cancellationToken)
    {
        await using var replication = new LogicalReplicationConnection(_options.ConnectionString);
        await replication.Open(cancellationToken);
        if (await ReplicationSlots.CreateAsync(replication, _options, LogicalSlotSnapshotInitMode.NoExport, cancellationToken) is not { } created)
        {
            Log.SlotCreatedConcurrently(_logger, _options.SlotName);
            return "the slot's confirmed position";
        }
        Log.SlotCreated(_logger, _options.SlotName, created.ConsistentPoint.ToString());
        return created.ConsistentPoint.ToString();
    }

    /// <summary>
    /// Leaves Relay's note on the publication (on a first start, and on existing deployments that lack it), so that a
    /// slot lost later is told from a first start. A comment of someone else's is kept.
    /// </summary>
    async Task NoteSlotOnPublicationAsync(NpgsqlConnection connection, string? existingComment, CancellationToken cancellationToken)
    {
        if (!PublicationNote.IsRelays(existingComment))
        {
            Log.SlotNotNoted(_logger, _options.PublicationName, "the publication has a comment of its own, which Relay keeps");
            return;
        }
        try
        {
            await PublicationNote.WriteAsync(connection, _options.PublicationName, PublicationNote.Slot(_options.SlotName), cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            Log.SlotNotNoted(_logger, _options.PublicationName, $"{e.MessageText}; make Relay's role the publication's owner");
        }
    }

    /// <summary>
    /// Before a first start's slot exists: notes that its snapshot is pending, so that a relay stopped before Kafka
    /// acknowledged the snapshot reads it again. Without the note that could not be known, so a failure stops the start.
    /// </summary>
    async Task NoteSnapshotPendingAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await PublicationNote.WriteAsync(connection, _options.PublicationName, PublicationNote.SnapshotPending(_options.SlotName), cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new RelayConfigurationException(
                $"{PostgresSourceOptions.Section}:PublicationName: Relay records on publication '{_options.PublicationName}' whether its first-start snapshot " +
                $"completed, and may not ({e.MessageText}): make Relay's role the publication's owner, or set PublishExistingRowsOnFirstStart to false.", e);
        }
    }

    /// <summary>The tables whose existing rows this start publishes, with how to read them.</summary>
    static List<SnapshotTable> SnapshotTables(IEnumerable<OutboxTableMapping> tables, PostgresInspection inspection) =>
        tables.Where(t => t.PublishExistingRowsOnFirstStart)
            .Select(t => new SnapshotTable(t, FirstStartSnapshot.OrderColumn(t, inspection.TableColumns[t.QualifiedName]),
                t.Columns.Select(c => inspection.ColumnTypes.TryGetValue((t.QualifiedName, c.Name), out var type) && type.BaseOid == PgValues.ByteaOid).ToArray()))
            .ToList();
}

/// <summary>What <see cref="PostgresOutboxSource.PrepareAsync"/> found for the stream it opens next.</summary>
/// <param name="ColumnTypes">Each mapped column's type (a domain as its base type), to read binary values.</param>
/// <param name="BinaryValues">Whether pgoutput sends values in binary (14+, and every mapped type allows it).</param>
/// <param name="StartsAt">Where the slot stands (for the "streaming from" log line).</param>
/// <param name="Catalog">The tables and publication as found, watched while streaming (<see cref="CatalogWatch"/>).</param>
sealed record PostgresPlan(IReadOnlyDictionary<(string Table, string Column), PgType> ColumnTypes, bool BinaryValues, string StartsAt,
    CatalogSnapshot Catalog) : SourcePlan
{
    /// <summary>Existing rows to publish before streaming (a first start of tables that ask for it), or null.</summary>
    public SnapshotPlan? Snapshot { get; init; }
}
