namespace Relay.Pipeline;

/// <summary>
/// Tells a Kafka stall (messages wait, nothing is acknowledged for <paramref name="warnAfter"/>) and its end, from the
/// times it is shown: no clock of its own, so the rule is tested without waiting.
/// </summary>
sealed class StallWatch(TimeSpan warnAfter, TimeSpan repeatEvery)
{
    DateTimeOffset? _since;
    DateTimeOffset? _lastWarning;

    /// <summary>What to say now: a stall (repeated every so often while it lasts), its end, or nothing.</summary>
    public StallNews Observe(DateTimeOffset now, int inFlight, DateTimeOffset lastAcknowledged)
    {
        var stalled = inFlight > 0 && now - lastAcknowledged >= warnAfter;
        if (stalled)
        {
            if (_lastWarning is { } last && now - last < repeatEvery)
                return StallNews.None;
            _since ??= lastAcknowledged;
            _lastWarning = now;
            return new StallNews(StallNewsKind.Stalled, now - _since.Value);
        }
        if (_since is not { } since)
            return StallNews.None;
        (_since, _lastWarning) = (null, null);
        return new StallNews(StallNewsKind.Resumed, lastAcknowledged - since);
    }
}

public enum StallNewsKind { None, Stalled, Resumed }

/// <summary>A stall to warn about (how long so far), or its end (how long it lasted).</summary>
public readonly record struct StallNews(StallNewsKind Kind, TimeSpan Duration)
{
    public static readonly StallNews None = default;
}
