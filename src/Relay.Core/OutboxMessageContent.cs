using System.Text;
using System.Text.Json;

namespace Relay.Core;

/// <summary>
/// Reads the JSON content of a <c>pg_logical_emit_message</c> message into an <see cref="OutboxRow"/>, as if its
/// top-level fields were a table's columns: a string field gives its text (unescaped, UTF-8), an object or array its JSON
/// as written, a number or boolean its literal, <c>null</c> or a missing field SQL NULL. So <c>"payload": {…}</c> publishes
/// the object's JSON, as a jsonb column would.
/// </summary>
public static class OutboxMessageContent
{
    /// <summary>
    /// Fills <paramref name="row"/> (already pointed at its mapping) from <paramref name="content"/>. Content that cannot be
    /// read leaves only the payload set, to the whole content: the WAL holds the only copy, so a dead letter must carry it.
    /// </summary>
    /// <returns>Why the content cannot be read (not JSON, not an object), or null.</returns>
    public static string? Read(OutboxRow row, ReadOnlySpan<byte> content)
    {
        var problem = Fill(row, content);
        if (problem is not null)
        {
            Array.Clear(row.Values);
            row.Values[row.Table.PayloadColumn] = content.ToArray();
        }
        return problem;
    }

    static string? Fill(OutboxRow row, ReadOnlySpan<byte> content)
    {
        var columns = row.Table.Columns;
        row.EnsureCapacity(columns.Count);
        Array.Clear(row.Values);
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return $"its content is not a JSON object (it starts with {Describe(reader)})";
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var column = Find(columns, ref reader);
                if (column < 0)
                {
                    reader.Skip();
                    continue;
                }
                reader.Read();
                row.Values[column] = Value(ref reader, content);
            }
            if (reader.Read())
                return "its content has more after the JSON object";
            return null;
        }
        catch (JsonException e)
        {
            return $"its content is not valid JSON ({e.Message})";
        }
    }

    static int Find(IReadOnlyList<MappedColumn> columns, ref Utf8JsonReader reader)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (reader.ValueTextEquals(columns[i].Name))
                return i;
        }
        return -1;
    }

    static byte[]? Value(ref Utf8JsonReader reader, ReadOnlySpan<byte> content)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan.ToArray();
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                return content[start..(int)reader.BytesConsumed].ToArray();
            default:
                return reader.ValueSpan.ToArray();   // a number, true or false: its literal
        }
    }

    static string Describe(Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.None => "nothing",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        _ => $"a {reader.TokenType.ToString().ToLowerInvariant()}",
    };
}
