using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>Log messages of the PostgreSQL source; event ids 2000–2999.</summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.Postgres + 0, LogLevel.Information, "Connected to PostgreSQL {ServerVersion}, database {Database}")]
    public static partial void Connected(ILogger logger, string serverVersion, string database);

    [LoggerMessage(EventIdRanges.Postgres + 1, LogLevel.Information, "Created publication {Publication} for {Tables} with publish = 'insert'")]
    public static partial void PublicationCreated(ILogger logger, string publication, string tables);

    [LoggerMessage(EventIdRanges.Postgres + 3, LogLevel.Information, "Created replication slot {Slot} (pgoutput) at {Lsn}")]
    public static partial void SlotCreated(ILogger logger, string slot, string lsn);

    [LoggerMessage(EventIdRanges.Postgres + 4, LogLevel.Information, "Replication slot {Slot} exists, confirmed up to {Lsn}")]
    public static partial void SlotFound(ILogger logger, string slot, string lsn);

    [LoggerMessage(EventIdRanges.Postgres + 5, LogLevel.Information, "Streaming from slot {Slot}, publication {Publication}, from {Lsn} ({ValueFormat} values)")]
    public static partial void StreamingStarted(ILogger logger, string slot, string publication, string lsn, string valueFormat);

    [LoggerMessage(EventIdRanges.Postgres + 9, LogLevel.Information, "Values will arrive as text: {Reason}")]
    public static partial void TextValues(ILogger logger, string reason);

    [LoggerMessage(EventIdRanges.Postgres + 6, LogLevel.Debug, "Confirmed {Lsn} to slot {Slot}")]
    public static partial void Confirmed(ILogger logger, string lsn, string slot);

    [LoggerMessage(EventIdRanges.Postgres + 7, LogLevel.Information, "Replication slot {Slot} was created concurrently by another process; using it")]
    public static partial void SlotCreatedConcurrently(ILogger logger, string slot);

    [LoggerMessage(EventIdRanges.Postgres + 8, LogLevel.Warning, "Heartbeat failed: {Reason}")]
    public static partial void HeartbeatFailed(ILogger logger, string reason);

    [LoggerMessage(EventIdRanges.Postgres + 10, LogLevel.Warning, "Prerequisite {Check}: {Detail}. Fix: {Fix}")]
    public static partial void PrerequisiteWarning(ILogger logger, string check, string detail, string fix);

    [LoggerMessage(EventIdRanges.Postgres + 11, LogLevel.Critical, "Outbox changed while streaming: {Change}. Relay stopped without confirming past {Lsn}; the catalog was last seen intact at {IntactAt:u}")]
    public static partial void CatalogChanged(ILogger logger, string change, string lsn, DateTime intactAt);

    [LoggerMessage(EventIdRanges.Postgres + 12, LogLevel.Error, "Replication slot {Slot} that Relay streamed publication {Publication} through is gone (dropped, a failover to a server without it, or pg_upgrade before PostgreSQL 17): outbox rows committed between its last confirmed position and now were not published. Creating a new slot; re-publish those rows (docs/operations.md, \"Lost slot\"), or set Relay:Postgres:OnLostSlot to Stop to be stopped instead")]
    public static partial void SlotLost(ILogger logger, string slot, string publication);

    [LoggerMessage(EventIdRanges.Postgres + 13, LogLevel.Warning, "Could not note slot on publication {Publication} ({Reason}): a slot lost later will look like a first start")]
    public static partial void SlotNotNoted(ILogger logger, string publication, string reason);

    [LoggerMessage(EventIdRanges.Postgres + 14, LogLevel.Warning, "Rows of {Table} as the server describes them lack mapped column(s) {Columns} (added after these rows, or dropped): they are published without those headers")]
    public static partial void ColumnsAbsent(ILogger logger, string table, string columns);

    [LoggerMessage(EventIdRanges.Postgres + 15, LogLevel.Warning, "Rows of {Table} arrive through publication {Publication}, which publishes every table of its database or schema, and are not published: {Table} is not in Relay:Outbox:Tables")]
    public static partial void UnconfiguredTableSkipped(ILogger logger, string table, string publication);

    [LoggerMessage(EventIdRanges.Postgres + 20, LogLevel.Information, "First start: publishing the existing rows of {Tables} as of the new slot's consistent point {Lsn} (exported snapshot {Snapshot}), then streaming what commits after it")]
    public static partial void SnapshotStarting(ILogger logger, string tables, string lsn, string snapshot);

    [LoggerMessage(EventIdRanges.Postgres + 21, LogLevel.Information, "Read {Rows} existing row(s) of {Table} in {Elapsed}")]
    public static partial void SnapshotTableRead(ILogger logger, long rows, string table, TimeSpan elapsed);

    [LoggerMessage(EventIdRanges.Postgres + 22, LogLevel.Warning, "The first start's snapshot of {Tables} was not acknowledged in full (Relay stopped during it): reading the existing rows again at a new snapshot, then streaming from slot {Slot} at {Lsn}. Rows published before the stop are published again (duplicates); none is lost")]
    public static partial void SnapshotRestarted(ILogger logger, string tables, string slot, string lsn);

    [LoggerMessage(EventIdRanges.Postgres + 23, LogLevel.Information, "First-start snapshot complete: Kafka acknowledged every existing row up to {Lsn}; noted on publication {Publication}")]
    public static partial void SnapshotCompleted(ILogger logger, string lsn, string publication);
}
