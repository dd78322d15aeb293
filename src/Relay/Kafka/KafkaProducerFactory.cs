using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Instrumentation;
using Relay.Options;

namespace Relay.Kafka;

/// <summary>
/// Builds the idempotent producer (<c>enable.idempotence=true</c>, <c>acks=all</c>): the broker de-duplicates
/// librdkafka's retries and keeps each partition in send order, so per-key order holds through broker failures.
/// </summary>
public sealed class KafkaProducerFactory(IOptions<KafkaOptions> options, IOptions<PipelineOptions> pipeline, RelayMetrics metrics,
    KafkaStatistics statistics, ILoggerFactory loggerFactory)
{
    readonly ILogger _logger = loggerFactory.CreateLogger("Relay.Kafka");

    /// <summary>The effective librdkafka settings: the user's pass-through settings plus Relay's guarantees.</summary>
    public static ProducerConfig BuildConfig(KafkaOptions options)
    {
        var config = new ProducerConfig(new Dictionary<string, string>(options.Producer));
        if (!string.IsNullOrWhiteSpace(options.BootstrapServers))
            config.BootstrapServers = options.BootstrapServers;
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        // librdkafka's default, kept on purpose. With idempotence a partition sends its next request only when fewer than
        // 5 of its messages are in flight, and while a batch older than linger.ms waits for that, librdkafka's broker
        // thread polls without sleeping: a linger shorter than the brokers' round trip costs up to a core per broker
        // under load (5 ms round trip: 37-48 µs per event at 1 ms, 8-11 at 5). KafkaStatistics says when it happens.
        config.LingerMs ??= 5;
        config.ClientId ??= "relay";
        return config;
    }

    /// <summary>
    /// The producer's own settings on top of <see cref="BuildConfig"/>. No message timeout: a message that times out
    /// lets librdkafka deliver later messages of the same key before Relay sends it again, so Relay waits for the
    /// broker instead, and says so (stall warning, <c>relay_in_flight_messages</c>, the slot lag). librdkafka's local
    /// queue holds at least Relay's in-flight window, so backpressure, not a full queue, is what stops reading.
    /// </summary>
    public static ProducerConfig BuildProducerConfig(KafkaOptions options, PipelineOptions pipeline)
    {
        var config = BuildConfig(options);
        config.MessageTimeoutMs ??= 0;
        config.QueueBufferingMaxMessages ??= Math.Max(100_000, pipeline.MaxInFlightMessages + QueueHeadroom);
        config.QueueBufferingMaxKbytes ??= (int)Math.Clamp(pipeline.MaxInFlightBytes / 1024 * 2, 1_048_576, int.MaxValue);
        // Relay keeps what it needs about each message itself: copying key, value and headers back into every
        // delivery report would only make garbage on the delivery thread. (A producer-only setting: not in BuildConfig,
        // which `relay check` also hands to an admin client.)
        config.DeliveryReportFields = "none";
        // Delivery reports are served by Relay's own thread (PolledProducer), which sleeps longer between them.
        config.EnableBackgroundPoll = false;
        // Queue depth, round trips and request errors for /metrics (KafkaStatistics); 0 turns them off.
        config.StatisticsIntervalMs ??= 15_000;
        return config;
    }

    /// <summary>Room in librdkafka's queue beyond the in-flight window (a dead letter re-sent without its value).</summary>
    internal const int QueueHeadroom = 1_000;

    /// <param name="onFatalError">Told of a fatal error (the producer must be replaced).</param>
    /// <param name="onError">Told of every error, fatal or not (e.g. all brokers down).</param>
    public PolledProducer Create(Action<Error> onFatalError, Action<Error>? onError = null)
    {
        var config = BuildProducerConfig(options.Value, pipeline.Value);
        if (config.StatisticsIntervalMs is > 0 and var interval)
            statistics.StaleAfter = TimeSpan.FromMilliseconds(interval * 3.0);
        statistics.LingerMs = config.LingerMs ?? 5;
        return new PolledProducer(new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler((_, error) =>
            {
                onError?.Invoke(error);
                metrics.PublishError(error.IsFatal ? "fatal" : "client");
                if (error.IsFatal)
                {
                    Log.ProducerFatalError(_logger, error.Code.ToString(), error.Reason);
                    onFatalError(error);
                }
                else if (error.Code == ErrorCode.Local_Transport)
                    Log.ProducerConnectionError(_logger, error.Reason);   // per-broker churn; AllBrokersDown says it once
                else
                    Log.ProducerError(_logger, error.Code.ToString(), error.Reason);
            })
            .SetStatisticsHandler((_, json) => statistics.Update(json))
            .SetLogHandler((_, message) => Log.Librdkafka(_logger, ToLevel(message.Level), message.Facility, message.Message))
            .Build());
    }

    // librdkafka's own errors also reach the error handler above; its log lines are detail for debugging.
    static LogLevel ToLevel(SyslogLevel level) => level <= SyslogLevel.Critical ? LogLevel.Error : LogLevel.Debug;
}
