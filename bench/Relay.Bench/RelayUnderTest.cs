using System.Diagnostics;
using System.Globalization;
using Relay.DevServices;

namespace Relay.Bench;

/// <summary>
/// A relay under test (Relay or the naive reference) as its own process, with its CPU, threads and memory read from /proc.
/// </summary>
sealed class RelayUnderTest : IAsyncDisposable
{
    readonly Process _process;
    readonly List<string> _lines = [];
    readonly List<long> _rssKiB = [];
    readonly Timer _sampler;

    RelayUnderTest(RelayKind kind, Process process)
    {
        Kind = kind;
        _process = process;
        _sampler = new Timer(_ => Sample(), null, 100, 100);
    }

    public RelayKind Kind { get; }
    public int Pid => _process.Id;
    /// <summary>Started just before the process.</summary>
    public Stopwatch Since { get; } = new();

    /// <summary>
    /// Relay as the image runs it (the Native AOT executable bench/run.sh publishes, or <c>dotnet Relay.dll</c>) with the
    /// sample configuration (appsettings.json: linger.ms 5, lz4) and the image's MALLOC_ARENA_MAX, or the naive relay with
    /// the same compression.
    /// </summary>
    public static RelayUnderTest Start(RelayKind kind, BenchSettings settings, Database db, string bootstrap, string slot, string topic)
    {
        var root = Tools.RepositoryRoot();
        ProcessStartInfo start;
        if (kind == RelayKind.Relay)
        {
            // An executable (--relay path/to/Relay: Native AOT, or a self-contained build) runs as it is.
            start = settings.RelayDll.EndsWith(".dll", StringComparison.Ordinal)
                ? new ProcessStartInfo("dotnet", [settings.RelayDll])
                : new ProcessStartInfo(settings.RelayDll);
            start.Environment["RELAY_CONFIG"] = Path.Combine(root, "appsettings.json");
            start.Environment["Relay__Postgres__ConnectionString"] = db.ConnectionString;
            start.Environment["Relay__Postgres__SlotName"] = slot;
            start.Environment["Relay__Postgres__PublicationName"] = "bench_pub";
            start.Environment["Relay__Outbox__Tables__0__Table"] = "public.outbox";
            start.Environment["Relay__Outbox__Tables__0__Topic"] = topic;
            start.Environment["Relay__Kafka__BootstrapServers"] = bootstrap;
            start.Environment["Relay__Diagnostics__Port"] = PostgresCluster.FreePort().ToString(CultureInfo.InvariantCulture);
            start.Environment["Relay__Diagnostics__Address"] = "127.0.0.1";
            start.Environment["MALLOC_ARENA_MAX"] = "2";   // as the container image sets it (Dockerfile)
            foreach (var (key, value) in settings.RelaySettings.Concat(settings.RelayEnvironment))
                start.Environment[key] = value;
        }
        else
        {
            start = new ProcessStartInfo("dotnet", [settings.NaiveDll, "--connection", db.ConnectionString, "--slot", slot,
                "--publication", "bench_pub", "--topic", topic, "--bootstrap", bootstrap, "--set", "compression.type=lz4"]);
        }
        start.WorkingDirectory = root;
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        var relay = new RelayUnderTest(kind, new Process { StartInfo = start });
        relay.Since.Start();
        relay._process.Start();
        relay._process.OutputDataReceived += (_, e) => relay.Keep(e.Data);
        relay._process.ErrorDataReceived += (_, e) => relay.Keep(e.Data);
        relay._process.BeginOutputReadLine();
        relay._process.BeginErrorReadLine();
        return relay;
    }

    void Keep(string? line)
    {
        if (line is not null)
            lock (_lines) _lines.Add(line);
    }

    public string Output { get { lock (_lines) return string.Join('\n', _lines.TakeLast(40)); } }

    void Sample()
    {
        try
        {
            var rss = ProcessCpu.Status(_process.Id, "VmRSS");
            lock (_rssKiB) _rssKiB.Add(rss);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException) { }
    }

    // Memory in MB (10^6 bytes), the unit of issue 15's goals.
    public long[] RssSamplesMB() { lock (_rssKiB) return _rssKiB.Select(ToMB).ToArray(); }
    public void ResetRssSamples() { lock (_rssKiB) _rssKiB.Clear(); }
    public long PeakRssMB() => ToMB(ProcessCpu.Status(_process.Id, "VmHWM"));
    public long RssMB() => ToMB(ProcessCpu.Status(_process.Id, "VmRSS"));
    public Memory Memory() => new(RssMB(), ToMB(ProcessCpu.Status(_process.Id, "RssAnon")), ToMB(ProcessCpu.Status(_process.Id, "RssFile")),
        ToMB(ProcessCpu.Status(_process.Id, "RssShmem")));
    static long ToMB(long kiB) => (long)Math.Round(kiB * 1024 / 1e6);
    public int Threads() => (int)ProcessCpu.Status(_process.Id, "Threads");

    /// <summary>User + system CPU seconds of the process so far (its exited threads included).</summary>
    public double CpuSeconds() => ProcessCpu.Seconds(_process.Id) ?? throw new InvalidOperationException($"The {Kind} process has exited:\n{Output}");

    /// <summary>Process start → the server shows the relay's slot active (polled every 5 ms).</summary>
    public async Task<TimeSpan> WaitForSlotActiveAsync(Database db, string slot) =>
        await Tools.WaitUntilAsync(async () => !_process.HasExited ? await db.SlotActiveAsync(slot)
                : throw new InvalidOperationException($"The {Kind} process exited:\n{Output}"),
            TimeSpan.FromSeconds(60), Since, $"{Kind} to start streaming from slot {slot}", pollMs: 5);

    public Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        Tools.WaitUntilAsync(async () => !_process.HasExited ? await condition()
            : throw new InvalidOperationException($"The {Kind} process exited:\n{Output}"), timeout, Since, what);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await _process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { _process.Kill(); }
        }
        await _sampler.DisposeAsync();
        _process.Dispose();
    }
}
