using Relay.Core;
using Relay.Pipeline;

namespace Relay.Tests;

public class CheckpointTrackerTests
{
    static SourcePosition At(ulong lsn) => new(lsn);
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task a_commit_becomes_confirmable_only_when_every_earlier_message_is_acknowledged()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var a = await tracker.ReserveAsync(10, Token);
        var b = await tracker.ReserveAsync(10, Token);
        tracker.Commit(At(100));
        var c = await tracker.ReserveAsync(10, Token);
        tracker.Commit(At(200));

        tracker.Acknowledge(c);   // acknowledgements arrive out of order across partitions
        tracker.Acknowledge(b);
        Assert.Equal(SourcePosition.None, tracker.Confirmable);

        tracker.Acknowledge(a);
        Assert.Equal(At(200), tracker.Confirmable);
        Assert.Equal(0, tracker.InFlightMessages);
        Assert.Equal(0, tracker.InFlightBytes);
    }

    [Fact]
    public async Task the_checkpoint_moves_commit_by_commit()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var a = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(100));
        var b = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(200));

        tracker.Acknowledge(a);
        Assert.Equal(At(100), tracker.Confirmable);
        tracker.Acknowledge(b);
        Assert.Equal(At(200), tracker.Confirmable);
    }

    [Fact]
    public async Task a_transaction_without_outbox_rows_is_confirmable_once_earlier_ones_are()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        tracker.Commit(At(50));
        Assert.Equal(At(50), tracker.Confirmable);

        var a = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(100));
        tracker.Commit(At(150));   // empty transaction while a message is in flight
        Assert.Equal(At(50), tracker.Confirmable);
        tracker.Acknowledge(a);
        Assert.Equal(At(150), tracker.Confirmable);
    }

    [Fact]
    public async Task nothing_after_a_failed_message_is_ever_confirmable()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var a = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(100));
        var b = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(200));
        var c = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(300));
        Exception? raised = null;
        tracker.Failed += e => raised = e;

        tracker.Acknowledge(a);
        tracker.Fail(b, new InvalidOperationException("broker said no"));
        tracker.Acknowledge(c);

        Assert.Equal(At(100), tracker.Confirmable);
        Assert.NotNull(raised);
        await Assert.ThrowsAsync<DeliveryFailedException>(async () => await tracker.ReserveAsync(1, Token));
        Assert.False(await tracker.WaitForAllAcknowledgedAsync(TimeSpan.FromSeconds(5), Token));
    }

    [Fact]
    public async Task a_full_message_window_makes_the_reader_wait_until_an_acknowledgement()
    {
        var tracker = new CheckpointTracker(2, 1 << 20);
        var a = await tracker.ReserveAsync(1, Token);
        await tracker.ReserveAsync(1, Token);

        var third = tracker.ReserveAsync(1, Token).AsTask();
        await Task.Delay(100, Token);
        Assert.False(third.IsCompleted);

        tracker.Acknowledge(a);
        Assert.Equal(2, await third.WaitAsync(TimeSpan.FromSeconds(5), Token));
        Assert.Equal(2, tracker.InFlightMessages);
    }

    [Fact]
    public async Task the_byte_limit_applies_backpressure_but_lets_one_oversized_message_through_alone()
    {
        var tracker = new CheckpointTracker(100, 1000);
        var big = await tracker.ReserveAsync(5000, Token);   // alone in flight: allowed
        var next = tracker.ReserveAsync(10, Token).AsTask();
        await Task.Delay(100, Token);
        Assert.False(next.IsCompleted);

        tracker.Acknowledge(big);
        await next.WaitAsync(TimeSpan.FromSeconds(5), Token);
        Assert.Equal(10, tracker.InFlightBytes);
    }

    [Fact]
    public async Task the_ring_reuses_slots_without_confusing_sequences()
    {
        var tracker = new CheckpointTracker(3, 1 << 20);
        for (ulong round = 1; round <= 50; round++)
        {
            var first = await tracker.ReserveAsync(1, Token);
            var second = await tracker.ReserveAsync(1, Token);
            tracker.Commit(At(round));
            tracker.Acknowledge(second);
            Assert.Equal(At(round - 1), tracker.Confirmable);
            tracker.Acknowledge(first);
            Assert.Equal(At(round), tracker.Confirmable);
        }
    }

    [Fact]
    public async Task draining_waits_for_acknowledgements_and_reports_a_timeout()
    {
        var tracker = new CheckpointTracker(10, 1 << 20);
        var a = await tracker.ReserveAsync(1, Token);
        Assert.False(await tracker.WaitForAllAcknowledgedAsync(TimeSpan.FromMilliseconds(100), Token));

        var drained = tracker.WaitForAllAcknowledgedAsync(TimeSpan.FromSeconds(5), Token);
        tracker.Acknowledge(a);
        Assert.True(await drained);
    }

    [Fact]
    public async Task positions_that_do_not_move_forward_are_ignored()
    {
        var tracker = new CheckpointTracker(10, 1 << 20);
        tracker.Commit(At(200));
        tracker.Commit(At(100));   // an idle mark older than the last commit
        Assert.Equal(At(200), tracker.Confirmable);

        var a = await tracker.ReserveAsync(1, Token);
        tracker.Commit(At(150));
        tracker.Commit(At(300));
        tracker.Acknowledge(a);
        Assert.Equal(At(300), tracker.Confirmable);
    }
}
