using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Relay.Testing;

/// <summary>
/// Reads a line the relay writes with <c>Relay:Diagnostics:LogFormat = Json</c>: Serilog's rendered compact JSON (CLEF:
/// <c>@t</c>, <c>@m</c>, <c>@l</c> (absent for Information), <c>@x</c>, and the properties, among them
/// <c>EventId: { Id, Name }</c>). In <c>@m</c> Serilog quotes string values; <see cref="LogEvent.Property"/> has them bare.
/// </summary>
public static class JsonLogLine
{
    /// <summary>The event of a JSON log line; false for a line that is not one (e.g. plain text on stderr).</summary>
    public static bool TryParse(string line, [NotNullWhen(true)] out LogEvent? logEvent)
    {
        logEvent = null;
        if (line.Length == 0 || line[0] != '{')
            return false;
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("@t", out _))
                return false;
            var (id, name) = (0, (string?)null);
            if (root.TryGetProperty("EventId", out var eventId) && eventId.ValueKind == JsonValueKind.Object)
            {
                if (eventId.TryGetProperty("Id", out var value) && value.ValueKind == JsonValueKind.Number)
                    id = value.GetInt32();
                if (eventId.TryGetProperty("Name", out var text) && text.ValueKind == JsonValueKind.String)
                    name = text.GetString();
            }
            var properties = root.EnumerateObject().Where(p => !p.Name.StartsWith('@') && p.Name != "EventId")
                .ToDictionary(p => p.Name, p => p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Null => null,
                    _ => p.Value.GetRawText(),
                });
            logEvent = new LogEvent(id, name,
                root.TryGetProperty("@l", out var level) ? level.GetString()! : "Information",
                root.TryGetProperty("@m", out var message) ? message.GetString()! : "",
                root.TryGetProperty("@x", out var exception) ? exception.GetString() : null,
                properties);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The event of a JSON log line; throws for a line that is not one.</summary>
    public static LogEvent Parse(string line) =>
        TryParse(line, out var logEvent) ? logEvent : throw new FormatException($"Not a JSON log line: {line}");
}
