using Microsoft.Extensions.Time.Testing;
using Relay.Core;
using Relay.Republish;

namespace Relay.Tests;

/// <summary>What the person running <c>relay republish</c> sees while it runs: rows done of the total, rate, time left.</summary>
public class RepublishProgressTests
{
    [Fact]
    public void without_a_terminal_a_plain_line_comes_every_five_seconds_with_rate_and_time_left()
    {
        var time = new FakeTimeProvider();
        using var output = new StringWriter();
        var progress = new RepublishProgress(output, terminal: false, "public.outbox", total: 20_000, time);
        for (var tick = 1; tick <= 20; tick++)
        {
            time.Advance(RepublishProgress.RedrawInterval);
            progress.Report(tick * 250);   // 1,000 rows/s
        }
        Assert.Equal("republish public.outbox: 5,000 of 20,000 rows acknowledged (25%), 1,000 rows/s, ETA 0:00:15" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void in_a_terminal_a_bar_is_redrawn_in_place_and_ends_its_line()
    {
        var time = new FakeTimeProvider();
        using var output = new StringWriter();
        var progress = new RepublishProgress(output, terminal: true, "public.outbox", total: 100, time);
        progress.Report(0);
        Assert.Equal("\r[..............................]   0%  0/100 rows  - rows/s      ETA unknown", output.ToString());
        time.Advance(TimeSpan.FromSeconds(2));
        progress.Finish(50);
        Assert.EndsWith("\r[###############...............]  50%  50/100 rows  25 rows/s     ETA 0:00:02" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void the_rate_follows_the_last_ten_seconds()
    {
        var time = new FakeTimeProvider();
        using var output = new StringWriter();
        var progress = new RepublishProgress(output, terminal: false, "public.outbox", total: 1_000_000, time);
        long done = 0;
        for (var second = 1; second <= 60; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            done += second <= 30 ? 10_000 : 1_000;   // the broker slowed down half way
            progress.Report(done);
        }
        Assert.EndsWith("330,000 of 1,000,000 rows acknowledged (33%), 1,000 rows/s, ETA 0:11:10" + Environment.NewLine, output.ToString());
    }
}

/// <summary>The keys a run keeps to name its rows and its resume point: only those it may still need.</summary>
public class RowKeysTests
{
    [Fact]
    public void acknowledged_rows_are_forgotten_except_the_last_which_is_the_resume_point()
    {
        var keys = new RowKeys();
        Assert.Null(keys.AcknowledgedUpTo(0));
        for (var ordinal = 1; ordinal <= 5; ordinal++)
            keys.Add(ordinal, new RowKey($"t{ordinal}", $"e{ordinal}"));
        Assert.Equal(new RowKey("t3", "e3"), keys.AcknowledgedUpTo(3));
        Assert.Null(keys.Find(2));
        Assert.Equal(new RowKey("t3", "e3"), keys.Find(3));
        Assert.Equal(new RowKey("t5", "e5"), keys.Find(5));
        Assert.Equal(new RowKey("t3", "e3"), keys.AcknowledgedUpTo(3));
    }
}
