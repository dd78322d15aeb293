using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Options;
using Relay.Pipeline;
using Relay.Testing;

namespace Relay.Tests;

/// <summary>The confirm loop and the stall rule on a fake clock: no test here waits for real time to pass.</summary>
public class CheckpointerTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    sealed class RecordingStream : IOutboxStream
    {
        public List<SourcePosition> Confirmed { get; } = [];
        public Task ReadAsync(IOutboxSink sink, CancellationToken stopReading) => Task.CompletedTask;
        public Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken)
        {
            lock (Confirmed)
                Confirmed.Add(position);
            return Task.CompletedTask;
        }
        public SourcePosition Received => SourcePosition.None;
        public string Format(SourcePosition position) => position.Commit.ToString();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    sealed class EventLog : ILogger
    {
        public List<int> Ids { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Ids)
                Ids.Add(eventId.Id);
        }
    }

    static async Task WaitUntil(Func<bool> condition) =>
        Assert.True(await Eventually.WaitUntilAsync(condition, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10), cancellationToken: Token));

    [Fact]
    public async Task each_tick_confirms_the_newest_fully_acknowledged_position_and_nothing_beyond_it()
    {
        var time = new FakeTimeProvider();
        var tracker = new CheckpointTracker(100, 1 << 20, time);
        var stream = new RecordingStream();
        var options = new PipelineOptions { ConfirmInterval = TimeSpan.FromSeconds(1) };
        var checkpointer = new Checkpointer(tracker, stream, options, new RelayStatus(time), TestMetrics.Create(), new EventLog(), time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var loop = checkpointer.RunAsync(stop.Token);

        var first = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(100));
        var second = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(200));
        tracker.Acknowledge(first);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => checkpointer.Confirmed == new SourcePosition(100));

        time.Advance(TimeSpan.FromSeconds(1));   // the second message is still in flight: nothing new to confirm
        tracker.Acknowledge(second);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => checkpointer.Confirmed == new SourcePosition(200));
        await stop.CancelAsync();
        await loop;
        Assert.Equal([new SourcePosition(100), new SourcePosition(200)], stream.Confirmed);
    }

    [Fact]
    public async Task an_idle_relay_ticks_at_the_idle_pace_and_the_first_message_after_it_restores_the_busy_pace()
    {
        var time = new FakeTimeProvider();
        var tracker = new CheckpointTracker(100, 1 << 20, time);
        var status = new RelayStatus(time);
        var options = new PipelineOptions { ConfirmInterval = TimeSpan.FromSeconds(1), IdleConfirmInterval = TimeSpan.FromSeconds(10) };
        var checkpointer = new Checkpointer(tracker, new RecordingStream(), options, status, TestMetrics.Create(), new EventLog(), time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var loop = checkpointer.RunAsync(stop.Token);

        time.Advance(TimeSpan.FromSeconds(1));   // first tick: nothing in flight, nothing to confirm
        await WaitUntil(() => checkpointer.Quiet);
        time.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(200, Token);
        Assert.Equal(TimeSpan.FromSeconds(9), status.SinceLastTick);   // no tick at the busy pace
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => status.SinceLastTick == TimeSpan.Zero);   // the idle pace's tick

        var message = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(100));
        tracker.Acknowledge(message);
        time.Advance(TimeSpan.FromSeconds(1));   // confirmed at the busy pace, not 10 s later
        await WaitUntil(() => checkpointer.Confirmed == new SourcePosition(100));

        await WaitUntil(() => checkpointer.Quiet);
        tracker.Commit(new SourcePosition(200));   // an idle position (nothing in flight) also wakes it
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => checkpointer.Confirmed == new SourcePosition(200));
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task a_kafka_stall_is_logged_after_the_threshold_and_its_end_when_acknowledgements_resume()
    {
        var time = new FakeTimeProvider();
        var tracker = new CheckpointTracker(100, 1 << 20, time);
        var log = new EventLog();
        var options = new PipelineOptions { StallWarningAfter = TimeSpan.FromSeconds(10) };
        var checkpointer = new Checkpointer(tracker, new RecordingStream(), options, new RelayStatus(time), TestMetrics.Create(), log, time);
        var waiting = await tracker.ReserveAsync(10, Token);

        time.Advance(TimeSpan.FromSeconds(9));
        checkpointer.WatchForStall();
        Assert.DoesNotContain(EventIdRanges.Pipeline + 2, log.Ids);
        time.Advance(TimeSpan.FromSeconds(1));
        checkpointer.WatchForStall();
        Assert.Contains(EventIdRanges.Pipeline + 2, log.Ids);

        tracker.Acknowledge(waiting);
        checkpointer.WatchForStall();
        Assert.Contains(EventIdRanges.Pipeline + 3, log.Ids);
    }
}
