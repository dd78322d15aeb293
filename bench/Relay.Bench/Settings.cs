using System.Diagnostics;

namespace Relay.Bench;

/// <summary>The relays a run measures: Relay itself and the naive reference (bench/NaiveRelay).</summary>
enum RelayKind { Relay, Naive }

sealed record BenchSettings(
    int Rows, int Rate, int LatencySeconds, int LatencyRuns, int BurstSeconds, int IdleSeconds, int SettleSeconds, bool IdleOnly, string[] Workloads, int LivePartitions, int BigTransactionMiB,
    string RelayDll, string NaiveDll, string ResultsDirectory, RelayKind[] Relays, string? Note,
    Dictionary<string, string> RelaySettings, Dictionary<string, string> RelayEnvironment)
{
    public static BenchSettings Parse(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        Dictionary<string, string> Pairs(string option, Func<string, string> key) => args.Select((a, i) => (a, i))
            .Where(p => p.a == option && p.i + 1 < args.Length).Select(p => args[p.i + 1].Split('=', 2))
            .ToDictionary(kv => key(kv[0]), kv => kv.Length > 1 ? kv[1] : "");
        var root = Tools.RepositoryRoot();
        return new BenchSettings(
            int.Parse(Arg("--rows", "1000000")),
            int.Parse(Arg("--rate", "1000")),
            int.Parse(Arg("--latency-seconds", "20")),
            int.Parse(Arg("--latency-runs", "2")),
            int.Parse(Arg("--burst-seconds", "20")),
            int.Parse(Arg("--idle-seconds", "60")),
            int.Parse(Arg("--settle-seconds", "30")),
            args.Contains("--idle-only"),
            Arg("--workloads", "paced,burst1,burst4").Split(','),
            int.Parse(Arg("--partitions", "12")),
            int.Parse(Arg("--big-tx-mib", "1024")),
            Path.GetFullPath(Arg("--relay", Path.Combine(root, "src/Relay/bin/Release/net10.0/Relay.dll"))),
            Path.GetFullPath(Arg("--naive", Path.Combine(root, "bench/NaiveRelay/bin/Release/net10.0/NaiveRelay.dll"))),
            Path.GetFullPath(Arg("--results", Path.Combine(root, "bench/results"))),
            Arg("--only", "relay,naive").Split(',').Select(k => Enum.Parse<RelayKind>(k, ignoreCase: true)).ToArray(),
            Arg("--note", "") is { Length: > 0 } note ? note : null,
            // --set Relay:Kafka:Producer:linger.ms=5 configures the relay under test (as environment variables).
            Pairs("--set", k => k.Replace(":", "__")),
            // --env DOTNET_GCgen0size=0x400000 sets an environment variable of the relay under test's process.
            Pairs("--env", k => k));
    }

    public string Describe(RelayKind kind) => kind == RelayKind.Relay ? "Relay" : "naive relay";
}

static class Tools
{
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Relay.sln")))
                return directory.FullName;
        throw new InvalidOperationException("Run from inside the repository.");
    }

    public static async Task<string> RunAsync(string program, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(program)} failed: {await error}");
        return await output + await error;
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="pollMs"/> ms; the time it first held, from <paramref name="since"/>.</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Stopwatch since, string what, int pollMs = 50)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (await condition())
                return since.Elapsed;
            await Task.Delay(pollMs);
        }
        throw new TimeoutException($"Timed out after {timeout}: {what}.");
    }
}
