using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.Pipeline;

/// <summary>Log messages of the relay's lifecycle (1000–1099) and pipeline (1100–1199), and of deliveries (1203).</summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.Lifecycle + 0, LogLevel.Information, "Relay starting: source {Source}, {TableCount} outbox table(s): {Tables}")]
    public static partial void Starting(ILogger logger, string source, int tableCount, string tables);

    [LoggerMessage(EventIdRanges.Lifecycle + 1, LogLevel.Information, "Stopping: draining {InFlight} in-flight message(s) for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, int inFlight, TimeSpan drainTimeout);

    [LoggerMessage(EventIdRanges.Lifecycle + 2, LogLevel.Warning, "Drain timed out with {InFlight} message(s) unacknowledged; they will be sent again at the next start")]
    public static partial void DrainTimedOut(ILogger logger, int inFlight);

    [LoggerMessage(EventIdRanges.Lifecycle + 3, LogLevel.Information, "Stopped; confirmed up to {Position}")]
    public static partial void Stopped(ILogger logger, string position);

    [LoggerMessage(EventIdRanges.Lifecycle + 4, LogLevel.Critical, "Relay cannot continue: {Reason}")]
    public static partial void Fatal(ILogger logger, string reason);

    [LoggerMessage(EventIdRanges.Lifecycle + 5, LogLevel.Warning, "Run failed; reconnecting in {Delay} (attempt {Attempt})")]
    public static partial void RunFailed(ILogger logger, Exception exception, TimeSpan delay, int attempt);

    [LoggerMessage(EventIdRanges.Lifecycle + 7, LogLevel.Information, "Standby: {Reason} Retrying every {Interval} to take over")]
    public static partial void Standby(ILogger logger, string reason, TimeSpan interval);

    [LoggerMessage(EventIdRanges.Lifecycle + 8, LogLevel.Information, "Took over: this relay is now the active one")]
    public static partial void TookOver(ILogger logger);

    [LoggerMessage(EventIdRanges.Pipeline + 0, LogLevel.Information, "Progress: {Published} message(s) published in this run, {InFlight} in flight, confirmed up to {Position}")]
    public static partial void Progress(ILogger logger, long published, int inFlight, string position);

    [LoggerMessage(EventIdRanges.Pipeline + 1, LogLevel.Warning, "Could not confirm {Position} to the source")]
    public static partial void ConfirmFailed(ILogger logger, Exception exception, string position);

    [LoggerMessage(EventIdRanges.Pipeline + 2, LogLevel.Warning, "Kafka has acknowledged nothing for {Stalled}: {InFlight} message(s) waiting; the source stays confirmed at {Position} until they are")]
    public static partial void Stalled(ILogger logger, TimeSpan stalled, int inFlight, string position);

    [LoggerMessage(EventIdRanges.Pipeline + 3, LogLevel.Information, "Kafka acknowledgements resumed after a stall of {Stalled}")]
    public static partial void StallEnded(ILogger logger, TimeSpan stalled);

    [LoggerMessage(EventIdRanges.Pipeline + 4, LogLevel.Warning, "Row of {Table} (event id {OutboxEventId}, position {Position}) cannot be published: {Reason}; sent to dead-letter topic {DeadLetterTopic}")]
    public static partial void DeadLettered(ILogger logger, string table, string outboxEventId, string position, string reason, string deadLetterTopic);

    [LoggerMessage(EventIdRanges.Kafka + 3, LogLevel.Warning, "Delivery to {Topic} failed: {Reason}; the run restarts from the last confirmed position")]
    public static partial void DeliveryFailed(ILogger logger, string topic, string reason);
}
