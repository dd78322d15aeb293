using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// Merges the batches read from several capture instances into one commit-ordered sequence. A batch is only known to be
/// complete up to some position — its last change when the batch was full, or the LSN its query was capped at — so
/// changes after the smallest such position wait for the next round: a table read less far could still hold changes
/// that sort before them.
/// </summary>
public static class CdcBatchMerger
{
    public static IReadOnlyList<(int Table, CdcChange Change)> Merge(IReadOnlyList<(IReadOnlyList<CdcChange> Changes, SourcePosition CompleteThrough)> batches)
    {
        var horizon = Horizon(batches);
        return batches
            .SelectMany((batch, table) => batch.Changes.Select(change => (Table: table, Change: change)))
            .Where(c => c.Change.Position <= horizon)
            .OrderBy(c => c.Change.Position)
            .ToList();
    }

    /// <summary>How far the merge of <paramref name="batches"/> is complete: everything up to it is emitted.</summary>
    public static SourcePosition Horizon(IReadOnlyList<(IReadOnlyList<CdcChange> Changes, SourcePosition CompleteThrough)> batches) =>
        batches.Select(b => b.CompleteThrough).DefaultIfEmpty(new SourcePosition(UInt128.MaxValue, UInt128.MaxValue)).Min();

    /// <summary>How far a batch read up to <paramref name="toLsn"/> is complete.</summary>
    public static SourcePosition CompleteThrough(IReadOnlyList<CdcChange> changes, int batchSize, UInt128 toLsn) =>
        changes.Count >= batchSize ? changes[^1].Position : new SourcePosition(toLsn, SqlServerLsn.MaxSequence);
}
