using System.Collections;
using System.Collections.Concurrent;

namespace Relay.Testing;

/// <summary>The log events a relay wrote so far (thread-safe: the relay adds while a test reads and waits).</summary>
public sealed class LogEvents : IReadOnlyCollection<LogEvent>
{
    readonly ConcurrentQueue<LogEvent> _events = new();

    public void Add(LogEvent logEvent) => _events.Enqueue(logEvent);

    public int Count => _events.Count;

    /// <summary>How many events with this id were logged.</summary>
    public int CountOf(int id) => _events.Count(e => e.Id == id);

    public bool Has(int id) => _events.Any(e => e.Id == id);

    /// <summary>The events with this id, in the order logged.</summary>
    public IReadOnlyList<LogEvent> WithId(int id) => _events.Where(e => e.Id == id).ToList();

    /// <summary>Waits until at least <paramref name="count"/> events with this id were logged; false on timeout or when <paramref name="givenUp"/> says so (e.g. the process exited).</summary>
    public Task<bool> WaitForAsync(int id, TimeSpan timeout, int count = 1, Func<bool>? givenUp = null, CancellationToken cancellationToken = default) =>
        Eventually.WaitUntilAsync(() => CountOf(id) >= count, timeout, givenUp: givenUp, cancellationToken: cancellationToken);

    public IEnumerator<LogEvent> GetEnumerator() => _events.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
