using System.Globalization;
using System.Text.RegularExpressions;

namespace Relay.Bench;

/// <summary>
/// One thread's CPU time and context switches, from /proc/PID/task/TID/{schedstat,stat,status}: schedstat's time on CPU
/// in nanoseconds (stat's ticks are 10 ms, too coarse for an idle minute), or the ticks where schedstat is missing.
/// </summary>
sealed record ThreadSample(string Name, long CpuNanoseconds, long Voluntary, long Involuntary);

/// <summary>What a group of like-named threads cost over a window: CPU seconds and context switches (wake-ups).</summary>
sealed record ThreadCost(string Group, int Threads, double CpuSeconds, long Voluntary, long Involuntary)
{
    public long Switches => Voluntary + Involuntary;
}

/// <summary>
/// Per-thread CPU and wake-ups of a process between two snapshots, grouped by thread name (librdkafka names its threads
/// rdk:main and rdk:brokerN; .NET its pool workers, socket engine and timer). Threads that ended inside the window are
/// in the process total only: the difference is shown as "(exited threads)".
/// </summary>
static partial class ThreadProfile
{
    public static Dictionary<int, ThreadSample> Take(int pid)
    {
        var threads = new Dictionary<int, ThreadSample>();
        foreach (var directory in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                long Field(string key) => long.Parse(File.ReadLines(Path.Combine(directory, "status")).First(l => l.StartsWith(key, StringComparison.Ordinal))
                    .Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                var schedstat = Path.Combine(directory, "schedstat");
                var nanoseconds = File.Exists(schedstat)
                    ? long.Parse(File.ReadAllText(schedstat).Split(' ')[0], CultureInfo.InvariantCulture)
                    : ticks * 10_000_000;
                threads[int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture)] = new ThreadSample(name, nanoseconds,
                    Field("voluntary_ctxt_switches:"), Field("nonvoluntary_ctxt_switches:"));
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // the thread ended while it was read
            }
        }
        return threads;
    }

    /// <summary>
    /// The cost per thread group between two snapshots; <paramref name="processCpuSeconds"/> is the process's own delta
    /// (in 10 ms ticks): what it exceeds the threads' sum by is shown as exited threads.
    /// </summary>
    public static List<ThreadCost> Diff(Dictionary<int, ThreadSample> before, Dictionary<int, ThreadSample> after, double processCpuSeconds)
    {
        var zero = new ThreadSample("", 0, 0, 0);
        var costs = after
            .Select(t => (Group: Group(t.Value.Name), Now: t.Value, Then: before.GetValueOrDefault(t.Key) ?? zero))
            .GroupBy(t => t.Group)
            .Select(g => new ThreadCost(g.Key, g.Count(), g.Sum(t => t.Now.CpuNanoseconds - t.Then.CpuNanoseconds) / 1e9,
                g.Sum(t => t.Now.Voluntary - t.Then.Voluntary), g.Sum(t => t.Now.Involuntary - t.Then.Involuntary)))
            .OrderByDescending(c => c.CpuSeconds).ThenByDescending(c => c.Switches).ToList();
        // The process total is in 10 ms ticks, each reading truncated: a difference below 40 ms is rounding, unless a
        // thread seen at the start has ended (one born and ended inside the window shows only above that).
        var exited = processCpuSeconds - costs.Sum(c => c.CpuSeconds);
        var ended = before.Keys.Count(tid => !after.ContainsKey(tid));
        if (ended > 0 ? exited > 0 : exited > 0.04)
            costs.Add(new ThreadCost("(exited threads)", ended, exited, 0, 0));
        return costs;
    }

    /// <summary>
    /// The process's CPU seconds over the window at nanosecond precision: its threads' sum, plus the exited threads'
    /// share where one is shown (known to 10 ms only).
    /// </summary>
    public static double CpuSeconds(IEnumerable<ThreadCost> costs) => costs.Sum(c => c.CpuSeconds);

    /// <summary>Threads of one kind together: the broker threads, the pool workers.</summary>
    static string Group(string name) => BrokerThread().IsMatch(name) ? "rdk:broker1..n" : name;

    [GeneratedRegex(@"^rdk:broker\d+$")]
    private static partial Regex BrokerThread();
}
