using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// CDC cleanup removes old changes (retention, 3 days by default). When what Relay still needs from an instance starts
/// before what the instance still holds, changes that were never relayed may be gone: stop and say so, unless told to resume.
/// </summary>
public static class RetentionRule
{
    /// <summary>The first LSN still needed after <paramref name="position"/>: a position with the largest seqval covers its whole LSN.</summary>
    public static UInt128 NeededFrom(SourcePosition position) =>
        position.Sequence >= SqlServerLsn.MaxSequence ? position.Commit + 1 : position.Commit;

    /// <summary>
    /// The problem, or null when the changes still needed (from <paramref name="neededFromLsn"/>) are all held. Conservative:
    /// CDC cannot tell whether anything was committed between the two, so any distance counts (also for a table newly
    /// added to a running relay, whose instance starts after the position: confirm it once with the option).
    /// </summary>
    public static string? Check(CaptureInstance instance, UInt128 neededFromLsn, UInt128 minLsn) =>
        minLsn > neededFromLsn
            ? $"Capture instance {instance.Name} of {instance.Schema}.{instance.Table} now starts at {SqlServerLsn.Format(minLsn)}, after Relay's position " +
              $"{SqlServerLsn.Format(neededFromLsn)}: CDC cleanup (or dropping an instance before Relay read it) removed changes committed between them " +
              $"before Relay published them (LSN range lost: {SqlServerLsn.Format(neededFromLsn)} up to {SqlServerLsn.Format(minLsn - 1)}). Recover those outbox rows " +
              $"from the table (or an archive), then set {SqlServerSourceOptions.Section}:ResumeFromMinimumOnRetentionGap=true once to continue from {SqlServerLsn.Format(minLsn)}; " +
              "raise the CDC cleanup job's retention to prevent this."
            : null;

    /// <summary>
    /// After DDL a table can have two capture instances. Relay follows them: it reads the older until its position
    /// reaches the newer one's start, then the newer.
    /// </summary>
    public static CaptureInstance Choose(IReadOnlyList<CaptureInstance> instancesOfOneTable, UInt128 position)
    {
        var ordered = Order(instancesOfOneTable);
        return ordered.LastOrDefault(i => i.StartLsn <= position) ?? ordered[0];
    }

    /// <summary>The instance created after <paramref name="instance"/> for the same table, if any.</summary>
    public static CaptureInstance? Successor(IReadOnlyList<CaptureInstance> instancesOfOneTable, CaptureInstance instance)
    {
        var ordered = Order(instancesOfOneTable);
        var index = ordered.IndexOf(instance);
        return index >= 0 && index + 1 < ordered.Count ? ordered[index + 1] : null;
    }

    /// <summary>
    /// Oldest first, by creation: cleanup moves <c>start_lsn</c>, so two instances can come to share it, and then only
    /// <c>create_date</c> tells which one is newer (Debezium orders them the same way).
    /// </summary>
    static List<CaptureInstance> Order(IReadOnlyList<CaptureInstance> instances) =>
        instances.OrderBy(i => i.CreatedAt).ThenBy(i => i.StartLsn).ToList();
}
