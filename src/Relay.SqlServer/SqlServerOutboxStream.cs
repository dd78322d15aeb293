using Microsoft.Data.SqlClient;
using Microsoft.Extensions.Logging;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// Polls the change tables: from the position after the stored one (or each instance's minimum on first start) up to
/// <c>sys.fn_cdc_get_max_lsn()</c>, inserts only, in bounded batches merged across tables in commit order. Polling
/// backs off while idle and returns to the base interval as soon as changes arrive.
/// </summary>
sealed class SqlServerOutboxStream(
    SqlServerSourceOptions options,
    IReadOnlyList<OutboxTableMapping> tables,
    ICdcClient client,
    IPositionStore store,
    SourcePosition? stored,
    DateTime claimStarted,
    ILogger logger,
    LsnGauges? gauges = null) : IOutboxStream, ILeasedStream
{
    SourcePosition _received;
    // Per capture instance: a minimum LSN known to lose nothing (the instance's own start, or a gap resumed from as configured).
    readonly Dictionary<string, UInt128> _completeFrom = [];
    // The lease as this process must assume it: from when the request that last extended it was sent.
    DateTime _leaseExtendedAt = claimStarted;
    bool _stoppedCleanly;

    public SourcePosition Received => _received;

    public string Format(SourcePosition position) => SqlServerLsn.Format(position);

    public async Task ReadAsync(IOutboxSink sink, CancellationToken stopReading)
    {
        try
        {
            await ReadChangesAsync(sink, stopReading);
        }
        catch (SqlException e) when (SqlServerErrors.Translate(e.Number, e.Message, e) is { } translated)
        {
            throw translated;
        }
    }

    async Task ReadChangesAsync(IOutboxSink sink, CancellationToken stopReading)
    {
        var columns = tables.Select(t => t.Columns.Select(c => c.Name).ToList()).ToList();
        var position = await StartPositionAsync(stopReading);
        _received = position;
        Log.Streaming(logger, SqlServerLsn.Format(position));
        var row = new OutboxRow(tables.Max(t => t.Columns.Count));
        var delay = options.PollInterval;
        IReadOnlyList<CaptureInstance> instances = [];
        var instancesRead = DateTime.MinValue;
        var floors = new UInt128[tables.Count];       // per table: the LSN from which its newer instance is read
        var seenInstances = new string[tables.Count];
        try
        {
            while (!stopReading.IsCancellationRequested)
            {
                if (DateTime.UtcNow - instancesRead > options.CaptureInstanceRefresh)
                {
                    // Capture instances change with DDL (rotation): look again now and then.
                    instances = await client.GetCaptureInstancesAsync(stopReading);
                    instancesRead = DateTime.UtcNow;
                    LogRotations(instances, seenInstances);
                }
                var reads = await ReadBatchesAsync(instances, columns, position, floors, stopReading);
                var batches = reads.Select(r => (r.Changes, r.CompleteThrough)).ToList();
                var merged = CdcBatchMerger.Merge(batches);
                foreach (var (index, change) in merged)
                {
                    row.Table = tables[index];
                    row.Position = change.Position;
                    row.CommitTimestamp = change.CommittedAt;
                    Array.Copy(change.Values, row.Values, change.Values.Length);
                    await sink.OnRowAsync(row, stopReading);
                    // Each change is its own checkpoint: the stored position names the last change published.
                    await sink.OnCommitAsync(change.Position, change.CommittedAt, stopReading);
                    position = _received = change.Position;
                }
                gauges?.Received(_received);
                // An older instance is done only once everything before its successor's start was emitted, for every
                // table: another table's full batch may have held the merge back below it.
                var horizon = CdcBatchMerger.Horizon(batches);
                for (var t = 0; t < tables.Count; t++)
                    if (reads[t].Successor is { } successor && horizon >= new SourcePosition(reads[t].To, SqlServerLsn.MaxSequence))
                        floors[t] = UInt128.Max(floors[t], successor.StartLsn);
                if (merged.Count == 0 && horizon > position && horizon.Commit != UInt128.MaxValue)
                {
                    // Nothing new up to the newest captured LSN: confirm it (as PostgreSQL's idle acknowledgement does), so an
                    // outbox idle longer than CDC retention does not look like a retention gap at the next start.
                    await sink.OnCommitAsync(horizon, DateTime.UtcNow, stopReading);
                    position = _received = horizon;
                }
                var full = batches.Any(b => b.Changes.Count >= options.BatchSize);
                delay = merged.Count > 0 ? options.PollInterval : Min(delay * 2, options.MaxPollInterval);
                if (!full)
                    await Task.Delay(delay, stopReading);
            }
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
        }
        _stoppedCleanly = true;
    }

    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>What one poll read of one table: from which instance, up to where, and how far that is complete.</summary>
    sealed record TableRead(IReadOnlyList<CdcChange> Changes, SourcePosition CompleteThrough, UInt128 To, CaptureInstance? Successor);

    /// <summary>
    /// One bounded batch per table after <paramref name="position"/>, each with how far it is complete. Each instance's
    /// minimum is read after its query and checked against what is still needed: a cleanup that ran before or during
    /// the query shows here, so nothing is skipped silently.
    /// </summary>
    async Task<List<TableRead>> ReadBatchesAsync(IReadOnlyList<CaptureInstance> instances, List<List<string>> columns, SourcePosition position,
        UInt128[] floors, CancellationToken stopReading)
    {
        var maxLsn = await client.GetMaxLsnAsync(stopReading);
        var reads = new List<TableRead>(tables.Count);
        for (var t = 0; t < tables.Count; t++)
        {
            // After DDL a table has two instances: read the older only below the newer one's start, then switch.
            var instance = SqlServerOutboxSource.ChooseCaptureInstance(tables[t], instances, UInt128.Max(position.Commit, floors[t]));
            var newer = RetentionRule.Successor(SqlServerOutboxSource.InstancesOf(tables[t], instances), instance);
            var to = newer is null ? maxLsn : UInt128.Min(maxLsn, newer.StartLsn - 1);
            var changes = maxLsn > 0 && to > 0
                ? await client.GetInsertsAsync(instance, columns[t], position, to, options.BatchSize, stopReading)
                : [];
            await CheckRetentionAsync(instance, UInt128.Max(RetentionRule.NeededFrom(position), floors[t]), stopReading);
            reads.Add(new TableRead(changes, CdcBatchMerger.CompleteThrough(changes, options.BatchSize, to), to, newer));
        }
        return reads;
    }

    /// <summary>Stops (or, as configured, says and continues) when the instance no longer holds changes Relay still needs.</summary>
    async Task CheckRetentionAsync(CaptureInstance instance, UInt128 neededFrom, CancellationToken stopReading)
    {
        var minimum = await MinLsnAsync(instance, stopReading);
        if (minimum <= neededFrom || (_completeFrom.TryGetValue(instance.Name, out var complete) && minimum <= complete))
            return;
        // An instance whose start the capture job has not reached yet (just enabled) lost nothing: cleanup only removes
        // what was captured, so a minimum beyond the newest captured LSN is the instance's own start. Remembered, so the
        // next poll (when capture has reached it, before the position has) does not take it for a gap.
        if (minimum > await client.GetMaxLsnAsync(stopReading))
        {
            _completeFrom[instance.Name] = minimum;
            return;
        }
        if (RetentionRule.Check(instance, neededFrom, minimum) is not { } problem)
            return;
        if (!options.ResumeFromMinimumOnRetentionGap)
        {
            Log.RetentionGap(logger, problem);
            throw new RelayConfigurationException(problem);
        }
        Log.ResumingAfterGap(logger, problem);
        _completeFrom[instance.Name] = minimum;
    }

    /// <summary>
    /// <c>sys.fn_cdc_get_min_lsn</c> answers 0x00… when the instance is gone or the login may not read it: that is not
    /// "everything is held", so the retention check cannot pass on it.
    /// </summary>
    async Task<UInt128> MinLsnAsync(CaptureInstance instance, CancellationToken cancellationToken)
    {
        var minimum = await client.GetMinLsnAsync(instance.Name, cancellationToken);
        if (minimum == 0)
            throw new RelayConfigurationException(
                $"sys.fn_cdc_get_min_lsn(N'{instance.Name}') returned 0x00000000000000000000: the capture instance of {instance.Schema}.{instance.Table} " +
                $"was dropped, or the login of {SqlServerSourceOptions.Section}:ConnectionString may not read it. Make the login a member of the " +
                "instance's gating role (ALTER ROLE [<role_name of sp_cdc_enable_table>] ADD MEMBER [<user>];) and check cdc.change_tables.");
        return minimum;
    }

    /// <summary>Says when a table gains or loses a capture instance (DDL, rotation), once per change.</summary>
    void LogRotations(IReadOnlyList<CaptureInstance> instances, string[] seen)
    {
        for (var t = 0; t < tables.Count; t++)
        {
            var names = string.Join(", ", SqlServerOutboxSource.InstancesOf(tables[t], instances)
                .OrderBy(i => i.CreatedAt).ThenBy(i => i.StartLsn).Select(i => i.Name));
            if (seen[t] is not null && seen[t] != names && names.Contains(", ", StringComparison.Ordinal))
                Log.SeveralInstances(logger, tables[t].QualifiedName, names);
            seen[t] = names;
        }
    }

    /// <summary>
    /// The stored position (checked against CDC retention on every poll); on first start (no stored position) the newest
    /// captured LSN, or with <see cref="SqlServerSourceOptions.FirstStart"/> = Oldest just before the oldest change held.
    /// </summary>
    async Task<SourcePosition> StartPositionAsync(CancellationToken cancellationToken)
    {
        var instances = await client.GetCaptureInstancesAsync(cancellationToken);
        var chosen = tables.Select(t => SqlServerOutboxSource.ChooseCaptureInstance(t, instances, stored?.Commit ?? UInt128.MaxValue)).ToList();
        if (stored is { } position)
            return position;
        if (options.FirstStart == FirstStartPosition.Oldest)
        {
            var minimum = UInt128.MaxValue;
            foreach (var instance in chosen)
                minimum = UInt128.Min(minimum, await MinLsnAsync(instance, cancellationToken));
            // seqval 0 sorts before every change at that LSN, so the first change is included.
            position = new SourcePosition(minimum == UInt128.MaxValue ? 0 : minimum, 0);
        }
        else
        {
            // As a new PostgreSQL slot does: from now on. Everything captured so far counts as done.
            position = new SourcePosition(await client.GetMaxLsnAsync(cancellationToken), SqlServerLsn.MaxSequence);
        }
        // Stored at once: a restart before the first confirmation must not start from a later "now" and skip what came between.
        await store.SaveAsync(position, cancellationToken);
        Log.FirstStart(logger, options.FirstStart.ToString(), SqlServerLsn.Format(position));
        return position;
    }

    public async Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        var sent = DateTime.UtcNow;
        await store.SaveAsync(position, cancellationToken);   // a save extends the lease too
        _leaseExtendedAt = sent;
        gauges?.Confirmed(position);
    }

    /// <summary>
    /// Renews the lease a third of the way through it. When that fails (the database is away) and less than a third is
    /// left, this process gives up before the lease expires, so it has stopped producing by the time a standby may take
    /// over: two publishers would break per-key order.
    /// </summary>
    public async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        var sent = DateTime.UtcNow;
        if (sent - _leaseExtendedAt < options.LeaseDuration / 3)
            return;
        try
        {
            await store.RenewAsync(cancellationToken);
            _leaseExtendedAt = sent;
        }
        catch (Exception e) when (e is not (StandbyException or OperationCanceledException))
        {
            var expires = _leaseExtendedAt + options.LeaseDuration;
            Log.LeaseRenewalFailed(logger, e, expires);
            if (expires - DateTime.UtcNow <= options.LeaseDuration / 3)
                throw new StandbyException(
                    $"The lease on position '{options.PositionName}' could not be renewed and expires at {expires:O}: this relay stops producing now, " +
                    $"before a standby may take over (check the database connection; {SqlServerSourceOptions.Section}:LeaseDuration sets the lease).", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stoppedCleanly)
        {
            try { await store.ReleaseAsync(CancellationToken.None); }
            catch (Exception) { /* the lease expires by itself */ }
        }
        if (store is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
    }
}
