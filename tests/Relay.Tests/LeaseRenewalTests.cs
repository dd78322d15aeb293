using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Options;
using Relay.Pipeline;
using Relay.Testing;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, row 5: a leased source keeps its lease while Kafka acknowledges nothing, and fences itself when it cannot.</summary>
public class LeaseRenewalTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    sealed class LeasedStream : IOutboxStream, ILeasedStream
    {
        public int Renewals;
        public StandbyException? Lose;
        public Task ReadAsync(IOutboxSink sink, CancellationToken stopReading) => Task.CompletedTask;
        public Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken) => Task.CompletedTask;
        public SourcePosition Received => SourcePosition.None;
        public string Format(SourcePosition position) => position.Commit.ToString();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        public Task RenewLeaseAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Renewals);
            return Lose is { } lost ? Task.FromException(lost) : Task.CompletedTask;
        }
    }

    /// <summary>A sink that never returns from a row: the dispatcher waiting on backpressure.</summary>
    sealed class StalledSink : IOutboxSink
    {
        public ValueTask OnRowAsync(OutboxRow row, CancellationToken c) => new(Task.Delay(Timeout.Infinite, c));
        public ValueTask OnCommitAsync(SourcePosition position, DateTime committedAt, CancellationToken c) => ValueTask.CompletedTask;
    }

    sealed class FailingRenewalStore : IPositionStore
    {
        public int Renewals;
        public volatile bool Fail;
        public Task<SourcePosition?> ClaimAsync(CancellationToken c) => Task.FromResult<SourcePosition?>(new SourcePosition(1));
        public Task SaveAsync(SourcePosition p, CancellationToken c) => Task.CompletedTask;
        public Task RenewAsync(CancellationToken c)
        {
            Interlocked.Increment(ref Renewals);
            return Fail ? Task.FromException(new TimeoutException("database unreachable")) : Task.CompletedTask;
        }
        public Task ReleaseAsync(CancellationToken c) => Task.CompletedTask;
    }

    static async Task WaitUntil(Func<bool> condition) =>
        Assert.True(await Eventually.WaitUntilAsync(condition, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10), cancellationToken: Token));

    [Fact]
    public async Task the_confirm_loop_renews_the_lease_while_kafka_acknowledges_nothing_and_a_lost_lease_ends_the_run()
    {
        var time = new FakeTimeProvider();
        var tracker = new CheckpointTracker(100, 1 << 20, time);
        await tracker.ReserveAsync(10, Token);   // one message in flight, never acknowledged: nothing to confirm
        var stream = new LeasedStream();
        var checkpointer = new Checkpointer(tracker, stream, new PipelineOptions { ConfirmInterval = TimeSpan.FromSeconds(1) },
            new RelayStatus(time), TestMetrics.Create(), NullLogger.Instance, time);
        var lost = 0;
        checkpointer.RunEnded += () => Interlocked.Increment(ref lost);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var loop = checkpointer.RunAsync(stop.Token);

        for (var tick = 1; tick <= 3; tick++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await WaitUntil(() => Volatile.Read(ref stream.Renewals) >= tick);
        }
        stream.Lose = new StandbyException("taken over");
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => checkpointer.Ended is not null);
        Assert.Equal(1, lost);
        await stop.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task a_sql_server_stream_stalled_on_backpressure_keeps_its_lease_and_fences_itself_before_it_expires()
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Changes["dbo_orders_outbox"] = [(new(10, 1), "o1")];
        var store = new FailingRenewalStore();
        var options = FakeCdc.Options();
        options.LeaseDuration = TimeSpan.FromMilliseconds(600);
        var source = new SqlServerOutboxSource(options, tables, NullLogger.Instance, () => cdc, () => store);
        await using var stream = await source.OpenAsync(await source.PrepareAsync(Token), Token);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var reading = stream.ReadAsync(new StalledSink(), stop.Token);   // blocked on the first row
        var leased = Assert.IsAssignableFrom<ILeasedStream>(stream);

        while (Volatile.Read(ref store.Renewals) < 3)
        {
            await leased.RenewLeaseAsync(Token);
            await Task.Delay(50, Token);
        }

        store.Fail = true;
        var started = DateTime.UtcNow;
        StandbyException? fenced = null;
        while (fenced is null && DateTime.UtcNow - started < TimeSpan.FromSeconds(5))
        {
            try { await leased.RenewLeaseAsync(Token); }
            catch (StandbyException e) { fenced = e; }
            await Task.Delay(20, Token);
        }
        Assert.NotNull(fenced);
        // Given up with a third of the lease left at most: before a standby could claim it.
        Assert.True(DateTime.UtcNow - started < options.LeaseDuration, $"fenced after {DateTime.UtcNow - started}");
        Assert.Contains("LeaseDuration", fenced.Message);
        await stop.CancelAsync();
        await reading;
    }
}
