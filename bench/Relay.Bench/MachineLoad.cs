using System.Globalization;

namespace Relay.Bench;

/// <summary>
/// How busy the machine was with work that is not the bench's: every second, the machine's busy CPU time (/proc/stat)
/// minus the CPU of this process's descendants (the relays, pgbench, pg_recvlogical) and of the test server's processes
/// (the postmaster's). The rest is other users' work (on a shared machine: other builds and tests) plus kernel threads.
/// </summary>
sealed class MachineLoad : IDisposable
{
    readonly Timer _timer;
    readonly int _self = Environment.ProcessId;
    readonly Func<int?> _postmaster;
    readonly object _gate = new();
    Dictionary<int, long> _lastTicks = [];
    long _lastBusy, _lastSteal;
    // Running totals in clock ticks (1/100 s).
    long _busy, _ours, _steal, _samples;
    readonly List<double> _othersPerSecond = [];

    public MachineLoad(Func<int?> postmasterPid)
    {
        _postmaster = postmasterPid;
        (_lastBusy, _lastSteal) = ReadMachine();
        _lastTicks = ReadOurs();
        _timer = new Timer(_ => Sample(), null, 1000, 1000);
    }

    /// <summary>Totals so far, to subtract for a window.</summary>
    public Mark Now() { lock (_gate) return new Mark(_busy, _ours, _steal, _samples, DateTime.UtcNow); }

    /// <summary>Other processes' share of the machine's cores since <paramref name="since"/> (0.25 = a quarter of all cores).</summary>
    public double OthersShare(Mark since)
    {
        var now = Now();
        var seconds = (now.At - since.At).TotalSeconds;
        return seconds <= 0 ? 0 : Math.Max(0, (now.Busy - since.Busy - (now.Ours - since.Ours)) / 100.0) / (seconds * Environment.ProcessorCount);
    }

    /// <summary>Whole-run figures: other processes' average share of the cores, the busiest 10 s, and steal time.</summary>
    public (double Average, double Busiest10s, double Steal) Summary(Mark since)
    {
        var now = Now();
        var seconds = (now.At - since.At).TotalSeconds * Environment.ProcessorCount;
        double[] perSecond;
        lock (_gate) perSecond = [.. _othersPerSecond];
        var busiest = perSecond.Length < 10 ? perSecond.DefaultIfEmpty().Average()
            : Enumerable.Range(0, perSecond.Length - 9).Max(i => perSecond.Skip(i).Take(10).Average());
        return (OthersShare(since), busiest, (now.Steal - since.Steal) / 100.0 / seconds);
    }

    void Sample()
    {
        var (busy, steal) = ReadMachine();
        var ticks = ReadOurs();
        var ours = ticks.Sum(t => t.Value - _lastTicks.GetValueOrDefault(t.Key));
        lock (_gate)
        {
            var busyDelta = busy - _lastBusy;
            _busy += busyDelta;
            _ours += ours;
            _steal += steal - _lastSteal;
            _samples++;
            _othersPerSecond.Add(Math.Max(0, busyDelta - ours) / 100.0 / Environment.ProcessorCount);
            (_lastBusy, _lastSteal, _lastTicks) = (busy, steal, ticks);
        }
    }

    /// <summary>The machine's busy ticks (everything but idle and iowait; steal included) and steal ticks.</summary>
    static (long Busy, long Steal) ReadMachine()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
        var total = fields.Take(8).Sum();
        return (total - fields[3] - fields[4], fields[7]);
    }

    /// <summary>CPU ticks of the bench's process tree and the test server's, per pid.</summary>
    Dictionary<int, long> ReadOurs()
    {
        var parents = new Dictionary<int, int>();
        var ticks = new Dictionary<int, long>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                ticks[pid] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
        }
        var roots = new HashSet<int> { _self };
        if (_postmaster() is { } postmaster)
            roots.Add(postmaster);
        bool IsOurs(int pid)
        {
            for (var hops = 0; pid > 1 && hops < 64; hops++)
            {
                if (roots.Contains(pid))
                    return true;
                if (!parents.TryGetValue(pid, out pid))
                    return false;
            }
            return false;
        }
        return ticks.Where(t => IsOurs(t.Key)).ToDictionary();
    }

    public void Dispose() => _timer.Dispose();

    public readonly record struct Mark(long Busy, long Ours, long Steal, long Samples, DateTime At);
}
