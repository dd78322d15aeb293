using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.Kafka;

/// <summary>Log messages of the Kafka producer; event ids 1200–1299.</summary>
static partial class Log
{
    [LoggerMessage(EventIdRanges.Kafka + 0, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
    public static partial void ProducerError(ILogger logger, string code, string reason);

    [LoggerMessage(EventIdRanges.Kafka + 1, LogLevel.Error, "Kafka producer fatal error {Code}: {Reason}; recreating the producer")]
    public static partial void ProducerFatalError(ILogger logger, string code, string reason);

    [LoggerMessage(EventId = EventIdRanges.Kafka + 2, Message = "librdkafka {Facility}: {Message}")]
    public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);

    [LoggerMessage(EventIdRanges.Kafka + 4, LogLevel.Debug, "Kafka connection error: {Reason}")]
    public static partial void ProducerConnectionError(ILogger logger, string reason);

    [LoggerMessage(EventIdRanges.Kafka + 5, LogLevel.Warning,
        "Kafka round trips to {Broker} average {RoundTripMs} ms, longer than linger.ms {LingerMs}, with {MessagesPerRequest} messages per produce request: in this state librdkafka's idempotent producer busy-waits for each partition's reply, spending up to a core per broker. Set Relay:Kafka:Producer:linger.ms to {SuggestedLingerMs} to stop it; each message may then wait up to that long for its batch")]
    public static partial void LingerBelowRoundTrip(ILogger logger, string broker, double roundTripMs, double lingerMs,
        double messagesPerRequest, double suggestedLingerMs);
}
