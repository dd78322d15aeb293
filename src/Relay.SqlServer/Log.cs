using Microsoft.Extensions.Logging;

namespace Relay.SqlServer;

/// <summary>Log messages of the SQL Server source; event ids 3000–3999.</summary>
static partial class Log
{
    [LoggerMessage(3000, LogLevel.Information, "Reading CDC capture instance {Instance} for {Table}")]
    public static partial void ReadingInstance(ILogger logger, string instance, string table);

    [LoggerMessage(3001, LogLevel.Information, "Streaming CDC changes from {Position}")]
    public static partial void Streaming(ILogger logger, string position);

    [LoggerMessage(3002, LogLevel.Warning, "{Problem} Resuming from the oldest change held, as configured.")]
    public static partial void ResumingAfterGap(ILogger logger, string problem);

    [LoggerMessage(3003, LogLevel.Warning, "{Table} has capture instances {Instances} (after DDL); Relay follows them in order of their start LSN")]
    public static partial void SeveralInstances(ILogger logger, string table, string instances);
}
