using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.Republish;

/// <summary>
/// Log messages of <c>relay republish</c>; event ids 1300–1399. They go to the log (for a Job's audit trail); the person
/// running the verb reads the same on stderr.
/// </summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.Republish + 0, LogLevel.Information, "Re-publishing {Rows} row(s) of {Table} ({Selection}) to Kafka, with header relay.republished")]
    public static partial void RepublishStarting(ILogger logger, long rows, string table, string selection);

    [LoggerMessage(EventIdRanges.Republish + 1, LogLevel.Information, "Re-published {Rows} row(s) of {Table} ({Selection}): Kafka acknowledged every one ({DeadLettered} dead-lettered) in {Elapsed}")]
    public static partial void RepublishCompleted(ILogger logger, long rows, string table, string selection, long deadLettered, TimeSpan elapsed);

    [LoggerMessage(EventIdRanges.Republish + 2, LogLevel.Warning, "Re-publishing {Table} interrupted: {Acknowledged} of {Rows} row(s) acknowledged, up to {Position}; resume with: {ResumeCommand}")]
    public static partial void RepublishInterrupted(ILogger logger, string table, long acknowledged, long rows, string position, string resumeCommand);

    [LoggerMessage(EventIdRanges.Republish + 3, LogLevel.Error, "Re-publishing {Table} failed: {Reason} {Acknowledged} of {Rows} row(s) acknowledged, up to {Position}; resume with: {ResumeCommand}")]
    public static partial void RepublishFailed(ILogger logger, string table, string reason, long acknowledged, long rows, string position, string resumeCommand);

    [LoggerMessage(EventIdRanges.Republish + 4, LogLevel.Warning, "No rows of {Table} match {Selection}: nothing re-published. Rows deleted after they were published (an outbox cleanup job) cannot be re-published")]
    public static partial void RepublishFoundNothing(ILogger logger, string table, string selection);

    [LoggerMessage(EventIdRanges.Republish + 5, LogLevel.Warning, "{Count} requested row(s) of {Table} cannot be re-published: {Reason}; e.g. event ids {Samples}")]
    public static partial void RepublishRowsUnavailable(ILogger logger, long count, string table, string reason, string samples);
}
