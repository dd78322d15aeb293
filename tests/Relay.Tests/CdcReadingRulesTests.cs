using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

public class CdcReadingRulesTests
{
    static CdcChange Change(ulong lsn, ulong seq) => new(new SourcePosition(lsn, seq), DateTime.UtcNow, []);
    static CaptureInstance Instance(string name, ulong start) => new(name, "dbo", "outbox", start, new HashSet<string>());

    [Fact]
    public void batches_of_several_tables_merge_in_commit_order()
    {
        IReadOnlyList<CdcChange> a = [Change(1, 1), Change(3, 1)], b = [Change(2, 1), Change(3, 2), Change(4, 1)];
        var merged = CdcBatchMerger.Merge([(a, CdcBatchMerger.CompleteThrough(a, 10, 100)), (b, CdcBatchMerger.CompleteThrough(b, 10, 100))]);
        Assert.Equal([(1ul, 1ul), (2, 1), (3, 1), (3, 2), (4, 1)], merged.Select(m => ((ulong)m.Change.Position.Commit, (ulong)m.Change.Position.Sequence)));
        Assert.Equal([0, 1, 0, 1, 1], merged.Select(m => m.Table));
    }

    [Fact]
    public void a_full_batch_holds_back_later_changes_of_other_tables()
    {
        // Table 0 returned a full batch ending at LSN 3: table 1's change at LSN 5 must wait, table 0 may have more before it.
        IReadOnlyList<CdcChange> a = [Change(1, 1), Change(3, 1)], b = [Change(2, 1), Change(5, 1)];
        var merged = CdcBatchMerger.Merge([(a, CdcBatchMerger.CompleteThrough(a, 2, 100)), (b, CdcBatchMerger.CompleteThrough(b, 10, 100))]);
        Assert.Equal([1ul, 2, 3], merged.Select(m => (ulong)m.Change.Position.Commit));

        // Likewise a batch capped below another table's changes (a capture instance read only up to its successor's start).
        var capped = CdcBatchMerger.Merge([(a, CdcBatchMerger.CompleteThrough(a, 10, 2)), (b, CdcBatchMerger.CompleteThrough(b, 10, 100))]);
        Assert.Equal([1ul, 2], capped.Select(m => (ulong)m.Change.Position.Commit));
    }

    [Fact]
    public void a_position_older_than_the_instance_minimum_is_a_retention_gap()
    {
        var problem = RetentionRule.Check(Instance("dbo_outbox", 100), neededFromLsn: 50, minLsn: 100);
        Assert.Contains("removed changes committed between them before Relay published them", problem);
        Assert.Contains("ResumeFromMinimumOnRetentionGap", problem);
        Assert.Null(RetentionRule.Check(Instance("dbo_outbox", 10), neededFromLsn: 150, minLsn: 100));
    }

    [Fact]
    public void after_ddl_the_older_instance_is_read_until_the_position_reaches_the_newer_one()
    {
        var instances = new[] { Instance("dbo_outbox_v2", 500), Instance("dbo_outbox", 100) };
        Assert.Equal("dbo_outbox", RetentionRule.Choose(instances, 499).Name);
        Assert.Equal("dbo_outbox_v2", RetentionRule.Choose(instances, 500).Name);
        Assert.Equal("dbo_outbox", RetentionRule.Choose(instances, 10).Name);
    }
}
