using Microsoft.Extensions.DependencyInjection;
using Relay.Instrumentation;

namespace Relay.Tests;

/// <summary>Relay's instruments on a meter factory of their own (nothing listens unless a test does).</summary>
static class TestMetrics
{
    public static RelayMetrics Create() =>
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
}
