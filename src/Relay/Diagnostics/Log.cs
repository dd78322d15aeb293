using Microsoft.Extensions.Logging;

namespace Relay.Diagnostics;

/// <summary>Log messages of the host and pipeline. Event ids: 1000–1099 lifecycle, 1100–1199 pipeline, 1200–1299 Kafka.</summary>
static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Relay starting: source {Source}, {TableCount} outbox table(s): {Tables}")]
    public static partial void Starting(ILogger logger, string source, int tableCount, string tables);

    [LoggerMessage(1001, LogLevel.Information, "Stopping: draining {InFlight} in-flight message(s) for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, int inFlight, TimeSpan drainTimeout);

    [LoggerMessage(1002, LogLevel.Warning, "Drain timed out with {InFlight} message(s) unacknowledged; they will be sent again at the next start")]
    public static partial void DrainTimedOut(ILogger logger, int inFlight);

    [LoggerMessage(1003, LogLevel.Information, "Stopped; confirmed up to {Position}")]
    public static partial void Stopped(ILogger logger, string position);

    [LoggerMessage(1004, LogLevel.Critical, "Relay cannot continue: {Reason}")]
    public static partial void Fatal(ILogger logger, string reason);

    [LoggerMessage(1005, LogLevel.Warning, "Run failed; reconnecting in {Delay} (attempt {Attempt})")]
    public static partial void RunFailed(ILogger logger, Exception exception, TimeSpan delay, int attempt);

    [LoggerMessage(1006, LogLevel.Critical, "Invalid configuration: {Problem}")]
    public static partial void InvalidConfiguration(ILogger logger, string problem);

    [LoggerMessage(1007, LogLevel.Information, "Standby: {Reason} Retrying every {Interval} to take over")]
    public static partial void Standby(ILogger logger, string reason, TimeSpan interval);

    [LoggerMessage(1008, LogLevel.Information, "Took over: this relay is now the active one")]
    public static partial void TookOver(ILogger logger);

    [LoggerMessage(1102, LogLevel.Warning, "Kafka has acknowledged nothing for {Stalled}: {InFlight} message(s) waiting; the source stays confirmed at {Position} until they are")]
    public static partial void Stalled(ILogger logger, TimeSpan stalled, int inFlight, string position);

    [LoggerMessage(1103, LogLevel.Information, "Kafka acknowledgements resumed after a stall of {Stalled}")]
    public static partial void StallEnded(ILogger logger, TimeSpan stalled);

    [LoggerMessage(1104, LogLevel.Warning, "Row of {Table} (event id {EventId}, position {Position}) cannot be published: {Reason}; sent to dead-letter topic {DeadLetterTopic}")]
    public static partial void DeadLettered(ILogger logger, string table, string eventId, string position, string reason, string deadLetterTopic);

    [LoggerMessage(1100, LogLevel.Information, "Progress: {Published} message(s) published in this run, {InFlight} in flight, confirmed up to {Position}")]
    public static partial void Progress(ILogger logger, long published, int inFlight, string position);

    [LoggerMessage(1101, LogLevel.Warning, "Could not confirm {Position} to the source")]
    public static partial void ConfirmFailed(ILogger logger, Exception exception, string position);

    [LoggerMessage(1200, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
    public static partial void ProducerError(ILogger logger, string code, string reason);

    [LoggerMessage(1201, LogLevel.Error, "Kafka producer fatal error {Code}: {Reason}; recreating the producer")]
    public static partial void ProducerFatalError(ILogger logger, string code, string reason);

    [LoggerMessage(1204, LogLevel.Debug, "Kafka connection error: {Reason}")]
    public static partial void ProducerConnectionError(ILogger logger, string reason);

    [LoggerMessage(EventId = 1202, Message = "librdkafka {Facility}: {Message}")]
    public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);

    [LoggerMessage(1203, LogLevel.Warning, "Delivery to {Topic} failed: {Reason}; the run restarts from the last confirmed position")]
    public static partial void DeliveryFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(1009, LogLevel.Warning, "Diagnostics request {Path} failed: {Reason}")]
    public static partial void DiagnosticsRequestFailed(ILogger logger, string path, string reason);
}
