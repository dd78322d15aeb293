namespace Relay.Mapping;

/// <summary>
/// A row that cannot be published as configured. Under the <c>Stop</c> policy Relay halts without confirming the row's
/// transaction, so nothing after it is lost; the message says where the row is and how to skip its transaction. The row
/// is named as <see cref="Core.OutboxTableMapping.RowDescription"/> names it (<c>Row in public.outbox</c>,
/// <c>Message with prefix 'outbox'</c>).
/// </summary>
public sealed class OutboxRowException(string row, string? eventId, string reason, string? position = null, string? skip = null)
    : Exception($"{row} (event id {eventId ?? "NULL"}{(position is null ? "" : $", transaction at {position}")}) cannot be published: {reason}. " +
                "Relay confirmed nothing past it. Fix the row or the mapping and restart" +
                (skip is null ? "." : $"; or skip its whole transaction (re-publish its other rows yourself): {skip}."))
{
    public string Row { get; } = row;
    public string? EventId { get; } = eventId;
    public string Reason { get; } = reason;
    public string? Position { get; } = position;

    /// <summary>
    /// The same problem, without the statement that skips the transaction: Kafka did not acknowledge the transactions
    /// before it in time, so skipping now would skip them too.
    /// </summary>
    public OutboxRowException WithoutSkip() => new(Row, EventId,
        Reason + " (Kafka had not acknowledged the transactions before it when Relay stopped: start Relay again and let it stop at this row " +
        "before skipping anything)", Position);
}
