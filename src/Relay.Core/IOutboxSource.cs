namespace Relay.Core;

/// <summary>
/// A database whose outbox inserts Relay tails (Debezium's "streaming change event source"). A source project
/// registers its implementation and validates its own options (<c>AddPostgresSource</c>, <c>AddSqlServerSource</c>).
/// </summary>
public interface IOutboxSource
{
    /// <summary>
    /// Checks the source's prerequisites and provisions what is missing (for PostgreSQL: publication and slot), and
    /// returns what the next <see cref="OpenAsync"/> needs to know. Throws <see cref="RelayConfigurationException"/> for
    /// problems a restart cannot fix.
    /// </summary>
    Task<SourcePlan> PrepareAsync(CancellationToken cancellationToken);

    /// <summary>Opens a stream, as prepared by <paramref name="plan"/>, that starts right after the last confirmed position.</summary>
    Task<IOutboxStream> OpenAsync(SourcePlan plan, CancellationToken cancellationToken);

    /// <summary>Checks every prerequisite without changing anything, for <c>relay check</c>.</summary>
    Task<IReadOnlyList<PreflightCheck>> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>
/// What <see cref="IOutboxSource.PrepareAsync"/> found and decided (e.g. column types, value format, start position),
/// handed to <see cref="IOutboxSource.OpenAsync"/> of the same source: nothing is left in the source's fields.
/// </summary>
public abstract record SourcePlan;

/// <summary>How positions are shown to an operator (in errors, logs and dead-letter headers).</summary>
public interface IPositionFormatter
{
    /// <summary>Formats a position the way the database's own tools print it (e.g. <c>0/16B3748</c>).</summary>
    string Format(SourcePosition position);

    /// <summary>
    /// How an operator skips the transaction at <paramref name="position"/> (a row that cannot be published), e.g. the
    /// exact statement to run; null when the source has no such step.
    /// </summary>
    string? DescribeSkip(SourcePosition position) => null;
}

/// <summary>One connected session of a source: read changes, confirm positions.</summary>
public interface IOutboxStream : IPositionFormatter, IAsyncDisposable
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
}

/// <summary>Receives a stream's changes, in log order.</summary>
public interface IOutboxSink
{
    /// <summary>An inserted outbox row. May wait (backpressure) before returning.</summary>
    ValueTask OnRowAsync(OutboxRow row, CancellationToken cancellationToken);

    /// <summary>
    /// The end of a transaction that committed at <paramref name="committedAt"/> (UTC): once its rows are acknowledged,
    /// <paramref name="position"/> may be confirmed. The commit time feeds the source-neutral lag (seconds behind).
    /// </summary>
    ValueTask OnCommitAsync(SourcePosition position, DateTime committedAt, CancellationToken cancellationToken);
}
