using System.Globalization;

namespace Relay.Republish;

/// <summary>
/// Progress for the person running <c>relay republish</c>, on stderr: rows acknowledged of the total, the rate over the
/// last seconds and the time left. In a terminal a bar redrawn in place; otherwise (a log, a CI job) a plain line every
/// <see cref="PlainInterval"/>. Time comes from a <see cref="TimeProvider"/>, so the output is tested without waiting.
/// </summary>
sealed class RepublishProgress(TextWriter output, bool terminal, string table, long total, TimeProvider time)
{
    public static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(250), PlainInterval = TimeSpan.FromSeconds(5);
    static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);
    const int BarWidth = 30;

    readonly long _started = time.GetTimestamp();
    readonly Queue<(long Timestamp, long Done)> _samples = new();
    long _lastPlain = time.GetTimestamp();
    int _drawnWidth;

    public TimeSpan Elapsed => time.GetElapsedTime(_started);

    /// <summary>
    /// Takes the count of acknowledged rows (call it every <see cref="RedrawInterval"/>): redraws the bar, or writes a
    /// line when one is due.
    /// </summary>
    public void Report(long done)
    {
        var now = time.GetTimestamp();
        _samples.Enqueue((now, done));
        while (_samples.Count > 2 && time.GetElapsedTime(_samples.Peek().Timestamp, now) > RateWindow)
            _samples.Dequeue();
        if (terminal)
        {
            var line = $"[{Bar(done)}] {Percent(done),4}  {done:N0}/{total:N0} rows  {Rate(now),-12}  ETA {Eta(done, now)}";
            output.Write("\r" + line.PadRight(_drawnWidth));
            _drawnWidth = line.Length;
        }
        else if (time.GetElapsedTime(_lastPlain, now) >= PlainInterval)
        {
            _lastPlain = now;
            output.WriteLine($"republish {table}: {done:N0} of {total:N0} rows acknowledged ({Percent(done)}), {Rate(now)}, ETA {Eta(done, now)}");
        }
        output.Flush();
    }

    /// <summary>Ends the bar's line, so what follows starts on a line of its own.</summary>
    public void Finish(long done)
    {
        if (!terminal)
            return;
        Report(done);
        output.WriteLine();
    }

    /// <summary>Rows per second over the whole run, for the summary.</summary>
    public double AverageRate(long done) => Elapsed.TotalSeconds > 0 ? done / Elapsed.TotalSeconds : 0;

    string Bar(long done)
    {
        var filled = total == 0 ? BarWidth : (int)Math.Clamp(done * BarWidth / total, 0, BarWidth);
        return new string('#', filled) + new string('.', BarWidth - filled);
    }

    string Percent(long done) => total == 0 ? "100%" : $"{Math.Clamp(done * 100 / total, 0, 100)}%";

    /// <summary>Rows per second over the last <see cref="RateWindow"/>, or null before a second has passed.</summary>
    double? RowsPerSecond(long now)
    {
        var (oldest, oldestDone) = _samples.Peek();
        var seconds = time.GetElapsedTime(oldest, now).TotalSeconds;
        var (_, newestDone) = _samples.Last();
        return seconds >= 1 ? (newestDone - oldestDone) / seconds : null;
    }

    string Rate(long now) => RowsPerSecond(now) is { } rate ? string.Create(CultureInfo.InvariantCulture, $"{rate:N0} rows/s") : "- rows/s";

    string Eta(long done, long now) =>
        done >= total ? "0:00:00"
        : RowsPerSecond(now) is { } rate and > 0 ? FormatDuration(TimeSpan.FromSeconds(Math.Min((total - done) / rate, TimeSpan.FromDays(99).TotalSeconds)))
        : "unknown";

    public static string FormatDuration(TimeSpan duration) =>
        $"{(int)duration.TotalHours}:{duration.Minutes:00}:{duration.Seconds:00}";
}
