namespace Relay.Testing;

/// <summary>Waiting on a condition with a timeout, instead of sleeping for a time the condition is hoped to need.</summary>
public static class Eventually
{
    /// <summary>How often a condition is checked unless a caller says otherwise.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Checks <paramref name="condition"/> until it holds (true) or <paramref name="timeout"/> passes or
    /// <paramref name="givenUp"/> holds (false); the condition is checked once more at the end.
    /// </summary>
    public static Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, TimeSpan? poll = null, Func<bool>? givenUp = null,
        CancellationToken cancellationToken = default) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, poll, givenUp, cancellationToken);

    /// <inheritdoc cref="WaitUntilAsync(Func{bool}, TimeSpan, TimeSpan?, Func{bool}?, CancellationToken)"/>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, TimeSpan? poll = null, Func<bool>? givenUp = null,
        CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
                return true;
            if (givenUp?.Invoke() == true)
                break;
            await Task.Delay(poll ?? DefaultPoll, cancellationToken);
        }
        return await condition();
    }
}
