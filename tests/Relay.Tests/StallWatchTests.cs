using Relay.Pipeline;

namespace Relay.Tests;

public class StallWatchTests
{
    static readonly DateTimeOffset Start = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void a_stall_is_told_after_the_threshold_again_every_repeat_and_its_end_once()
    {
        var watch = new StallWatch(warnAfter: TimeSpan.FromSeconds(10), repeatEvery: TimeSpan.FromSeconds(30));
        var lastAck = Start;

        Assert.Equal(StallNews.None, watch.Observe(Start.AddSeconds(9), inFlight: 5, lastAck));
        var first = watch.Observe(Start.AddSeconds(10), 5, lastAck);
        Assert.Equal(new StallNews(StallNewsKind.Stalled, TimeSpan.FromSeconds(10)), first);
        Assert.Equal(StallNews.None, watch.Observe(Start.AddSeconds(39), 5, lastAck));
        Assert.Equal(new StallNews(StallNewsKind.Stalled, TimeSpan.FromSeconds(40)), watch.Observe(Start.AddSeconds(40), 5, lastAck));

        var resumedAt = Start.AddSeconds(55);
        Assert.Equal(new StallNews(StallNewsKind.Resumed, TimeSpan.FromSeconds(55)), watch.Observe(resumedAt.AddSeconds(1), 5, resumedAt));
        Assert.Equal(StallNews.None, watch.Observe(resumedAt.AddSeconds(2), 5, resumedAt));
    }

    [Fact]
    public void nothing_in_flight_is_no_stall_however_long_since_the_last_acknowledgement()
    {
        var watch = new StallWatch(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
        Assert.Equal(StallNews.None, watch.Observe(Start.AddHours(1), inFlight: 0, Start));
    }
}
