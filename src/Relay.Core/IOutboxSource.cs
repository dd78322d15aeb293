namespace Relay.Core;

/// <summary>
/// A database whose outbox inserts Relay tails (Debezium's "streaming change event source").
/// </summary>
public interface IOutboxSource
{
    /// <summary>
    /// Checks the source's prerequisites and provisions what is missing (for PostgreSQL: publication and slot).
    /// Throws <see cref="RelayConfigurationException"/> for problems a restart cannot fix.
    /// </summary>
    Task PrepareAsync(CancellationToken cancellationToken);

    /// <summary>Opens a stream that starts right after the last confirmed position.</summary>
    Task<IOutboxStream> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// How many bytes of log the database keeps because Relay has not confirmed them (PostgreSQL: the slot's lag),
    /// asked on an ordinary connection; null when it cannot be known right now.
    /// </summary>
    Task<long?> GetRetainedBytesAsync(CancellationToken cancellationToken);

    /// <summary>Checks every prerequisite without changing anything, for <c>relay check</c>.</summary>
    Task<IReadOnlyList<PreflightCheck>> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>One connected session of a source: read changes, confirm positions.</summary>
public interface IOutboxStream : IAsyncDisposable
{
    /// <summary>
    /// Reads changes in log order and hands them to <paramref name="sink"/> until <paramref name="stopReading"/> is
    /// cancelled (returns normally) or the connection fails (throws).
    /// </summary>
    Task ReadAsync(IOutboxSink sink, CancellationToken stopReading);

    /// <summary>
    /// Durably records that every change at or before <paramref name="position"/> has been published, so the source
    /// never sends them again (PostgreSQL: the slot's confirmed_flush_lsn). Safe to call while reading.
    /// </summary>
    Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken);

    /// <summary>The newest position the source has sent (it may be ahead of what was read).</summary>
    SourcePosition Received { get; }

    /// <summary>Formats a position the way the database's own tools print it (e.g. <c>0/16B3748</c>).</summary>
    string Format(SourcePosition position);
}

/// <summary>Receives a stream's changes, in log order.</summary>
public interface IOutboxSink
{
    /// <summary>An inserted outbox row. May wait (backpressure) before returning.</summary>
    ValueTask OnRowAsync(OutboxRow row, CancellationToken cancellationToken);

    /// <summary>The end of a transaction: once its rows are acknowledged, <paramref name="position"/> may be confirmed.</summary>
    ValueTask OnCommitAsync(SourcePosition position, CancellationToken cancellationToken);
}
