namespace Relay.Core;

/// <summary>
/// One inserted outbox row, reduced to the columns its table's mapping needs. Values are raw bytes as stored: text
/// types as UTF-8, bytea as its bytes; <c>null</c> is SQL NULL.
/// </summary>
/// <remarks>
/// A source reuses one instance per stream: the row is only valid during <see cref="IOutboxSink.OnRowAsync"/>. The
/// sink must copy what it keeps (Confluent's Produce copies key, value and headers into librdkafka).
/// </remarks>
public sealed class OutboxRow
{
    public OutboxRow(int columnCount) => Values = new byte[]?[columnCount];

    /// <summary>The configured table this row belongs to.</summary>
    public OutboxTableMapping Table { get; set; } = null!;

    /// <summary>Position of the transaction the row was committed in (for dead-letter headers and logs).</summary>
    public SourcePosition Position { get; set; }

    /// <summary>When the row's transaction committed (for the commit-to-acknowledgement latency).</summary>
    public DateTime CommitTimestamp { get; set; }

    /// <summary>
    /// Why the source already knows this row cannot be published (e.g. a message whose content is not JSON), or null.
    /// The row's policy applies to it as to any row that cannot be published.
    /// </summary>
    public string? Problem { get; set; }

    /// <summary>Values ordered as <see cref="OutboxTableMapping.Columns"/>.</summary>
    public byte[]?[] Values { get; private set; }

    public byte[]? this[int column] => Values[column];

    /// <summary>Makes room for a table with more columns than the previous one.</summary>
    public void EnsureCapacity(int columnCount)
    {
        if (Values.Length < columnCount)
            Values = new byte[]?[columnCount];
    }
}
