namespace Relay.Pipeline;

/// <summary>
/// Exponential delays with ±20 % jitter between reconnection attempts, capped, and reset by a run that made progress:
/// a flap after a long healthy period reconnects fast, and a fleet of relays does not retry in step.
/// </summary>
sealed class Backoff(TimeSpan first, TimeSpan max)
{
    public int Attempt { get; private set; }

    public TimeSpan Next()
    {
        Attempt++;
        var delay = first * Math.Pow(2, Math.Min(Attempt, 16) - 1);
        var capped = delay < max ? delay : max;
        return capped * (0.8 + Random.Shared.NextDouble() * 0.4);
    }

    public void Reset() => Attempt = 0;
}
