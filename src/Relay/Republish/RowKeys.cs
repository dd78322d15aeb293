using Relay.Core;

namespace Relay.Republish;

/// <summary>
/// The key of each row a run has sent (its position is its ordinal in the run), kept while it can be needed: rows in
/// flight (an error or a dead letter names them) and the newest row that, with all before it, Kafka acknowledged (where
/// a resumed run starts). Memory stays bounded by the in-flight window.
/// </summary>
sealed class RowKeys
{
    readonly object _gate = new();
    readonly Queue<(long Ordinal, RowKey Key)> _pending = new();
    (long Ordinal, RowKey Key)? _acknowledged;

    public void Add(long ordinal, RowKey key)
    {
        lock (_gate)
            _pending.Enqueue((ordinal, key));
    }

    /// <summary>Every row up to <paramref name="ordinal"/> is acknowledged: forgets them, keeping the last one's key.</summary>
    public RowKey? AcknowledgedUpTo(long ordinal)
    {
        lock (_gate)
        {
            while (_pending.Count > 0 && _pending.Peek().Ordinal <= ordinal)
                _acknowledged = _pending.Dequeue();
            return _acknowledged?.Key;
        }
    }

    /// <summary>The key of a row still kept, or null.</summary>
    public RowKey? Find(long ordinal)
    {
        lock (_gate)
        {
            if (_acknowledged is { } acknowledged && acknowledged.Ordinal == ordinal)
                return acknowledged.Key;
            foreach (var (kept, key) in _pending)
            {
                if (kept == ordinal)
                    return key;
            }
            return null;
        }
    }
}
