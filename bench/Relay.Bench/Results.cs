namespace Relay.Bench;

/// <summary>Commit → first receipt latencies of one run, in milliseconds.</summary>
sealed record Latency(int Count, double P50, double P99, double P999, double Max)
{
    public static Latency Of(List<double> milliseconds)
    {
        milliseconds.Sort();
        double At(double q) => milliseconds.Count == 0 ? double.NaN : milliseconds[Math.Min(milliseconds.Count - 1, (int)Math.Ceiling(q * milliseconds.Count) - 1)];
        return new Latency(milliseconds.Count, At(0.5), At(0.99), At(0.999), milliseconds.Count == 0 ? double.NaN : milliseconds[^1]);
    }
}

/// <summary>One relay draining the preloaded backlog.</summary>
sealed record DrainResult(RelayKind Kind, TimeSpan Elapsed, TimeSpan SlotActive, double CpuSeconds, double WalsenderCpuSeconds,
    double KafkaSideCpuSeconds, long PeakRssMB, long MedianRssMB, long Delivered, int ProduceRequests, List<ThreadCost> Threads,
    double OthersShare);

/// <summary>One relay under one live workload: what users see (commit → receipt) and what it cost.</summary>
sealed record LiveResult(RelayKind Kind, string Workload, int Run, int Events, double LoadSeconds, Latency Latency, int Missing,
    long Duplicates, double CpuSeconds, List<ThreadCost> Threads, int ProduceRequests, long MaxRssMB, double OthersShare)
{
    public double EventsPerSecond => Events / LoadSeconds;
    public double CpuMicrosPerEvent => CpuSeconds * 1e6 / Events;
    public double MessagesPerRequest => ProduceRequests == 0 ? double.NaN : (double)Events / ProduceRequests;
    public long Switches => Threads.Sum(t => t.Switches);
}

/// <summary>One relay with nothing to publish.</summary>
sealed record IdleResult(RelayKind Kind, TimeSpan SlotActive, double Seconds, double CpuSeconds, int Threads, Memory Memory,
    Memory Fresh, List<ThreadCost> ThreadCosts, double OthersShare)
{
    public double CorePercent => CpuSeconds / Seconds * 100;
    public double SwitchesPerSecond => ThreadCosts.Sum(t => t.Switches) / Seconds;
}

/// <summary>Resident memory in MB: in all, and its anonymous (heaps), file-backed (mapped code) and shared-memory parts.</summary>
sealed record Memory(long RssMB, long AnonMB, long FileMB, long ShmemMB);

static class Workloads
{
    public const string Paced = "1,000 single-row tx/s";
    public const string OneWriter = "100 rows/tx, 1 writer, unpaced";
    public const string FourWriters = "100 rows/tx, 4 writers, unpaced";
}
