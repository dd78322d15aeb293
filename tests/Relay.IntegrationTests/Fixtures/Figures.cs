namespace Relay.IntegrationTests.Fixtures;

/// <summary>
/// Figures a test measures (duplicates after crashes, drain times): written to the test output and appended to
/// <c>relay-test-figures.log</c> beside the tests, which the test script prints at the end of a run.
/// </summary>
static class Figures
{
    static readonly object Gate = new();

    public static void Report(string line)
    {
        var text = $"{TestContext.Current.Test?.TestDisplayName ?? "?"}: {line}";
        try { TestContext.Current.TestOutputHelper?.WriteLine(text); }
        catch (InvalidOperationException) { }
        lock (Gate)
            File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "relay-test-figures.log"), text + Environment.NewLine);
    }
}
