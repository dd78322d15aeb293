using System.Diagnostics.Metrics;

namespace Relay.Instrumentation;

/// <summary>One outbox table's counters, with its <c>table</c> tag made once.</summary>
public sealed class TableMetrics
{
    readonly Counter<long> _rowsReceived;
    readonly Counter<long> _published;
    readonly Counter<long> _deadLettered;
    readonly KeyValuePair<string, object?> _table;

    internal TableMetrics(string table, Counter<long> rowsReceived, Counter<long> published, Counter<long> deadLettered)
    {
        (_rowsReceived, _published, _deadLettered, _table) = (rowsReceived, published, deadLettered, new("table", table));
        // Exported from 0, so the first row or dead letter shows as an increase.
        rowsReceived.Add(0, _table);
        published.Add(0, _table);
        deadLettered.Add(0, _table);
    }

    public void RowReceived() => _rowsReceived.Add(1, _table);
    public void Published() => _published.Add(1, _table);
    public void DeadLettered()
    {
        _deadLettered.Add(1, _table);
        Interlocked.Increment(ref _deadLetteredCount);
    }

    /// <summary>Rows this process sent to the table's dead-letter topic (for summaries such as <c>relay republish</c>'s).</summary>
    public long DeadLetteredCount => Interlocked.Read(ref _deadLetteredCount);

    long _deadLetteredCount;
}
