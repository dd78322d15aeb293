namespace Relay.IntegrationTests.Fixtures;

/// <summary>Testcontainers when a Docker engine answers; null (quickly, ~1 s) when none does.</summary>
static class DockerProbe
{
    public static async Task<T?> TryAsync<T>(Func<Task<T>> start) where T : class
    {
        if (Environment.GetEnvironmentVariable("RELAY_TEST_NO_DOCKER") is "1" or "true")
            return null;
        try
        {
            return await start();
        }
        catch (Exception e) when (e.GetType().Name.Contains("Docker", StringComparison.Ordinal)
                                  || e.InnerException?.GetType().Name.Contains("Docker", StringComparison.Ordinal) == true)
        {
            return null;
        }
    }
}
