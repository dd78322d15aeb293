using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.Bench;

/// <summary>The results, against the goals of issue 15, as markdown in bench/results/: Relay beside the naive relay.</summary>
sealed class Report(BenchSettings settings)
{
    readonly StringBuilder _header = new(), _summary = new(), _details = new();
    DrainResult? _relayDrain, _naiveDrain;
    double _baselineRowsPerSecond;
    List<LiveResult> _runs = [];
    List<IdleResult> _idles = [];
    string _loadAtStart = "";
    const string Naive = "naive relay";

    static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public void Environment(string pgBin, string loadAverage)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim();
        var memory = File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        _loadAtStart = loadAverage;
        _header.AppendLine(F($"# Relay benchmark — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC")).AppendLine()
            .AppendLine(F($"- Machine: {System.Environment.ProcessorCount} cores ({cpu}), {long.Parse(memory, CultureInfo.InvariantCulture) / 1024 / 1024} GiB, {RuntimeInformation.OSDescription}"))
            .AppendLine(F($"- .NET {System.Environment.Version}; PostgreSQL from {pgBin} (fsync on, track_commit_timestamp on); Kafka: librdkafka mock cluster (3 brokers) unless RELAY_BENCH_KAFKA; librdkafka {Confluent.Kafka.Library.VersionString}"))
            .AppendLine(F($"- Settings: drain {settings.Rows:N0} rows (100 per transaction, 1,000 keys, ~200-byte JSON, 128 partitions); live: {settings.Rate:N0} single-row tx/s × {settings.LatencySeconds} s × {settings.LatencyRuns} runs, 100 rows/tx unpaced with 1 and 4 writers × {settings.BurstSeconds} s ({settings.LivePartitions} partitions); idle {settings.IdleSeconds} s; large transaction {settings.BigTransactionMiB} MiB"))
            .AppendLine(F($"- Relay under test: {Path.GetRelativePath(Tools.RepositoryRoot(), settings.RelayDll)}{(settings.RelayDll.Contains("bench-relay", StringComparison.Ordinal) ? " (published Native AOT, as the container image)" : "")} with appsettings.json (linger.ms 5, lz4) and MALLOC_ARENA_MAX=2; overrides: {(settings.RelaySettings.Count + settings.RelayEnvironment.Count == 0 ? "none" : string.Join(", ", settings.RelaySettings.Concat(settings.RelayEnvironment).Select(e => $"{e.Key}={e.Value}")))}"))
            .AppendLine("- Naive relay: bench/NaiveRelay (Npgsql's pgoutput messages, text values, Produce with a delivery handler, linger.ms 5, idempotent, lz4 like Relay's sample configuration, id and type headers, the slot confirmed per transaction, no metrics)");
        if (settings.Note is not null)
            _header.AppendLine(F($"- Note: {settings.Note}"));
    }

    public void Load((double Average, double Busiest10s, double Steal) others, string loadAtEnd, TimeSpan took)
    {
        var busy = others.Average >= 0.05 || others.Busiest10s >= 0.25;
        _header.AppendLine(F($"- Machine load: {(busy ? "**a busy machine** — " : "")}other processes (outside the bench, the relays and the test server) used {others.Average:P0} of the cores on average, {others.Busiest10s:P0} in the busiest 10 s; steal {others.Steal:P1}; load average at start {_loadAtStart}, at end {loadAtEnd}. Each row below shows the others' share during it."))
            .AppendLine(F($"- Run time: {took.TotalMinutes:F1} min. Server, relays, mock brokers and consumers share the {System.Environment.ProcessorCount} cores: every figure includes that contention.")).AppendLine();
    }

    public void Drain(decimal walBytes, DrainCost before, DrainCost after, List<DrainResult> drains)
    {
        var rows = settings.Rows;
        _baselineRowsPerSecond = rows / ((before.Elapsed.TotalSeconds + after.Elapsed.TotalSeconds) / 2);
        _relayDrain = drains.FirstOrDefault(d => d.Kind == RelayKind.Relay);
        _naiveDrain = drains.FirstOrDefault(d => d.Kind == RelayKind.Naive);
        string PerEvent(double seconds) => F($"{seconds * 1e6 / rows:F1} µs ({seconds:F2} s)");
        _details.AppendLine("## Drain").AppendLine()
            .AppendLine(F($"{walBytes / 1024 / 1024:F0} MiB of WAL, {rows:N0} rows. pg_recvlogical (pgoutput to /dev/null) before / after: {before.Elapsed.TotalSeconds:F2} s / {after.Elapsed.TotalSeconds:F2} s = **{_baselineRowsPerSecond:N0} rows/s**; its own CPU {PerEvent(before.ClientCpuSeconds)} / {PerEvent(after.ClientCpuSeconds)}, its walsender's {PerEvent(before.WalsenderCpuSeconds)} / {PerEvent(after.WalsenderCpuSeconds)}.")).AppendLine()
            .AppendLine("| measure | " + string.Join(" | ", drains.Select(d => settings.Describe(d.Kind))) + " |")
            .AppendLine("|---|" + string.Concat(drains.Select(_ => "---|")))
            .AppendLine(Row("process start → all received by a consumer and the slot confirmed", drains, d => F($"{d.Elapsed.TotalSeconds:F2} s = {rows / d.Elapsed.TotalSeconds:N0} rows/s")))
            .AppendLine(Row("÷ pg_recvlogical (rows/s)", drains, d => F($"{rows / d.Elapsed.TotalSeconds / _baselineRowsPerSecond:F2}×")))
            .AppendLine(Row("relay CPU per event (user+sys, start-up included)", drains, d => PerEvent(d.CpuSeconds)))
            .AppendLine(Row("server walsender CPU per event", drains, d => PerEvent(d.WalsenderCpuSeconds)))
            .AppendLine(Row("Kafka side (mock brokers + counting consumer, bench process) per event", drains, d => PerEvent(d.KafkaSideCpuSeconds)))
            .AppendLine(Row("machine: relay + walsender + Kafka side", drains, d => F($"{d.CpuSeconds + d.WalsenderCpuSeconds + d.KafkaSideCpuSeconds:F1} of {d.Elapsed.TotalSeconds * System.Environment.ProcessorCount:F1} core-seconds")))
            .AppendLine(Row("messages per produce request (mock broker's count)", drains, d => Ratio(rows, d.ProduceRequests)))
            .AppendLine(Row("RSS: median / peak (VmHWM)", drains, d => F($"{d.MedianRssMB} / {d.PeakRssMB} MB")))
            .AppendLine(Row("process start → slot active", drains, d => F($"{d.SlotActive.TotalMilliseconds:F0} ms")))
            .AppendLine(Row("messages counted by a consumer", drains, d => F($"{d.Delivered:N0}")))
            .AppendLine(Row("other processes' share of the cores meanwhile", drains, d => F($"{d.OthersShare:P0}"))).AppendLine()
            .AppendLine("Relay CPU by thread over the drain (µs per event; context switches per event):").AppendLine();
        ThreadTable(drains.ToDictionary(d => d.Kind, d => (d.Threads, (double)rows)));
    }

    public void Live(List<LiveResult> runs, List<IdleResult> idles, bool commitTimestamps)
    {
        (_runs, _idles) = (runs, idles);
        _details.AppendLine("## Live workloads: commit → first receipt by a consumer").AppendLine()
            .AppendLine(commitTimestamps
                ? "Commit time: `pg_xact_commit_timestamp(xmin)` of each row (track_commit_timestamp), the timestamp PostgreSQL writes into the commit record just before flushing it (fsync on), so the flush is inside the figure as it is for the committing application. "
                : "Commit time: the row's `created_at` (`clock_timestamp()` at insert; track_commit_timestamp is off on this server), slightly before the commit. ")
            .AppendLine("Receipt: a Confluent.Kafka consumer in the bench process (fetch.wait.max.ms 1: the mock answers a waiting fetch only when that time is up) notes `DateTime.UtcNow` when an event id first arrives; same machine, same clock. " +
                "Quantiles are exact over all events of a run. CPU: the relay's user+sys from the load's start until the consumer has every event. Messages per produce request: events ÷ Produce requests counted by the mock brokers.").AppendLine()
            .AppendLine("| relay | workload | run | events | events/s | p50 | p99 | p99.9 | max | relay CPU/event | switches/event | messages/produce request | RSS max | others |")
            .AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in runs)
            _details.AppendLine(F($"| {settings.Describe(r.Kind)} | {r.Workload} | {r.Run} | {r.Events:N0}{(r.Missing > 0 ? $" ({r.Missing} missing)" : "")} | {r.EventsPerSecond:N0} | {r.Latency.P50:F1} ms | {r.Latency.P99:F1} ms | {r.Latency.P999:F1} ms | {r.Latency.Max:F1} ms | {r.CpuMicrosPerEvent:F1} µs | {(double)r.Switches / r.Events:F2} | {r.MessagesPerRequest:F1} | {r.MaxRssMB} MB | {r.OthersShare:P0} |"));
        _details.AppendLine();
        foreach (var workload in new[] { Workloads.Paced, Workloads.OneWriter, Workloads.FourWriters })
        {
            var first = runs.Where(r => r.Workload == workload && r.Run == 1).ToDictionary(r => r.Kind, r => (r.Threads, (double)r.Events));
            if (first.Count == 0)
                continue;
            _details.AppendLine(F($"CPU by thread, {workload} (run 1; µs per event; context switches per event):")).AppendLine();
            ThreadTable(first);
        }

        _details.AppendLine("## Idle: nothing to publish").AppendLine()
            .AppendLine(F($"The relay that ran the live workloads, {settings.SettleSeconds} s after the last of them, measured over {settings.IdleSeconds} s (no writes; the live consumer stopped); CPU from each thread's time on CPU in nanoseconds (/proc/PID/task/TID/schedstat). ") +
                "A fresh process would also count the JIT's tier-up of what runs every second, which goes on for minutes after a start. RSS split into anonymous memory (heaps), " +
                "file-backed pages (the runtime's, librdkafka's and the assemblies' code) and shared memory; \"fresh\": 10 s after the slot became active, before any row.").AppendLine()
            .AppendLine("| relay | CPU (% of a core) | context switches/s | threads | RSS: all = anonymous + file + shmem | RSS fresh | others |").AppendLine("|---|---|---|---|---|---|---|");
        foreach (var i in idles)
            _details.AppendLine(F($"| {settings.Describe(i.Kind)} | {i.CorePercent:F2}% | {i.SwitchesPerSecond:F1} | {i.Threads} | {i.Memory.RssMB} = {i.Memory.AnonMB} + {i.Memory.FileMB} + {i.Memory.ShmemMB} MB | {i.Fresh.RssMB} = {i.Fresh.AnonMB} + {i.Fresh.FileMB} + {i.Fresh.ShmemMB} MB | {i.OthersShare:P0} |"));
        _details.AppendLine().AppendLine("What wakes the idle process, by thread (wake-ups = context switches per second; CPU in ms per minute):").AppendLine()
            .AppendLine("| thread | " + string.Join(" | ", idles.Select(i => $"{settings.Describe(i.Kind)}: wake-ups/s | CPU ms/min")) + " |")
            .AppendLine("|---|" + string.Concat(idles.Select(_ => "---|---|")));
        foreach (var group in idles.SelectMany(i => i.ThreadCosts).Select(c => c.Group).Distinct())
            _details.AppendLine($"| {group} | " + string.Join(" | ", idles.Select(i => i.ThreadCosts.FirstOrDefault(c => c.Group == group) is { } c
                ? F($"{c.Switches / i.Seconds:F1} | {c.CpuSeconds * 1000 / i.Seconds * 60:F0}") : "| ")) + " |");
        _details.AppendLine();
    }

    public void BigTransaction(int mib, TimeSpan took, long peakMB) =>
        _details.AppendLine("## One large transaction (Relay)").AppendLine()
            .AppendLine(F($"~{mib} MiB in one transaction ({mib * 1024:N0} rows of ~1 KiB): relayed in {took.TotalSeconds:F1} s after its commit, peak RSS (VmHWM) {peakMB} MB (goal ≤ 268 MB = 256 MiB).")).AppendLine();

    void Summary()
    {
        LiveResult[] Runs(RelayKind kind, string workload) => _runs.Where(r => r.Kind == kind && r.Workload == workload).ToArray();
        IdleResult? Idle(RelayKind kind) => _idles.FirstOrDefault(i => i.Kind == kind);
        string Latencies(RelayKind kind, string workload) => Runs(kind, workload) is { Length: > 0 } runs
            ? string.Join(", ", runs.Select(r => F($"{r.Latency.P50:F1} / {r.Latency.P99:F1} ms"))) + F($" ({runs.Average(r => r.EventsPerSecond):N0} events/s)") : "—";
        string Cpu(RelayKind kind, string workload) => Runs(kind, workload) is { Length: > 0 } runs ? string.Join(", ", runs.Select(r => F($"{r.CpuMicrosPerEvent:F1} µs"))) : "—";
        string PerRequest(RelayKind kind) => string.Join(" / ", new[] { Workloads.Paced, Workloads.OneWriter, Workloads.FourWriters }
            .Select(w => Runs(kind, w).FirstOrDefault() is { } r ? F($"{r.MessagesPerRequest:F1}") : "—"));
        string DrainRate(DrainResult? d) => d is null ? "—" : F($"{settings.Rows / d.Elapsed.TotalSeconds:N0} ({settings.Rows / d.Elapsed.TotalSeconds / _baselineRowsPerSecond:F2}×)");
        string IdleText(IdleResult? i) => i is null ? "—" : F($"{i.CorePercent:F2}% / {i.SwitchesPerSecond:F0} / {i.Threads} / {i.Memory.RssMB} MB (fresh {i.Fresh.RssMB} MB)");

        _summary.AppendLine("## Summary (issue 15)").AppendLine()
            .AppendLine(F($"| workload | Relay | {Naive} | goal |")).AppendLine("|---|---|---|---|")
            .AppendLine(F($"| drain {settings.Rows:N0} rows (100 rows/tx) from a stop: rows/s (÷ pg_recvlogical, {_baselineRowsPerSecond:N0} rows/s) | {DrainRate(_relayDrain)} | {DrainRate(_naiveDrain)} | ≥ 1.0×, and ≥ naive |"))
            .AppendLine(F($"| relay CPU per event over that drain (start-up included) | {DrainCpu(_relayDrain)} | {DrainCpu(_naiveDrain)} | ≤ 8 µs |"))
            .AppendLine(F($"| peak RSS in that drain / start → slot active | {DrainMemory(_relayDrain)} | {DrainMemory(_naiveDrain)} | ≤ 80 MB / ≤ 0.5 s |"))
            .AppendLine(F($"| {Workloads.OneWriter}, fsync on: p50 / p99 commit → consumer receipt | {Latencies(RelayKind.Relay, Workloads.OneWriter)} | {Latencies(RelayKind.Naive, Workloads.OneWriter)} | p99 ≤ 50 ms |"))
            .AppendLine(F($"| same with 4 writers | {Latencies(RelayKind.Relay, Workloads.FourWriters)} | {Latencies(RelayKind.Naive, Workloads.FourWriters)} | p99 ≤ 100 ms |"))
            .AppendLine(F($"| relay CPU per event in the 1-writer run | {Cpu(RelayKind.Relay, Workloads.OneWriter)} | {Cpu(RelayKind.Naive, Workloads.OneWriter)} | ≤ 20 µs |"))
            .AppendLine(F($"| {settings.Rate:N0} single-row transactions/s: p50 / p99 commit → consumer receipt (each run) | {Latencies(RelayKind.Relay, Workloads.Paced)} | {Latencies(RelayKind.Naive, Workloads.Paced)} | p99 ≤ 10 ms |"))
            .AppendLine(F($"| relay CPU per event at {settings.Rate:N0} rows/s (each run) | {Cpu(RelayKind.Relay, Workloads.Paced)} | {Cpu(RelayKind.Naive, Workloads.Paced)} | ≤ 60 µs |"))
            .AppendLine(F($"| idle: % of a core / context switches/s / threads / RSS | {IdleText(Idle(RelayKind.Relay))} | {IdleText(Idle(RelayKind.Naive))} | ≤ 0.2% / — / — / ≤ 60 MB |"))
            .AppendLine(F($"| messages per produce request: drain | {DrainRequests(_relayDrain)} | {DrainRequests(_naiveDrain)} | |"))
            .AppendLine(F($"| messages per produce request: {settings.Rate:N0}/s / 1 writer / 4 writers | {PerRequest(RelayKind.Relay)} | {PerRequest(RelayKind.Naive)} | |"))
            .AppendLine();
    }

    string DrainCpu(DrainResult? d) => d is null ? "—" : F($"{d.CpuSeconds * 1e6 / settings.Rows:F1} µs");
    static string DrainMemory(DrainResult? d) => d is null ? "—" : F($"{d.PeakRssMB} MB / {d.SlotActive.TotalSeconds:F2} s");
    string DrainRequests(DrainResult? d) => d is null ? "—" : Ratio(settings.Rows, d.ProduceRequests);
    static string Ratio(double messages, int requests) => requests == 0 ? "n/a (not the mock)" : F($"{messages / requests:F1} ({requests:N0} requests)");

    static string Row<T>(string name, IEnumerable<T> items, Func<T, string> cell) => $"| {name} | " + string.Join(" | ", items.Select(cell)) + " |";

    void ThreadTable(Dictionary<RelayKind, (List<ThreadCost> Threads, double Events)> byKind)
    {
        var kinds = byKind.Keys.Order().ToArray();
        _details.AppendLine("| thread | " + string.Join(" | ", kinds.Select(k => $"{settings.Describe(k)}: CPU µs/event | switches/event | threads")) + " |")
            .AppendLine("|---|" + string.Concat(kinds.Select(_ => "---|---|---|")));
        var groups = kinds.SelectMany(k => byKind[k].Threads).GroupBy(t => t.Group).OrderByDescending(g => g.Max(t => t.CpuSeconds)).Select(g => g.Key);
        foreach (var group in groups)
            _details.AppendLine($"| {group} | " + string.Join(" | ", kinds.Select(k => byKind[k].Threads.FirstOrDefault(t => t.Group == group) is { } t
                ? F($"{t.CpuSeconds * 1e6 / byKind[k].Events:F1} | {t.Switches / byKind[k].Events:F2} | {t.Threads}") : "| | ")) + " |");
        _details.AppendLine("| **total** | " + string.Join(" | ", kinds.Select(k => F($"**{byKind[k].Threads.Sum(t => t.CpuSeconds) * 1e6 / byKind[k].Events:F1}** | {byKind[k].Threads.Sum(t => t.Switches) / byKind[k].Events:F2} | {byKind[k].Threads.Sum(t => t.Threads)}"))) + " |")
            .AppendLine();
    }

    public string Write()
    {
        Summary();
        var text = _header.ToString() + _summary + _details;
        Directory.CreateDirectory(settings.ResultsDirectory);
        var path = Path.Combine(settings.ResultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}-{System.Environment.MachineName}.md");
        File.WriteAllText(path, text);
        Console.WriteLine();
        Console.WriteLine(text);
        return path;
    }
}
