using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Bench;

/// <summary>The results, against the goals of issue 7, as markdown in bench/results/.</summary>
sealed class Report(BenchSettings settings)
{
    readonly StringBuilder _text = new();
    readonly List<(int Rate, int Run, Histogram Latency, Histogram InRelay)> _latencies = [];

    public void Environment(string server, string pgBin)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim();
        var memory = File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        _text.AppendLine(CultureInfo.InvariantCulture, $"# Relay benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"- Machine: {System.Environment.ProcessorCount} cores ({cpu}), {long.Parse(memory, CultureInfo.InvariantCulture) / 1024 / 1024} GiB, {RuntimeInformation.OSDescription}")
            .AppendLine(CultureInfo.InvariantCulture, $"- .NET {System.Environment.Version}; PostgreSQL from {pgBin}; Kafka: librdkafka mock cluster (3 brokers) unless RELAY_BENCH_KAFKA; librdkafka {Confluent.Kafka.Library.VersionString}")
            .AppendLine(CultureInfo.InvariantCulture, $"- Settings: rows {settings.Rows:N0} (100 per transaction, 1,000 keys, ~200-byte JSON), rates {string.Join("/", settings.Rates)} rows/s × {settings.LatencySeconds} s × {settings.LatencyRuns} runs, large transaction {settings.BigTransactionMiB} MiB; relay overrides: {(settings.Extra.Count == 0 ? "none (defaults)" : string.Join(", ", settings.Extra.Select(e => $"{e.Key}={e.Value}")))}")
            .AppendLine(CultureInfo.InvariantCulture, $"- Relay under test: {Path.GetRelativePath(Tools.RepositoryRoot(), settings.RelayDll)}{(settings.RelayDll.Contains("bench-relay", StringComparison.Ordinal) ? " (published ReadyToRun, as the container image)" : "")}")
            .AppendLine("- Server and relay share the 2 cores: every figure includes that contention.").AppendLine();
    }

    public void Drain(int rows, decimal walBytes, DrainCost before, DrainCost relay, TimeSpan relayFromStreaming, DrainCost after,
        long[] rssMiB, TimeSpan startup, long delivered, double kafkaSideCpuSeconds, bool mockInProcess)
    {
        var baseline = (before.Elapsed.TotalSeconds + after.Elapsed.TotalSeconds) / 2;
        var relayFromStart = relay.Elapsed;
        var cpuSeconds = relay.ClientCpuSeconds;
        var relayRate = rows / relayFromStart.TotalSeconds;
        string PerEvent(double seconds) => $"{seconds * 1e6 / rows:F1} µs ({seconds:F2} s)";
        _text.AppendLine("## Drain").AppendLine()
            .AppendLine("| measure | value | goal |").AppendLine("|---|---|---|")
            .AppendLine(CultureInfo.InvariantCulture, $"| WAL to decode | {walBytes / 1024 / 1024:F0} MiB, {rows:N0} rows | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| pg_recvlogical before / after | {before.Elapsed.TotalSeconds:F2} s / {after.Elapsed.TotalSeconds:F2} s ({rows / baseline:N0} rows/s) | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| relay, process start → all acknowledged and slot confirmed | {relayFromStart.TotalSeconds:F2} s ({relayRate:N0} rows/s); from streaming {relayFromStreaming.TotalSeconds:F2} s | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| relay ÷ baseline (rows/s) | {relayRate / (rows / baseline):F2}× | ≥ 1.0× |")
            .AppendLine(CultureInfo.InvariantCulture, $"| CPU per event (user+sys) | {PerEvent(cpuSeconds)} | ≤ 10 µs |")
            .AppendLine(CultureInfo.InvariantCulture, $"| server walsender CPU per event: relay's / pg_recvlogical's (before, after) | {PerEvent(relay.WalsenderCpuSeconds)} / {PerEvent(before.WalsenderCpuSeconds)}, {PerEvent(after.WalsenderCpuSeconds)} | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| pg_recvlogical's own CPU per event (before, after) | {PerEvent(before.ClientCpuSeconds)}, {PerEvent(after.ClientCpuSeconds)} | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| Kafka side during the relay's drain ({(mockInProcess ? "mock brokers + counting consumer" : "counting consumer")}, bench process) | {PerEvent(kafkaSideCpuSeconds)} | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| machine CPU used during the relay's drain: relay + walsender + Kafka side | {relay.ClientCpuSeconds + relay.WalsenderCpuSeconds + kafkaSideCpuSeconds:F1} s of {relayFromStart.TotalSeconds * System.Environment.ProcessorCount:F1} core-seconds | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| RSS during the drain: median / max | {Median(rssMiB)} / {(rssMiB.Length == 0 ? 0 : rssMiB.Max())} MiB | |")
            .AppendLine(CultureInfo.InvariantCulture, $"| start → streaming | {startup.TotalMilliseconds:F0} ms | ≤ 1 s |")
            .AppendLine(CultureInfo.InvariantCulture, $"| messages counted by a consumer during the run | {delivered:N0} | {rows:N0} |").AppendLine();
    }

