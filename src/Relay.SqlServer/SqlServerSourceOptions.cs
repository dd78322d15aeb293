using System.ComponentModel.DataAnnotations;

namespace Relay.SqlServer;

/// <summary>The SQL Server CDC source (configuration section <c>Relay:SqlServer</c>).</summary>
public sealed class SqlServerSourceOptions
{
    public const string Section = "Relay:SqlServer";

    /// <summary>Microsoft.Data.SqlClient connection string of a login that can read the CDC functions. Required.</summary>
    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>First wait between polls of the change tables while they are idle; doubles up to <see cref="MaxPollInterval"/>. Default 200 ms.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between polls while idle. Default 5 s.</summary>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most changes read from one capture instance per query. Default 5000.</summary>
    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 5000;

    /// <summary>Where the position is kept: <c>Table</c> (default, in the source database) or <c>File</c> (tests, sidecars with a volume).</summary>
    public PositionStoreKind PositionStore { get; set; } = PositionStoreKind.Table;

    /// <summary>Name of this relay's position (one row of the position table). Default <c>relay_outbox</c>.</summary>
    [Required]
    public string PositionName { get; set; } = "relay_outbox";

    /// <summary>Schema-qualified table holding positions, created when absent. Default <c>relay.positions</c>.</summary>
    [Required]
    public string PositionTable { get; set; } = "relay.positions";

    /// <summary>Path of the position file with <c>PositionStore = File</c>.</summary>
    public string? PositionFile { get; set; }

    /// <summary>How long the active relay's claim on the position lasts without renewal; a standby takes over after it. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// When the stored position is older than what CDC still holds (cleanup removed changes never relayed), resume from
    /// the oldest change held instead of stopping. Default false: stop and say what was lost.
    /// </summary>
    public bool ResumeFromMinimumOnRetentionGap { get; set; }

    /// <summary>
    /// Where a relay without a stored position (first start, or a lost position row) begins: <c>Latest</c> (default, as the
    /// PostgreSQL source: changes committed from now on) or <c>Oldest</c> (everything CDC still holds, up to its retention).
    /// </summary>
    public FirstStartPosition FirstStart { get; set; } = FirstStartPosition.Latest;

    /// <summary>How often CDC capture health (agent, capture job, lag) is sampled for metrics and the log. Default 30 s.</summary>
    public TimeSpan CaptureCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A capture job that has not scanned the log for this long counts as stopped (Error event, relay check). Default 5 min.</summary>
    public TimeSpan CaptureStalledAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the capture instances are looked up again (rotation, dropped instances); not configurable, tests shorten it.</summary>
    internal TimeSpan CaptureInstanceRefresh { get; set; } = TimeSpan.FromSeconds(10);
}

public enum PositionStoreKind { Table, File }

public enum FirstStartPosition { Latest, Oldest }
