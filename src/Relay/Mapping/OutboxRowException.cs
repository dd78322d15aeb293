namespace Relay.Mapping;

/// <summary>
/// A row that cannot be published as configured. Under the <c>Stop</c> policy Relay halts without confirming the row's
/// transaction, so nothing after it is lost; fix the row or the mapping and restart.
/// </summary>
public sealed class OutboxRowException(string table, string? eventId, string reason)
    : Exception($"Row in {table} (event id {eventId ?? "NULL"}) cannot be published: {reason}.")
{
    public string Table { get; } = table;
    public string? EventId { get; } = eventId;
    public string Reason { get; } = reason;
}
