using Microsoft.Extensions.Logging;

namespace Relay.Postgres;

/// <summary>Log messages of the PostgreSQL source; event ids 2000–2999.</summary>
static partial class Log
{
    [LoggerMessage(2000, LogLevel.Information, "Connected to PostgreSQL {ServerVersion}, database {Database}")]
    public static partial void Connected(ILogger logger, string serverVersion, string database);

    [LoggerMessage(2001, LogLevel.Information, "Created publication {Publication} for {Tables} with publish = 'insert'")]
    public static partial void PublicationCreated(ILogger logger, string publication, string tables);

    [LoggerMessage(2002, LogLevel.Warning, "Publication {Publication} also publishes {Operations}; Relay ignores them, but the server still decodes and sends them. Consider ALTER PUBLICATION {Publication} SET (publish = 'insert')")]
    public static partial void PublicationPublishesMore(ILogger logger, string publication, string operations);

    [LoggerMessage(2003, LogLevel.Information, "Created replication slot {Slot} (pgoutput) at {Lsn}")]
    public static partial void SlotCreated(ILogger logger, string slot, string lsn);

    [LoggerMessage(2004, LogLevel.Information, "Replication slot {Slot} exists, confirmed up to {Lsn}")]
    public static partial void SlotFound(ILogger logger, string slot, string lsn);

    [LoggerMessage(2005, LogLevel.Information, "Streaming from slot {Slot}, publication {Publication}, from {Lsn} ({ValueFormat} values)")]
    public static partial void StreamingStarted(ILogger logger, string slot, string publication, string lsn, string valueFormat);

    [LoggerMessage(2009, LogLevel.Information, "Values will arrive as text: {Reason}")]
    public static partial void TextValues(ILogger logger, string reason);

    [LoggerMessage(2006, LogLevel.Debug, "Confirmed {Lsn} to slot {Slot}")]
    public static partial void Confirmed(ILogger logger, string lsn, string slot);

    [LoggerMessage(2007, LogLevel.Information, "Replication slot {Slot} was created concurrently by another process; using it")]
    public static partial void SlotCreatedConcurrently(ILogger logger, string slot);

    [LoggerMessage(2008, LogLevel.Warning, "Heartbeat failed: {Reason}")]
    public static partial void HeartbeatFailed(ILogger logger, string reason);
}
