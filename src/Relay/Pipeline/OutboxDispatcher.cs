using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Mapping;

namespace Relay.Pipeline;

/// <summary>
/// Receives a stream's rows in log order, routes each to a Kafka message and produces it with a delivery handler
/// (never one awaited send per message: librdkafka batches, and acknowledgements come back on its own thread).
/// Each acknowledgement and each commit goes to the <see cref="CheckpointTracker"/>.
/// </summary>
sealed class OutboxDispatcher(IProducer<byte[]?, byte[]?> producer, CheckpointTracker tracker, ILogger logger) : IOutboxSink
{
    public async ValueTask OnRowAsync(OutboxRow row, CancellationToken cancellationToken)
    {
        var (topic, message) = OutboxEventRouter.Route(row);
        var size = (message.Key?.Length ?? 0) + (message.Value?.Length ?? 0);
        var sequence = await tracker.ReserveAsync(size, cancellationToken);
        try
        {
            producer.Produce(topic, message, report => OnDelivered(sequence, report));
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            // Refused before it was queued. Nothing after this row is confirmed; the run stops here.
            tracker.Fail(sequence, e);
            if (IsAboutTheMessage(e.Error.Code))
                throw new OutboxRowException(row, $"Kafka refused the message: {e.Error.Reason}");
            throw new DeliveryFailedException($"The producer refused a message ({e.Error.Code}); reconnecting.", e);
        }
    }

    public ValueTask OnCommitAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        tracker.Commit(position);
        return ValueTask.CompletedTask;
    }

    /// <summary>Errors that a retry of the same row cannot fix (as opposed to, say, a full local queue).</summary>
    static bool IsAboutTheMessage(ErrorCode code) =>
        code is ErrorCode.MsgSizeTooLarge or ErrorCode.InvalidMsg or ErrorCode.InvalidMsgSize
            or ErrorCode.TopicException or ErrorCode.Local_InvalidArg;

    void OnDelivered(long sequence, DeliveryReport<byte[]?, byte[]?> report)
    {
        if (report.Error.IsError)
        {
            Log.DeliveryFailed(logger, report.Topic, report.Error.Reason);
            tracker.Fail(sequence, new KafkaException(report.Error));
        }
        else
            tracker.Acknowledge(sequence);
    }
}
