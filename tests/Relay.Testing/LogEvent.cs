namespace Relay.Testing;

/// <summary>One log event of the relay, from an in-process logger or a JSON (CLEF) line of a relay process.</summary>
/// <param name="Id">The event id (0 when the event has none, e.g. a library's own log line).</param>
/// <param name="Name">The event name (the <c>[LoggerMessage]</c> method's name), when known.</param>
/// <param name="Level">Information, Warning, Error, Critical/Fatal, ...</param>
/// <param name="Message">The rendered message.</param>
/// <param name="Exception">The exception's text, if any.</param>
/// <param name="Properties">The message's structured properties (e.g. <c>Slot</c>, <c>Reason</c>) as text.</param>
public sealed record LogEvent(int Id, string? Name, string Level, string Message, string? Exception, IReadOnlyDictionary<string, string?> Properties)
{
    /// <summary>A structured property of the message as text; null when absent.</summary>
    public string? Property(string name) => Properties.GetValueOrDefault(name);


    public override string ToString() => $"{Level} {Id}{(Name is null ? "" : "/" + Name)}: {Message}{(Exception is null ? "" : " " + Exception)}";
}
