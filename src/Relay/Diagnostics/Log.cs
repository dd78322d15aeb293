using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.Diagnostics;

/// <summary>Log messages of the diagnostics endpoints (in the lifecycle range, 1000–1099).</summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.Lifecycle + 9, LogLevel.Warning, "Diagnostics request {Path} failed: {Reason}")]
    public static partial void DiagnosticsRequestFailed(ILogger logger, string path, string reason);
}
