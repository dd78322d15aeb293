using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>
/// SQL Server CDC without a server: capture instances, change rows per instance, each instance's minimum (cleanup) and
/// the newest captured LSN. <see cref="BeforePoll"/> changes the state between polls (a cleanup, a rotation, …).
/// </summary>
sealed class FakeCdc : ICdcClient
{
    public static readonly string[] Captured = ["id", "aggregatetype", "aggregateid", "type", "payload"];
    static CancellationToken Token => TestContext.Current.CancellationToken;

    public List<CaptureInstance> Instances { get; } = [];
    public Dictionary<string, List<(SourcePosition Position, string Key)>> Changes { get; } = [];
    public Dictionary<string, UInt128> MinLsn { get; } = [];
    /// <summary>The newest captured LSN when set; otherwise the newest change's.</summary>
    public UInt128? MaxLsn { get; set; }
    /// <summary>Called with the poll number (1, 2, …) before each poll reads the newest LSN.</summary>
    public Action<int>? BeforePoll { get; set; }
    public int Queries;
    public int Polls;
    /// <summary>What the capture health queries answer: by default all running, nothing behind, max text repl size -1.</summary>
    public CaptureHealth Health { get; set; } = new(true, true, TimeSpan.FromSeconds(2), TimeSpan.Zero, -1);

    public Task<CaptureHealth> GetCaptureHealthAsync(CancellationToken c) => Task.FromResult(Health);

    public Task<IReadOnlyList<CaptureInstance>> GetCaptureInstancesAsync(CancellationToken c) =>
        Task.FromResult<IReadOnlyList<CaptureInstance>>(Instances.ToList());

    public Task<UInt128> GetMinLsnAsync(string i, CancellationToken c) => Task.FromResult(MinLsn.GetValueOrDefault(i, UInt128.One));

    public Task<UInt128> GetMaxLsnAsync(CancellationToken c)
    {
        var poll = Interlocked.Increment(ref Polls);
        BeforePoll?.Invoke(poll);
        return Task.FromResult(MaxLsn ?? Changes.Values.SelectMany(v => v).Select(v => v.Position.Commit).DefaultIfEmpty(UInt128.Zero).Max());
    }

    public Task<IReadOnlyList<CdcChange>> GetInsertsAsync(CaptureInstance instance, IReadOnlyList<string> columns, SourcePosition after,
        UInt128 toLsn, int batchSize, CancellationToken c)
    {
        Interlocked.Increment(ref Queries);
        // As the SQL query does: never before the instance's minimum.
        var minimum = MinLsn.GetValueOrDefault(instance.Name, UInt128.One);
        IReadOnlyList<CdcChange> result = Changes.GetValueOrDefault(instance.Name, [])
            .Where(x => x.Position > after && x.Position.Commit >= minimum && x.Position.Commit <= toLsn)
            .OrderBy(x => x.Position).Take(batchSize)
            .Select(x => new CdcChange(x.Position, DateTime.UtcNow, columns.Select(col => col switch
            {
                "aggregateid" => Encoding.UTF8.GetBytes(x.Key),
                "id" => Encoding.UTF8.GetBytes($"{instance.Name}:{(ulong)x.Position.Commit}:{(ulong)x.Position.Sequence}"),
                _ => Encoding.UTF8.GetBytes("v"),
            }).ToArray())).ToList();
        return Task.FromResult(result);
    }

    public static (FakeCdc Cdc, OutboxMapping Tables) TwoTables()
    {
        var cdc = new FakeCdc();
        cdc.Instances.Add(new CaptureInstance("dbo_orders_outbox", "dbo", "orders_outbox", 1, Captured.ToHashSet()));
        cdc.Instances.Add(new CaptureInstance("dbo_billing_outbox", "dbo", "billing_outbox", 1, Captured.ToHashSet()));
        var tables = OutboxMapping.For(new OutboxOptions
        {
            Tables = [new() { Table = "dbo.orders_outbox" }, new() { Table = "dbo.billing_outbox" }],
        });
        return (cdc, tables);
    }

    public static SqlServerSourceOptions Options(int batchSize = 5000, bool resumeOnGap = false) => new()
    {
        BatchSize = batchSize, PollInterval = TimeSpan.FromMilliseconds(5), MaxPollInterval = TimeSpan.FromMilliseconds(20),
        ResumeFromMinimumOnRetentionGap = resumeOnGap, FirstStart = FirstStartPosition.Oldest,
    };

    /// <summary>Reads until the sink saw <paramref name="expected"/> rows (then confirms the last commit), or 10 s.</summary>
    public static Task<RecordingSink> ReadAsync(FakeCdc cdc, OutboxMapping tables, MemoryStore store, int expected, int batchSize = 5000,
        bool resumeOnGap = false) => ReadAsync(cdc, tables, store, expected, Options(batchSize, resumeOnGap));

    public static async Task<RecordingSink> ReadAsync(FakeCdc cdc, OutboxMapping tables, MemoryStore store, int expected, SqlServerSourceOptions options,
        Func<RecordingSink, bool>? until = null)
    {
        var source = new SqlServerOutboxSource(options, tables, NullLogger.Instance, () => cdc, () => store);
        var plan = await source.PrepareAsync(Token);
        await using var stream = await source.OpenAsync(plan, Token);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        stop.CancelAfter(TimeSpan.FromSeconds(10));
        var sink = new RecordingSink(expected, stop, until);
        await stream.ReadAsync(sink, stop.Token);
        if (sink.Commits.LastOrDefault() is var last && last != default)
            await stream.ConfirmAsync(last, Token);
        return sink;
    }
}

sealed class MemoryStore(SourcePosition? initial) : IPositionStore
{
    public SourcePosition? Saved = initial;
    public readonly List<SourcePosition> Saves = [];
    public int Renewals;
    public Task<SourcePosition?> ClaimAsync(CancellationToken c) => Task.FromResult(Saved);
    public Task SaveAsync(SourcePosition p, CancellationToken c) { Saved = p; Saves.Add(p); return Task.CompletedTask; }
    public Task RenewAsync(CancellationToken c) { Interlocked.Increment(ref Renewals); return Task.CompletedTask; }
    public Task ReleaseAsync(CancellationToken c) => Task.CompletedTask;
}

/// <summary>Records rows and commits; stops reading once <c>stopAfter</c> rows arrived and were committed (or <c>until</c> holds).</summary>
sealed class RecordingSink(int stopAfter, CancellationTokenSource stop, Func<RecordingSink, bool>? until = null) : IOutboxSink
{
    public List<(string Table, string Id, SourcePosition Position)> Rows { get; } = [];
    public List<SourcePosition> Commits { get; } = [];

    public ValueTask OnRowAsync(OutboxRow row, CancellationToken c)
    {
        Rows.Add((row.Table.QualifiedName, OutboxTableMapping.Text(row[row.Table.EventIdColumn])!, row.Position));
        return ValueTask.CompletedTask;
    }

    public ValueTask OnCommitAsync(SourcePosition position, DateTime committedAt, CancellationToken c)
    {
        Commits.Add(position);
        if (until?.Invoke(this) ?? (Rows.Count >= stopAfter && Rows.Count > 0 && Rows[^1].Position == position))
            stop.Cancel();
        return ValueTask.CompletedTask;
    }
}