    public void Latency(int rate, int run, Histogram latency, Histogram inRelay) => _latencies.Add((rate, run, latency, inRelay));

    public void SteadyRss(long[] rssMiB)
    {
        _text.AppendLine("## Latency: commit → broker acknowledgement (relay_commit_to_ack_seconds)").AppendLine()
            .AppendLine("| rate | run | events | p50 | p99 | p99.9 | in Relay + Kafka (receive → ack): p50 / p99 |").AppendLine("|---|---|---|---|---|---|---|");
        foreach (var (rate, run, h, r) in _latencies)
            _text.AppendLine(CultureInfo.InvariantCulture, $"| {rate}/s | {run} | {h.Count:N0} | {h.Quantile(0.5) * 1000:F1} ms | {h.Quantile(0.99) * 1000:F1} ms | {h.Quantile(0.999) * 1000:F1} ms | {r.Quantile(0.5) * 1000:F1} ms / {r.Quantile(0.99) * 1000:F1} ms |");
        foreach (var rate in _latencies.Select(l => l.Rate).Distinct())
        {
            var p99 = _latencies.Where(l => l.Rate == rate).Select(l => l.Latency.Quantile(0.99) * 1000).Order().ToArray();
            _text.AppendLine(CultureInfo.InvariantCulture, $"| {rate}/s | median of runs | | | **{p99[p99.Length / 2]:F1} ms** | | |");
        }
        _text.AppendLine().AppendLine("Goal: p99 ≤ 15 ms at 1,000 rows/s (median of ≥ 3 runs). Quantiles interpolate inside the histogram's buckets (1, 2.5, 5, 10, 15, 25, 50, 100 ms, …). " +
                "Before these runs the drain's consumer is stopped and the outbox table truncated and checkpointed (the autovacuum of the preloaded million rows is not relay latency).").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Steady RSS during the latency runs: median {Median(rssMiB)} MiB, max {(rssMiB.Length == 0 ? 0 : rssMiB.Max())} MiB (goal ≤ 100 MiB).").AppendLine();
    }

    public void BigTransaction(int mib, TimeSpan took, long peakMiB) =>
        _text.AppendLine("## One large transaction").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"~{mib} MiB in one transaction ({mib * 1024:N0} rows of ~1 KiB): relayed in {took.TotalSeconds:F1} s, peak RSS (VmHWM) {peakMiB} MiB (goal ≤ 256 MiB).").AppendLine();

    static long Median(long[] values) => values.Length == 0 ? 0 : values.Order().ElementAt(values.Length / 2);

    public string Write()
    {
        Directory.CreateDirectory(settings.ResultsDirectory);
        var path = Path.Combine(settings.ResultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}-{System.Environment.MachineName}.md");
        File.WriteAllText(path, _text.ToString());
        Console.WriteLine();
        Console.WriteLine(_text.ToString());
        return path;
    }
}
