using System.Text;
using System.Text.Json;
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

    /// <summary>Maps <paramref name="row"/>, or returns why it cannot be published (and <paramref name="message"/> as far as it got).</summary>
    public static string? TryRoute(OutboxRow row, out string? topic, out Message<byte[]?, byte[]?> message)
    {
        var table = row.Table;
        var headers = new Headers();
        if (row[table.EventIdColumn] is { } eventId)
            headers.Add(EventIdHeader, eventId);
        if (table.TypeColumn >= 0 && row[table.TypeColumn] is { } type)
            headers.Add(TypeHeader, type);
        foreach (var (header, column) in table.HeaderColumns)
        {
            if (row[column] is { } value)
                headers.Add(header, value);
        }
        var payload = row[table.PayloadColumn];
        message = new Message<byte[]?, byte[]?> { Key = row[table.KeyColumn], Value = payload, Headers = headers };

        string? problem = null;
        topic = table.FixedTopic ?? table.TopicTemplate!.Render(row, out problem);
        if (row.Problem is not null)
            return row.Problem;   // found by the source (e.g. a message that is not JSON): its fields mean nothing
        if (problem is not null)
            return problem;
        if (message.Key is null)
            return $"key column '{table.Columns[table.KeyColumn].Name}' is NULL";
        if (row[table.EventIdColumn] is null)
            return $"event id column '{table.Columns[table.EventIdColumn].Name}' is NULL";
        if (payload is null)
            return table.Options.NullPayload == NullPayloadHandling.Unpublishable
                ? $"payload column '{table.Columns[table.PayloadColumn].Name}' is NULL"
                : null;
        if (table.Options.PayloadFormat == PayloadFormat.Json && JsonProblem(payload) is { } json)
            return $"payload is not valid JSON ({json})";
        return null;
    }

    static string? JsonProblem(byte[] payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            while (reader.Read())
            {
            }
            return null;
        }
        catch (JsonException e)
        {
            return e.Message;
        }
    }
}
