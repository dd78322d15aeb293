using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Relay.DevServices;

namespace Relay.Bench;

sealed record BenchSettings(int Rows, int[] Rates, int LatencySeconds, int LatencyRuns, int BigTransactionMiB, string RelayDll,
    string ResultsDirectory, Dictionary<string, string> Extra)
{
    public static BenchSettings Parse(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var root = Tools.RepositoryRoot();
        // --set Relay:Pipeline:MaxInFlightMessages=20000 passes settings to the relay under test.
        var extra = args.Select((a, i) => (a, i)).Where(p => p.a == "--set" && p.i + 1 < args.Length)
            .Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(kv => kv[0].Replace(":", "__"), kv => kv[1]);
        return new BenchSettings(
            int.Parse(Arg("--rows", "1000000")),
            Arg("--rates", "1000,5000").Split(',').Select(int.Parse).ToArray(),
            int.Parse(Arg("--latency-seconds", "20")),
            int.Parse(Arg("--latency-runs", "3")),
            int.Parse(Arg("--big-tx-mib", "1024")),
            Path.GetFullPath(Arg("--relay", Path.Combine(root, "src/Relay/bin/Release/net10.0/Relay.dll"))),
            Path.Combine(root, "bench/results"),
            extra);
    }
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
}

sealed class Database(string name, string connectionString)
{
    public string Name { get; } = name;
    public string ConnectionString { get; } = connectionString;
    public string Host => new NpgsqlConnectionStringBuilder(ConnectionString).Host!;
    public int Port => new NpgsqlConnectionStringBuilder(ConnectionString).Port;

    public static async Task<Database> CreateAsync(string server, string name)
    {
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new Database(name, new NpgsqlConnectionStringBuilder(server) { Database = name, CommandTimeout = 0 }.ConnectionString);
    }

    public async Task ExecAsync(string sql, int timeoutSeconds = 300)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = timeoutSeconds };
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task<int?> SlotPidAsync(string slot) =>
        await ScalarAsync<object>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'") as int?;

    public async Task<bool> ConfirmedAsync(string slot, string lsn) =>
        await ScalarAsync<bool>($"SELECT confirmed_flush_lsn >= '{lsn}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'");
}

/// <summary>What one drain cost: wall time, and CPU seconds of the client and of the server's walsender.</summary>
sealed record DrainCost(TimeSpan Elapsed, double ClientCpuSeconds, double WalsenderCpuSeconds);

/// <summary>pg_recvlogical with pgoutput on its own slot, draining the same WAL to /dev/null up to the same end.</summary>
static class Baseline
{
    public static async Task<DrainCost> RunAsync(string pgBin, Database db, string slot, string end)
    {
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(new ProcessStartInfo(Path.Combine(pgBin, "pg_recvlogical"),
            $"-h {db.Host} -p {db.Port} -U postgres -d {db.Name} --slot {slot} --start --endpos {end} --no-loop " +
            "-o proto_version=1 -o publication_names=bench_pub -f /dev/null") { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        // Both processes end with the drain: keep their last CPU reading (sampled every 50 ms).
        double client = 0, walsender = 0;
        int? walsenderPid = null;
        while (!process.HasExited)
        {
            client = ProcessCpu.Seconds(process.Id) ?? client;
            walsenderPid ??= await db.SlotPidAsync(slot);
            if (walsenderPid is { } pid)
                walsender = ProcessCpu.Seconds(pid) ?? walsender;
            await Task.Delay(50);
        }
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_recvlogical failed: {await error}");
        return new DrainCost(watch.Elapsed, client, walsender);
    }
}

/// <summary>User + system CPU seconds of a process (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).</summary>
static class ProcessCpu
{
    public static double? Seconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return null;   // gone, or a server on another machine
        }
    }
}

/// <summary>The relay under test as its own process, with its CPU time and memory read from /proc.</summary>
sealed class RelayProcess
{
    readonly Process _process;
    readonly Stopwatch _since = Stopwatch.StartNew();
    readonly List<string> _lines = [];
    readonly List<long> _rssKiB = [];
    readonly Timer _sampler;
    public int MetricsPort { get; }

    RelayProcess(Process process, int metricsPort)
    {
        _process = process;
        MetricsPort = metricsPort;
        _sampler = new Timer(_ => Sample(), null, 100, 100);
    }

