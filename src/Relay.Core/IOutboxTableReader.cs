namespace Relay.Core;

/// <summary>
/// Reads an outbox table's rows with ordinary queries, for <c>relay republish</c>: no slot, no publication, nothing
/// changed, so it is safe while the daemon streams the same table. A source registers one when it supports re-publishing.
/// </summary>
public interface IOutboxTableReader
{
    /// <summary>
    /// Checks the table, its mapping and <see cref="OutboxTableMapping.RepublishOrderColumn"/> against the catalog and
    /// counts the selected rows. Throws <see cref="RelayConfigurationException"/>, naming the key or argument to fix, when
    /// the selection cannot be made.
    /// </summary>
    Task<SelectedRows> SelectAsync(RowSelection selection, CancellationToken cancellationToken);
}

/// <summary>
/// Which rows of a table to re-publish: a range of its order column (<paramref name="From"/> inclusive,
/// <paramref name="To"/> exclusive) and/or a list of event ids.
/// </summary>
/// <param name="Table">The configured table (its mapping and order column).</param>
/// <param name="From">The first order value to send, inclusive; null for no lower bound.</param>
/// <param name="To">The end of the range, exclusive; null for the newest row at the time of selection.</param>
/// <param name="AfterEventId">
/// With <paramref name="From"/>: the rows at exactly <paramref name="From"/> go only after this event id (where an
/// interrupted run stopped), so a resumed run sends nothing twice.
/// </param>
/// <param name="EventIds">Event ids in their text form, read once (e.g. lazily from a file); null for no id filter.</param>
public sealed record RowSelection(OutboxTableMapping Table, RangeBound? From, RangeBound? To, string? AfterEventId, IEnumerable<string>? EventIds);

/// <summary>A bound of the order column: an instant (<c>--from</c>, ISO 8601) or a value in the column's own text form.</summary>
public readonly record struct RangeBound(string Value, bool IsInstant);

/// <summary>Where a row stands in the table's order: its order column and event id, as the database prints them.</summary>
public sealed record RowKey(string OrderValue, string? EventId);

/// <summary>What a selection found, and the reading of it (holding its connection until disposed).</summary>
public abstract class SelectedRows : IAsyncDisposable
{
    /// <summary>The column rows are ordered and selected by.</summary>
    public required string OrderColumn { get; init; }

    /// <summary>Rows to send in order (order value and event id present), as counted when selected.</summary>
    public required long Rows { get; init; }

    /// <summary>
    /// Rows whose event id is NULL: they cannot be published (see <see cref="OutboxMappingOptions.OnUnpublishableRow"/>),
    /// and cannot be placed among the others by event id; <see cref="ReadAsync"/> sends them first.
    /// </summary>
    public required long RowsWithoutEventId { get; init; }

    /// <summary>Rows matched by event id whose order column is NULL: they have no place in the order and are not sent.</summary>
    public required RowShortfall RowsWithoutOrderValue { get; init; }

    /// <summary>Requested event ids that no row in the selected range has.</summary>
    public required RowShortfall MissingEventIds { get; init; }

    /// <summary>Things an operator should know before it runs (e.g. no index on the order column).</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>Every row to send: <see cref="Rows"/> plus <see cref="RowsWithoutEventId"/>.</summary>
    public long Total => Rows + RowsWithoutEventId;

    /// <summary>
    /// Hands every selected row to <paramref name="sink"/>: first those without an event id, then the others in the
    /// table's order (order column, then event id), read in pages so memory stays bounded whatever the range. Rows
    /// inserted after the selection with a later key than the last one counted are left to the daemon.
    /// </summary>
    public abstract Task ReadAsync(ISelectedRowSink sink, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

/// <summary>Requested rows that will not be sent: how many, and the event ids of the first few.</summary>
public sealed record RowShortfall(long Count, IReadOnlyList<string> Samples)
{
    public static readonly RowShortfall None = new(0, []);
}

/// <summary>Receives the rows of a selection in order.</summary>
public interface ISelectedRowSink
{
    /// <summary>
    /// A row (reused: valid only during the call, like <see cref="IOutboxSink.OnRowAsync"/>) and its key. May wait
    /// (backpressure) before returning.
    /// </summary>
    ValueTask OnRowAsync(OutboxRow row, RowKey key, CancellationToken cancellationToken);
}
