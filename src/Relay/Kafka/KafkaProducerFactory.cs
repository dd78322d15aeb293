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
public sealed class KafkaProducerFactory(IOptions<KafkaOptions> options, RelayMetrics metrics, ILoggerFactory loggerFactory)
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
        // An outbox relay is judged by commit-to-ack latency: wait 1 ms for a batch, not librdkafka's 5 (measured: p50 7.6 → 2.1 ms
        // at 1,000 rows/s, and no slower drains). Raise it for throughput on busy outboxes.
        config.LingerMs ??= 1;
        config.ClientId ??= "relay";
        return config;
    }

    public IProducer<byte[]?, byte[]?> Create(Action<Error> onFatalError)
    {
        var config = BuildConfig(options.Value);
        // Relay keeps what it needs about each message itself: copying key, value and headers back into every
        // delivery report would only make garbage on the delivery thread. (A producer-only setting: not in BuildConfig,
        // which `relay check` also hands to an admin client.)
        config.DeliveryReportFields = "none";
        return new ProducerBuilder<byte[]?, byte[]?>(config)
            .SetErrorHandler((_, error) =>
            {
                metrics.PublishErrors.WithLabels(error.IsFatal ? "fatal" : "client").Inc();
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
            .SetLogHandler((_, message) => Log.Librdkafka(_logger, ToLevel(message.Level), message.Facility, message.Message))
            .Build();
    }

    // librdkafka's own errors also reach the error handler above; its log lines are detail for debugging.
    static LogLevel ToLevel(SyslogLevel level) => level <= SyslogLevel.Critical ? LogLevel.Error : LogLevel.Debug;
}
