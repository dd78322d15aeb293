using System.Diagnostics;
using System.Globalization;
using Relay.DevServices;

namespace Relay.Bench;

/// <summary>
/// One relay, started fresh on a new slot: start → slot active, its idle cost, then the live workloads, each measured
/// from commit (the database's commit timestamp) to first receipt by a live consumer.
/// </summary>
sealed class LivePhase(BenchSettings settings, Database db, string pgBin, string bootstrap, KafkaMockCluster? mock, MachineLoad load,
    bool commitTimestamps)
{
    public async Task<(IdleResult Idle, List<LiveResult> Runs)> RunAsync(RelayKind kind)
    {
        var slot = $"live_{kind.ToString().ToLowerInvariant()}";
        var topic = $"bench.live.{kind.ToString().ToLowerInvariant()}";
        mock?.CreateTopic(topic, settings.LivePartitions);
        await db.ExecAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        await using var relay = RelayUnderTest.Start(kind, settings, db, bootstrap, slot, topic);
        var active = await relay.WaitForSlotActiveAsync(db, slot);
        Console.WriteLine($"{kind}: start → slot active {active.TotalMilliseconds:F0} ms");
        await Task.Delay(TimeSpan.FromSeconds(10));
        var fresh = relay.Memory();

        if (settings.IdleOnly)
            return (await IdleAsync(relay, active, fresh), []);
        using var consumer = new LiveConsumer(bootstrap, topic, settings.LivePartitions);
        var single = await Script("single", "INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'key-' || (random() * 1000)::int, 'OrderCreated', " +
            "'{\"orderId\": 1, \"customer\": \"customer-1\", \"total\": 42, \"currency\": \"EUR\", \"lines\": 3, \"note\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}');");
        var hundred = await Script("hundred", "INSERT INTO outbox (aggregatetype, aggregateid, type, payload) SELECT 'Order', 'key-' || (random() * 1000)::int, 'OrderCreated', " +
            "jsonb_build_object('orderId', g, 'customer', 'customer-' || (g % 97), 'total', (g * 7) % 1000, 'currency', 'EUR', 'lines', 3, 'note', repeat('x', 60)) FROM generate_series(1, 100) g;");
        string Pgbench(string script, int clients, int? rate, int seconds) =>
            $"-n -h {db.Host} -p {db.Port} -U postgres -c {clients} -j {Math.Min(clients, 2)}{(rate is { } r ? $" -R {r}" : "")} -T {seconds} -f {script} {db.Name}";

        // Warm-up, not measured: the first rows take the JIT's and the producer's first-use costs.
        await MeasureAsync(relay, consumer, "warm-up", 0, Pgbench(single, 4, settings.Rate, 5));
        var runs = new List<LiveResult>();
        for (var run = 1; run <= settings.LatencyRuns && settings.Workloads.Contains("paced"); run++)
            runs.Add(await MeasureAsync(relay, consumer, Workloads.Paced, run, Pgbench(single, 4, settings.Rate, settings.LatencySeconds)));
        if (settings.Workloads.Contains("burst1"))
            runs.Add(await MeasureAsync(relay, consumer, Workloads.OneWriter, 1, Pgbench(hundred, 1, null, settings.BurstSeconds)));
        if (settings.Workloads.Contains("burst4"))
            runs.Add(await MeasureAsync(relay, consumer, Workloads.FourWriters, 1, Pgbench(hundred, 4, null, settings.BurstSeconds)));
        consumer.Dispose();   // its fetches every millisecond are not the relay's idle cost
        return (await IdleAsync(relay, active, fresh), runs);
    }

    /// <summary>
    /// Idle as a sidecar is idle most of its life: after it has worked (the workloads), so that the JIT's tier-up of what
    /// runs every second — which goes on for minutes after a start — is not counted as idle cost.
    /// </summary>
    async Task<IdleResult> IdleAsync(RelayUnderTest relay, TimeSpan active, Memory fresh)
    {
        Console.WriteLine($"{relay.Kind}: idle for {settings.SettleSeconds + settings.IdleSeconds} s");
        await Task.Delay(TimeSpan.FromSeconds(settings.SettleSeconds));
        var mark = load.Now();
        var (cpu, threads) = (relay.CpuSeconds(), ThreadProfile.Take(relay.Pid));
        var watch = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(settings.IdleSeconds));
        var cpuAfter = relay.CpuSeconds();
        var costs = ThreadProfile.Diff(threads, ThreadProfile.Take(relay.Pid), cpuAfter - cpu);
        // An idle minute is a few hundred milliseconds of CPU: counted from the threads' nanoseconds, not 10 ms ticks.
        var idle = new IdleResult(relay.Kind, active, watch.Elapsed.TotalSeconds, ThreadProfile.CpuSeconds(costs), relay.Threads(), relay.Memory(), fresh, costs,
            load.OthersShare(mark));
        Console.WriteLine($"{relay.Kind} idle: {idle.CorePercent:F2}% of a core, {idle.SwitchesPerSecond:F1} context switches/s, {idle.Threads} threads, RSS {idle.Memory.RssMB} MB (fresh {fresh.RssMB} MB)");
        return idle;
    }

    async Task<LiveResult> MeasureAsync(RelayUnderTest relay, LiveConsumer consumer, string workload, int run, string pgbenchArguments)
    {
        await db.ExecAsync("TRUNCATE outbox");   // not published (publish = 'insert'): each run's rows are the table's rows
        consumer.Reset();
        mock?.TakeRequestCounts();
        relay.ResetRssSamples();
        var mark = load.Now();
        var (cpu, threads) = (relay.CpuSeconds(), ThreadProfile.Take(relay.Pid));
        var watch = Stopwatch.StartNew();
        var output = await Tools.RunAsync(Path.Combine(pgBin, "pgbench"), pgbenchArguments);
        var loadSeconds = watch.Elapsed.TotalSeconds;
        var rows = (int)await db.ScalarAsync<long>("SELECT count(*) FROM outbox");
        await relay.WaitUntilAsync(() => Task.FromResult(consumer.Distinct >= rows), TimeSpan.FromMinutes(5), $"{rows:N0} events received by the consumer");
        var cpuAfter = relay.CpuSeconds();
        var costs = ThreadProfile.Diff(threads, ThreadProfile.Take(relay.Pid), cpuAfter - cpu);
        var produceRequests = mock?.TakeRequestCounts().Where(r => r.Key.ApiKey == 0).Sum(r => r.Value) ?? 0;
        var others = load.OthersShare(mark);

        var latencies = new List<double>(rows);
        var missing = 0;
        foreach (var (id, committedAt) in await db.CommitTimesAsync(commitTimestamps))
        {
            if (consumer.TryGetReceipt(id, out var receivedAt))
                latencies.Add((receivedAt - committedAt.ToUniversalTime()).TotalMilliseconds);
            else
                missing++;
        }
        var rss = relay.RssSamplesMB();
        var result = new LiveResult(relay.Kind, workload, run, rows, loadSeconds, Latency.Of(latencies), missing, consumer.Messages - consumer.Distinct,
            cpuAfter - cpu, costs, produceRequests, rss.Length == 0 ? 0 : rss.Max(), others);
        var tps = output.Split('\n').FirstOrDefault(l => l.StartsWith("tps", StringComparison.Ordinal))?.Trim();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{relay.Kind} {workload} run {run}: {rows:N0} events ({result.EventsPerSecond:N0}/s), commit → receipt p50 {result.Latency.P50:F1} ms, " +
            $"p99 {result.Latency.P99:F1} ms, max {result.Latency.Max:F1} ms; {result.CpuMicrosPerEvent:F1} µs CPU/event, " +
            $"{result.MessagesPerRequest:F1} messages/produce request; others {others:P0} ({tps})"));
        return result;
    }

    async Task<string> Script(string name, string sql)
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-bench-{name}.sql");
        await File.WriteAllTextAsync(path, sql + "\n");
        return path;
    }
}
