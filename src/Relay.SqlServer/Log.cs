using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>Log messages of the SQL Server source; event ids 3000–3999.</summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.SqlServer + 0, LogLevel.Information, "Reading CDC capture instance {Instance} for {Table}")]
    public static partial void ReadingInstance(ILogger logger, string instance, string table);

    [LoggerMessage(EventIdRanges.SqlServer + 1, LogLevel.Information, "Streaming CDC changes from {Position}")]
    public static partial void Streaming(ILogger logger, string position);

    [LoggerMessage(EventIdRanges.SqlServer + 2, LogLevel.Warning, "{Problem} Resuming from the oldest change held, as configured.")]
    public static partial void ResumingAfterGap(ILogger logger, string problem);

    [LoggerMessage(EventIdRanges.SqlServer + 3, LogLevel.Warning, "{Table} has capture instances {Instances} (after DDL); Relay follows them in order of creation (create_date)")]
    public static partial void SeveralInstances(ILogger logger, string table, string instances);

    [LoggerMessage(EventIdRanges.SqlServer + 4, LogLevel.Critical, "{Problem}")]
    public static partial void RetentionGap(ILogger logger, string problem);

    [LoggerMessage(EventIdRanges.SqlServer + 5, LogLevel.Warning, "No stored position: starting at {Position} (Relay:SqlServer:FirstStart = {FirstStart}); nothing before it is published")]
    public static partial void FirstStart(ILogger logger, string firstStart, string position);

    [LoggerMessage(EventIdRanges.SqlServer + 6, LogLevel.Error, "Could not renew the lease on the position (it expires at {Expires:O}); this relay stops producing when a third of the lease is left")]
    public static partial void LeaseRenewalFailed(ILogger logger, Exception exception, DateTime expires);

    [LoggerMessage(EventIdRanges.SqlServer + 7, LogLevel.Error, "CDC capture has stopped, so Relay has nothing to read and the transaction log cannot be truncated: {Problems}")]
    public static partial void CaptureStopped(ILogger logger, string problems);

    [LoggerMessage(EventIdRanges.SqlServer + 8, LogLevel.Information, "CDC capture runs again")]
    public static partial void CaptureResumed(ILogger logger);
}
