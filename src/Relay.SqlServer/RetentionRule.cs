namespace Relay.SqlServer;

/// <summary>
/// CDC cleanup removes old changes (retention, 3 days by default). When Relay's stored position is older than what an
/// instance still holds, changes that were never relayed may be gone: stop and say so, unless told to resume.
/// </summary>
public static class RetentionRule
{
    /// <summary>
    /// The problem, or null when the stored position is still covered. Conservative: CDC cannot tell whether anything
    /// was committed between the position and the instance's minimum, so any distance counts (also for a table newly
    /// added to a running relay, whose instance starts after the position: confirm it once with the option).
    /// </summary>
    public static string? Check(CaptureInstance instance, UInt128 storedLsn, UInt128 minLsn) =>
        minLsn > storedLsn
            ? $"Capture instance {instance.Name} of {instance.Schema}.{instance.Table} now starts at {SqlServerLsn.Format(minLsn)}, after Relay's position " +
              $"{SqlServerLsn.Format(storedLsn)}: CDC cleanup removed changes committed between them before Relay published them. Recover those outbox rows " +
              $"from the table (or an archive), then set {SqlServerSourceOptions.Section}:ResumeFromMinimumOnRetentionGap=true once to continue from {SqlServerLsn.Format(minLsn)}; " +
              "raise the CDC cleanup job's retention to prevent this."
            : null;

    /// <summary>
    /// After DDL a table can have two capture instances. Relay follows them: it reads the older until its position
    /// reaches the newer one's start, then the newer.
    /// </summary>
    public static CaptureInstance Choose(IReadOnlyList<CaptureInstance> instancesOfOneTable, UInt128 position)
    {
        var ordered = instancesOfOneTable.OrderBy(i => i.StartLsn).ToList();
        return ordered.LastOrDefault(i => i.StartLsn <= position) ?? ordered[0];
    }
}
