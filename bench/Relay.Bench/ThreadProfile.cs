using System.Globalization;
using System.Text.RegularExpressions;

namespace Relay.Bench;

/// <summary>One thread's CPU ticks (1/100 s) and context switches, from /proc/PID/task/TID/{stat,status}.</summary>
sealed record ThreadSample(string Name, long Ticks, long Voluntary, long Involuntary);

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
                threads[int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture)] = new ThreadSample(name,
                    long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture),
                    Field("voluntary_ctxt_switches:"), Field("nonvoluntary_ctxt_switches:"));
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // the thread ended while it was read
            }
        }
        return threads;
    }

    /// <summary>The cost per thread group between two snapshots; <paramref name="processCpuSeconds"/> is the process's own delta.</summary>
    public static List<ThreadCost> Diff(Dictionary<int, ThreadSample> before, Dictionary<int, ThreadSample> after, double processCpuSeconds)
    {
        var zero = new ThreadSample("", 0, 0, 0);
        var costs = after
            .Select(t => (Group: Group(t.Value.Name), Now: t.Value, Then: before.GetValueOrDefault(t.Key) ?? zero))
            .GroupBy(t => t.Group)
            .Select(g => new ThreadCost(g.Key, g.Count(), g.Sum(t => t.Now.Ticks - t.Then.Ticks) / 100.0,
                g.Sum(t => t.Now.Voluntary - t.Then.Voluntary), g.Sum(t => t.Now.Involuntary - t.Then.Involuntary)))
            .OrderByDescending(c => c.CpuSeconds).ThenByDescending(c => c.Switches).ToList();
        var exited = processCpuSeconds - costs.Sum(c => c.CpuSeconds);
        if (exited >= 0.01)
            costs.Add(new ThreadCost("(exited threads)", 0, exited, 0, 0));
        return costs;
    }

    /// <summary>Threads of one kind together: the broker threads, the pool workers.</summary>
    static string Group(string name) => BrokerThread().IsMatch(name) ? "rdk:broker1..n" : name;

    [GeneratedRegex(@"^rdk:broker\d+$")]
    private static partial Regex BrokerThread();
}
