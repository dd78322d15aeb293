using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// Whether CDC is still capturing, as far as the login can see (null: could not tell). A stopped SQL Server Agent or
/// capture job freezes <c>sys.fn_cdc_get_max_lsn()</c>: Relay would look idle and healthy while the transaction log
/// cannot be truncated (error 9002 ahead). <c>max text repl size</c> limits every CDC-captured text value (error 7139).
/// </summary>
/// <param name="AgentRunning">SQL Server Agent's status (<c>sys.dm_server_services</c>).</param>
/// <param name="CaptureJobRunning">Whether the database's capture job runs (<c>msdb.dbo.cdc_jobs</c>, <c>sysjobactivity</c>).</param>
/// <param name="SinceLastScan">Since the capture job last scanned the log (<c>sys.dm_cdc_log_scan_sessions.end_time</c>).</param>
/// <param name="ScanLatency">The newest scan session's <c>latency</c>: commit to change table.</param>
/// <param name="MaxTextReplSize">The <c>max text repl size (B)</c> setting in use; -1 is unlimited.</param>
public sealed record CaptureHealth(bool? AgentRunning, bool? CaptureJobRunning, TimeSpan? SinceLastScan, TimeSpan? ScanLatency, long? MaxTextReplSize)
{
    /// <summary>How far capture is behind the log: the larger of the newest scan's latency and the time since it ended.</summary>
    public TimeSpan? Behind => (SinceLastScan, ScanLatency) switch
    {
        (null, null) => null,
        var (since, latency) => TimeSpan.FromTicks(Math.Max(since?.Ticks ?? 0, latency?.Ticks ?? 0)),
    };

    /// <summary>Capture looks stopped: the agent or the job is known not to run, or no scan for longer than <paramref name="stalledAfter"/>.</summary>
    public bool Stopped(TimeSpan stalledAfter) => AgentRunning == false || CaptureJobRunning == false || SinceLastScan > stalledAfter;

    /// <summary>The findings <c>relay check</c> prints; the running relay logs the same problems.</summary>
    public IEnumerable<PreflightCheck> Checks(TimeSpan stalledAfter)
    {
        yield return AgentRunning switch
        {
            true => PreflightCheck.Pass("SQL Server Agent", "running"),
            false => PreflightCheck.Fail("SQL Server Agent", "not running: the CDC capture job does not run, nothing new reaches the change tables and the transaction log cannot be truncated (error 9002 ahead)",
                "start SQL Server Agent (Linux: mssql-conf set sqlagent.enabled true, or MSSQL_AGENT_ENABLED=true)"),
            null => PreflightCheck.Warn("SQL Server Agent", "status unknown (sys.dm_server_services needs VIEW SERVER STATE)", "GRANT VIEW SERVER STATE TO [<login>]; or watch relay_sqlserver_capture_lag_seconds"),
        };
        yield return CaptureJobRunning switch
        {
            true => PreflightCheck.Pass("CDC capture job", "running"),
            false => PreflightCheck.Fail("CDC capture job", "not running: nothing new reaches the change tables and the transaction log cannot be truncated",
                "EXEC sys.sp_cdc_start_job @job_type = N'capture'; (after an AG failover: sys.sp_cdc_add_job @job_type = N'capture' on the new primary)"),
            null => PreflightCheck.Warn("CDC capture job", "status unknown (msdb.dbo.cdc_jobs / sysjobactivity not readable)", "GRANT SELECT on msdb.dbo.cdc_jobs and msdb.dbo.sysjobactivity, or watch relay_sqlserver_capture_lag_seconds"),
        };
        if (Behind is { } behind)
            yield return SinceLastScan > stalledAfter
                ? PreflightCheck.Fail("CDC capture lag", $"the capture job last scanned the log {behind.TotalSeconds:0} s ago", "check the capture job's history in SQL Server Agent")
                : PreflightCheck.Pass("CDC capture lag", $"{behind.TotalSeconds:0} s");
        yield return MaxTextReplSize switch
        {
            -1 or >= int.MaxValue => PreflightCheck.Pass("max text repl size", "-1 (unlimited)"),
            { } size => PreflightCheck.Warn("max text repl size", $"{size} bytes: an application INSERT of a larger CDC-captured text or binary value fails with error 7139",
                "EXEC sp_configure 'max text repl size', -1; RECONFIGURE;"),
            null => PreflightCheck.Warn("max text repl size", "could not read sys.configurations", "check it is -1: EXEC sp_configure 'max text repl size';"),
        };
    }
}
