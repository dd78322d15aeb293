using System.Text.Json;
using Relay.DevServices;

namespace Relay.Testing;

/// <summary>Reading the JSON payloads tests write into outbox rows.</summary>
public static class Payloads
{
    /// <summary>The <c>seq</c> number of a payload such as <c>{"seq": 42}</c>.</summary>
    public static long Seq(ReceivedMessage message)
    {
        using var document = JsonDocument.Parse(message.ValueBytes ?? throw new ArgumentException($"message {message.Topic}[{message.Partition}]@{message.Offset} has no value"));
        return document.RootElement.GetProperty("seq").GetInt64();
    }
}