    public static RelayProcess Start(string relayDll, string connectionString, string bootstrap, string slot, string publication, string topic,
        IReadOnlyDictionary<string, string> extra)
    {
        var port = PostgresCluster.FreePort();
        var start = new ProcessStartInfo("dotnet", [relayDll]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["Relay__Postgres__ConnectionString"] = connectionString;
        start.Environment["Relay__Postgres__SlotName"] = slot;
        start.Environment["Relay__Postgres__PublicationName"] = publication;
        start.Environment["Relay__Outbox__Tables__0__Table"] = "public.outbox";
        start.Environment["Relay__Outbox__Tables__0__Topic"] = topic;
        start.Environment["Relay__Kafka__BootstrapServers"] = bootstrap;
        start.Environment["Relay__Diagnostics__Port"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["Relay__Diagnostics__Address"] = "127.0.0.1";
        start.Environment["MALLOC_ARENA_MAX"] = "2";   // as the container image sets it (Dockerfile)
        foreach (var (key, value) in extra)
            start.Environment[key] = value;
        var process = Process.Start(start)!;
        var relay = new RelayProcess(process, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (relay._lines) relay._lines.Add(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (relay._lines) relay._lines.Add(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return relay;
    }

    void Sample()
    {
        try
        {
            var rss = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            lock (_rssKiB) _rssKiB.Add(long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException) { }
    }

    public long[] RssSamplesMiB() { lock (_rssKiB) return _rssKiB.Select(k => k / 1024).ToArray(); }
    public void ResetRssSamples() { lock (_rssKiB) _rssKiB.Clear(); }

    public long PeakRssMiB() =>
        long.Parse(File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;

    /// <summary>User + system CPU seconds of the process so far.</summary>
    public double CpuSeconds() => ProcessCpu.Seconds(_process.Id) ?? throw new InvalidOperationException("The relay has exited.");

    public async Task<TimeSpan> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_lines)
                if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
                    return _since.Elapsed;
            if (_process.HasExited)
                break;
            await Task.Delay(5);
        }
        lock (_lines)
            throw new TimeoutException($"The relay did not log '{text}'. Its output:\n{string.Join('\n', _lines)}");
    }

    public async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
                return _since.Elapsed;
            await Task.Delay(50);
        }
        throw new TimeoutException("The relay did not finish in time.");
    }

    public async Task<Histogram> HistogramAsync(string name)
    {
        using var http = new HttpClient();
        return Histogram.Parse(await http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics"), name);
    }

    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        await _sampler.DisposeAsync();
    }
}

/// <summary>A Prometheus histogram's cumulative buckets; quantiles by linear interpolation inside the bucket.</summary>
sealed record Histogram(IReadOnlyList<(double UpperBound, double Count)> Buckets)
{
    public double Count => Buckets.Count == 0 ? 0 : Buckets[^1].Count;

    public static Histogram Parse(string text, string name)
    {
        var buckets = new List<(double, double)>();
        foreach (var line in text.Split('\n').Where(l => l.StartsWith(name + "_bucket{le=\"", StringComparison.Ordinal)))
        {
            var le = line[(line.IndexOf('"') + 1)..line.LastIndexOf('"')];
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            buckets.Add((bound, double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)));
        }
        return new Histogram(buckets);
    }

    public static Histogram Delta(Histogram before, Histogram after) =>
        new(after.Buckets.Select((b, i) => (b.UpperBound, b.Count - (i < before.Buckets.Count ? before.Buckets[i].Count : 0))).ToList());

    public double Quantile(double q)
    {
        var target = q * Count;
        var (lower, below) = (0.0, 0.0);
        foreach (var (upper, cumulative) in Buckets)
        {
            if (cumulative >= target && cumulative > below)
                return double.IsInfinity(upper) ? lower : lower + (upper - lower) * (target - below) / (cumulative - below);
            (lower, below) = (upper, cumulative);
        }
        return lower;
    }
}

/// <summary>
/// Counts the messages of one topic as they arrive, and nothing else: keys, values and headers are not copied out of
/// librdkafka (the measuring consumer shares the machine with what it measures, so it should cost as little as it can).
/// </summary>
sealed class DeliveryCounter : IDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly Thread _thread;
    long _count;

    public DeliveryCounter(string bootstrapServers, string topic, int partitions)
    {
        _thread = new Thread(() => Run(bootstrapServers, topic, partitions)) { IsBackground = true, Name = "delivery-counter" };
        _thread.Start();
    }

    public long Count => Interlocked.Read(ref _count);

    void Run(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new Confluent.Kafka.ConsumerBuilder<Confluent.Kafka.Ignore, Confluent.Kafka.Ignore>(new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "relay-bench-counter-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = Confluent.Kafka.AutoOffsetReset.Earliest,
            FetchWaitMaxMs = 100,
            ConsumeResultFields = "none",
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new Confluent.Kafka.TopicPartitionOffset(topic, p, Confluent.Kafka.Offset.Beginning)));
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false })
                    Interlocked.Increment(ref _count);
            }
            catch (Confluent.Kafka.ConsumeException)
            {
            }
        }
        consumer.Close();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
