using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Mapping;

namespace Relay.Pipeline;

/// <summary>
/// Receives a stream's rows in log order, routes each to a Kafka message and produces it with a delivery handler
/// (never one awaited send per message: librdkafka batches, and acknowledgements come back on its own thread).
/// Each acknowledgement and each commit goes to the <see cref="CheckpointTracker"/>. A row that cannot be published
/// goes where its table's policy says: a halt (nothing past it confirmed) or the dead-letter topic (acknowledged like
/// any other message before the checkpoint passes it). Positions in errors and dead-letter headers are named by
/// <c>positions</c> (the stream, or <c>relay republish</c>'s rows); <c>addedHeaders</c> go on every message (none by
/// default; <c>relay republish</c> adds <c>relay.republished</c>).
/// </summary>
sealed class OutboxDispatcher(
    IProducer<byte[]?, byte[]?> producer,
    CheckpointTracker tracker,
    IPositionFormatter positions,
    RelayMetrics metrics,
    ILogger logger,
    TimeProvider time,
    IReadOnlyList<KeyValuePair<string, byte[]>>? addedHeaders = null) : IOutboxSink
{
    public const string TableHeader = "relay.table";
    public const string PositionHeader = "relay.position";
    public const string EventIdHeader = "relay.event.id";
    public const string ReasonHeader = "relay.reason";
    public const string TopicHeader = "relay.topic";
    public const string ValueOmittedHeader = "relay.value.omitted";

    public async ValueTask OnRowAsync(OutboxRow row, CancellationToken cancellationToken)
    {
        var receivedAt = time.GetUtcNow().UtcDateTime;
        var tableMetrics = metrics.For(row.Table);
        tableMetrics.RowReceived();
        var problem = OutboxEventRouter.TryRoute(row, out var topic, out var message);
        if (addedHeaders is not null)
        {
            foreach (var (name, value) in addedHeaders)
                message.Headers.Add(name, value);
        }
        var size = (message.Key?.Length ?? 0) + (message.Value?.Length ?? 0);
        var sequence = await tracker.ReserveAsync(size, cancellationToken);
        var context = new RowContext(this, sequence, row.Table, tableMetrics, row.Position, row.CommitTimestamp, receivedAt,
            row[row.Table.EventIdColumn], topic, message);
        if (problem is not null)
        {
            if (Reject(context, problem) is { } stop)
                throw stop;
            return;
        }
        try
        {
            producer.Produce(topic!, message, context.OnDelivered);
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (IsAboutTheRow(e.Error.Code))
        {
            // Refused before it was queued, e.g. larger than message.max.bytes.
            if (Reject(context, $"Kafka refused the message for topic {topic} ({e.Error.Code}): {e.Error.Reason}") is { } stop)
                throw stop;
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            tracker.Fail(sequence, e);
            throw new DeliveryFailedException($"The producer refused a message ({e.Error.Code}); reconnecting.", e);
        }
    }

    public ValueTask OnCommitAsync(SourcePosition position, DateTime committedAt, CancellationToken cancellationToken)
    {
        tracker.Commit(position, committedAt);
        return ValueTask.CompletedTask;
    }

    /// <summary>Errors that a retry of the same message cannot fix (as opposed to, say, a broker outage or a full local queue).</summary>
    static bool IsAboutTheMessage(ErrorCode code) =>
        code is ErrorCode.MsgSizeTooLarge or ErrorCode.InvalidMsg or ErrorCode.InvalidMsgSize
            or ErrorCode.Local_InvalidArg or ErrorCode.RecordListTooLarge;

    /// <summary>
    /// The topic will not take messages: no WRITE ACL, or it does not exist and is not auto-created (librdkafka reports
    /// that once <c>topic.metadata.propagation.max.ms</c> has passed). Re-sending cannot fix it: the row's policy applies,
    /// instead of every retry cycle re-sending the whole in-flight window.
    /// </summary>
    static bool IsAboutTheTopic(ErrorCode code) =>
        code is ErrorCode.TopicAuthorizationFailed or ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic
            or ErrorCode.Local_UnknownPartition or ErrorCode.TopicException;

    static bool IsAboutTheRow(ErrorCode code) => IsAboutTheMessage(code) || IsAboutTheTopic(code);

    void OnDelivered(RowContext context, DeliveryReport<byte[]?, byte[]?> report)
    {
        if (!report.Error.IsError)
        {
            tracker.Acknowledge(context.Sequence);
            context.Metrics.Published();
            var now = time.GetUtcNow().UtcDateTime;
            metrics.Acknowledged(now - context.CommittedAt, now - context.ReceivedAt);
        }
        else if (IsAboutTheRow(report.Error.Code))
        {
            // Failures reach the run through the tracker.
            Reject(context, $"Kafka refused the message for topic {context.Topic} ({report.Error.Code}): {report.Error.Reason}");
        }
        else
        {
            Log.DeliveryFailed(logger, context.Topic ?? "", report.Error.Reason);
            metrics.PublishError("delivery");
            tracker.Fail(context.Sequence, new KafkaException(report.Error));
        }
    }

    /// <summary>
    /// The row cannot be published. Stop: the window stops at its sequence number, so no later position is confirmed.
    /// Dead letter: the same sequence number is acknowledged by the dead-letter topic instead. Never throws (it also runs
    /// on librdkafka's delivery thread): returns the error that must end the run, if any, after telling the tracker.
    /// </summary>
    Exception? Reject(RowContext context, string reason)
    {
        var (table, topic, message) = (context.Table, context.Topic, context.Message);
        if (table.Options.OnUnpublishableRow == UnpublishableRowPolicy.Stop)
        {
            var error = new OutboxRowException(table.RowDescription, context.EventIdText, reason,
                positions.Format(context.Position), positions.DescribeSkip(context.Position));
            metrics.PublishError("unpublishable_row");
            tracker.Fail(context.Sequence, error);
            return error;
        }

        var position = positions.Format(context.Position);
        Log.DeadLettered(logger, table.QualifiedName, context.EventIdText ?? "NULL", position, reason, table.Options.DeadLetterTopic!);
        var headers = new Headers();
        foreach (var header in message.Headers ?? [])
            headers.Add(header.Key, header.GetValueBytes());
        headers.Add(TableHeader, Encoding.UTF8.GetBytes(table.QualifiedName));
        headers.Add(PositionHeader, Encoding.UTF8.GetBytes(position));
        if (context.EventId is not null)
            headers.Add(EventIdHeader, context.EventId);
        headers.Add(ReasonHeader, Encoding.UTF8.GetBytes(reason));
        if (topic is not null)
            headers.Add(TopicHeader, Encoding.UTF8.GetBytes(topic));
        return ProduceDeadLetter(context, new Message<byte[]?, byte[]?> { Key = message.Key, Value = message.Value, Headers = headers });
    }

    /// <summary>
    /// Sends a dead letter under the row's sequence number. If Kafka refuses it for what it is (its size), it goes again
    /// without the value: the row stays in the outbox table, and its identity and the reason reach the topic.
    /// </summary>
    Exception? ProduceDeadLetter(RowContext context, Message<byte[]?, byte[]?> deadLetter)
    {
        var topic = context.Table.Options.DeadLetterTopic!;
        try
        {
            producer.Produce(topic, deadLetter, report =>
            {
                if (!report.Error.IsError)
                {
                    tracker.Acknowledge(context.Sequence);
                    context.Metrics.DeadLettered();
                }
                else if (IsAboutTheMessage(report.Error.Code) && deadLetter.Value is not null)
                    ProduceDeadLetter(context, WithoutValue(deadLetter, report.Error.Reason));
                else if (IsAboutTheTopic(report.Error.Code))
                    DeadLetterTopicRefused(context, report.Error);
                else
                {
                    Log.DeliveryFailed(logger, report.Topic, report.Error.Reason);
                    tracker.Fail(context.Sequence, new KafkaException(report.Error));
                }
            });
            return null;
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (IsAboutTheMessage(e.Error.Code) && deadLetter.Value is not null)
        {
            return ProduceDeadLetter(context, WithoutValue(deadLetter, e.Error.Reason));
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (IsAboutTheTopic(e.Error.Code))
        {
            return DeadLetterTopicRefused(context, e.Error);
        }
        catch (ProduceException<byte[]?, byte[]?> e)
        {
            var error = new DeliveryFailedException($"Could not dead-letter a row of {context.Table.QualifiedName}: {e.Error.Reason}", e);
            tracker.Fail(context.Sequence, error);
            return error;
        }
    }

    /// <summary>The dead-letter topic itself will not take the row: nowhere left to put it, so the relay stops.</summary>
    Exception DeadLetterTopicRefused(RowContext context, Error error)
    {
        var topic = context.Table.Options.DeadLetterTopic;
        var stop = new OutboxRowException(context.Table.RowDescription, context.EventIdText,
            $"its dead-letter topic {topic} refused it too ({error.Code}: {error.Reason}); grant WRITE on {topic} or create it",
            positions.Format(context.Position), positions.DescribeSkip(context.Position));
        metrics.PublishError("unpublishable_row");
        tracker.Fail(context.Sequence, stop);
        return stop;
    }

    static Message<byte[]?, byte[]?> WithoutValue(Message<byte[]?, byte[]?> deadLetter, string reason)
    {
        deadLetter.Headers.Add(ValueOmittedHeader, Encoding.UTF8.GetBytes(reason));
        return new Message<byte[]?, byte[]?> { Key = deadLetter.Key, Value = null, Headers = deadLetter.Headers };
    }

    /// <summary>
    /// What the delivery handler needs to know about its row after the row itself has been reused. Its handler is a
    /// method of its own, so a message costs one object and one delegate here (delivery reports carry no message
    /// fields: see <see cref="Kafka.KafkaProducerFactory"/>).
    /// </summary>
    sealed class RowContext(OutboxDispatcher dispatcher, long sequence, OutboxTableMapping table, TableMetrics metrics,
        SourcePosition position, DateTime committedAt, DateTime receivedAt, byte[]? eventId, string? topic, Message<byte[]?, byte[]?> message)
    {
        public long Sequence { get; } = sequence;
        public OutboxTableMapping Table { get; } = table;
        public TableMetrics Metrics { get; } = metrics;
        public SourcePosition Position { get; } = position;
        public DateTime CommittedAt { get; } = committedAt;
        public DateTime ReceivedAt { get; } = receivedAt;
        public byte[]? EventId { get; } = eventId;
        public string? EventIdText => OutboxTableMapping.Text(EventId);
        public string? Topic { get; } = topic;
        public Message<byte[]?, byte[]?> Message { get; } = message;

        public void OnDelivered(DeliveryReport<byte[]?, byte[]?> report) => dispatcher.OnDelivered(this, report);
    }
}
