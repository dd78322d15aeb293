using Confluent.Kafka;
using Relay.Core;

namespace Relay.Mapping;

/// <summary>
/// Turns an outbox row into a Kafka message, as Debezium's Outbox Event Router does: the key column becomes the message
/// key (so one aggregate's events share a partition and keep their order), the payload column's bytes the value, the
/// event id and type go into the <c>id</c> and <c>type</c> headers, and the topic is fixed or routed by a column.
/// </summary>
public static class OutboxEventRouter
{
    public const string EventIdHeader = "id";
    public const string TypeHeader = "type";

    /// <summary>Maps <paramref name="row"/>; throws <see cref="OutboxRowException"/> when the row cannot become a message.</summary>
    public static (string Topic, Message<byte[]?, byte[]?> Message) Route(OutboxRow row)
    {
        var table = row.Table;
        var topic = table.FixedTopic ?? table.TopicTemplate!.Render(row, out var problem)
            ?? throw new OutboxRowException(row, problem!);

        var key = row[table.KeyColumn]
            ?? throw new OutboxRowException(row, $"key column '{table.Columns[table.KeyColumn].Name}' is NULL");
        var eventId = row[table.EventIdColumn]
            ?? throw new OutboxRowException(row, $"event id column '{table.Columns[table.EventIdColumn].Name}' is NULL");

        var headers = new Headers { { EventIdHeader, eventId } };
        if (table.TypeColumn >= 0 && row[table.TypeColumn] is { } type)
            headers.Add(TypeHeader, type);
        foreach (var (header, column) in table.HeaderColumns)
        {
            if (row[column] is { } value)
                headers.Add(header, value);
        }

        return (topic, new Message<byte[]?, byte[]?> { Key = key, Value = row[table.PayloadColumn], Headers = headers });
    }
}

/// <summary>
/// A row that cannot be published as configured. Relay stops without confirming the row's transaction, so nothing
/// after it is lost; fix the row or the mapping and restart.
/// </summary>
public sealed class OutboxRowException(OutboxRow row, string reason)
    : Exception($"Row in {row.Table.QualifiedName} (event id {OutboxTableMapping.Text(row[row.Table.EventIdColumn]) ?? "NULL"}) cannot be published: {reason}.")
{
    public string Table { get; } = row.Table.QualifiedName;
    public string Reason { get; } = reason;
}
