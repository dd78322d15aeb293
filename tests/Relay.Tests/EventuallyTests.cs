using System.Diagnostics;
using Relay.Testing;

namespace Relay.Tests;

/// <summary>The tests' wait on a condition: true as soon as it holds, false at the timeout or when given up.</summary>
public class EventuallyTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task returns_true_once_the_condition_holds()
    {
        var checks = 0;
        Assert.True(await Eventually.WaitUntilAsync(() => ++checks >= 3, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(1), cancellationToken: Token));
        Assert.Equal(3, checks);
    }

    [Fact]
    public async Task returns_false_at_the_timeout_or_as_soon_as_it_is_given_up()
    {
        Assert.False(await Eventually.WaitUntilAsync(() => false, TimeSpan.FromMilliseconds(100), cancellationToken: Token));
        var waited = Stopwatch.StartNew();
        Assert.False(await Eventually.WaitUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(30), givenUp: () => true, cancellationToken: Token));
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10));
    }
}
