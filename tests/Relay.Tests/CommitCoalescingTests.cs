using Relay.Core;
using Relay.Pipeline;

namespace Relay.Tests;

/// <summary>
/// Issue 12, row 11: during a long Kafka stall, PostgreSQL 12–14 sends a BEGIN/COMMIT for every transaction of the
/// database and idle positions keep coming; the tracker must not keep one entry per commit.
/// </summary>
public class CommitCoalescingTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task a_million_commits_without_messages_during_a_stall_keep_memory_bounded_and_confirm_the_newest()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var waiting = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(10));
        for (ulong lsn = 11; lsn <= 1_000_010; lsn++)
            tracker.Commit(new SourcePosition(lsn));
        Assert.Equal(1, tracker.PendingCommits);
        Assert.Equal(SourcePosition.None, tracker.Confirmable);

        tracker.Acknowledge(waiting);
        Assert.Equal(new SourcePosition(1_000_010), tracker.Confirmable);
        Assert.Equal(0, tracker.PendingCommits);
    }

    [Fact]
    public async Task commits_between_messages_stay_apart_so_nothing_is_confirmed_past_an_unacknowledged_message()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var first = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(100));
        tracker.Commit(new SourcePosition(150));   // coalesces with 100: no message in between
        var second = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(200));
        tracker.Commit(new SourcePosition(250));
        Assert.Equal(2, tracker.PendingCommits);

        tracker.Acknowledge(second);
        Assert.Equal(SourcePosition.None, tracker.Confirmable);
        tracker.Acknowledge(first);
        Assert.Equal(new SourcePosition(250), tracker.Confirmable);
    }

    [Fact]
    public async Task the_lag_counts_from_the_oldest_commit_still_waiting()
    {
        var tracker = new CheckpointTracker(100, 1 << 20);
        var oldest = new DateTime(2026, 11, 30, 10, 0, 0, DateTimeKind.Utc);
        var message = await tracker.ReserveAsync(10, Token);
        tracker.Commit(new SourcePosition(100), oldest);
        tracker.Commit(new SourcePosition(200), oldest.AddMinutes(5));
        Assert.Equal(oldest, tracker.OldestPendingCommit);
        tracker.Acknowledge(message);
        Assert.Null(tracker.OldestPendingCommit);
    }
}
