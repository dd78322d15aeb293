using System.Diagnostics;
using Relay.DevServices;

namespace Relay.Bench;

/// <summary>One relay started on a slot with the preloaded backlog, timed until a consumer has every message and the slot is confirmed.</summary>
sealed class DrainPhase(BenchSettings settings, Database db, string bootstrap, KafkaMockCluster? mock, MachineLoad load, string end)
{
    public const int Partitions = 128;   // the mock keeps 5 MiB per partition: enough room for the whole drain

    public async Task<DrainResult> RunAsync(RelayKind kind)
    {
        var slot = $"{kind.ToString().ToLowerInvariant()}_drain";
        var topic = $"bench.drain.{kind.ToString().ToLowerInvariant()}";
        mock?.CreateTopic(topic, Partitions);
        using var counter = new DeliveryCounter(bootstrap, topic, Partitions);
        mock?.TakeRequestCounts();
        var mark = load.Now();
        var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        await using var relay = RelayUnderTest.Start(kind, settings, db, bootstrap, slot, topic);
        var active = await relay.WaitForSlotActiveAsync(db, slot);
        var drained = await relay.WaitUntilAsync(async () => counter.Count >= settings.Rows && await db.ConfirmedAsync(slot, end),
            TimeSpan.FromMinutes(30), $"{kind} to drain {settings.Rows:N0} rows");
        var cpu = relay.CpuSeconds();
        var threads = ThreadProfile.Diff([], ThreadProfile.Take(relay.Pid), cpu);
        // This process hosts the mock brokers and the counting consumer: the Kafka side's share of the machine.
        var kafkaSide = (Process.GetCurrentProcess().TotalProcessorTime - benchCpuBefore).TotalSeconds;
        var walsender = await db.SlotPidAsync(slot) is { } walsenderPid ? ProcessCpu.Seconds(walsenderPid) ?? 0 : 0;
        var rss = relay.RssSamplesMB();
        var produceRequests = mock?.TakeRequestCounts().Where(r => r.Key.ApiKey == 0).Sum(r => r.Value) ?? 0;
        var result = new DrainResult(kind, drained, active, cpu, walsender, kafkaSide, relay.PeakRssMB(),
            rss.Length == 0 ? 0 : rss.Order().ElementAt(rss.Length / 2), counter.Count, produceRequests, threads, load.OthersShare(mark));
        Console.WriteLine($"{kind} drain: {drained.TotalSeconds:F2} s from process start ({settings.Rows / drained.TotalSeconds:N0} rows/s), slot active after " +
            $"{active.TotalMilliseconds:F0} ms, CPU {cpu:F2} s ({cpu * 1e6 / settings.Rows:F1} µs/event), walsender {walsender:F2} s, peak RSS {result.PeakRssMB} MB, " +
            $"{(produceRequests == 0 ? 0 : (double)settings.Rows / produceRequests):F0} messages/produce request");
        return result;
    }
}
