using System.ComponentModel.DataAnnotations;

namespace Relay.Options;

/// <summary>How rows flow from the source to Kafka (configuration section <c>Relay:Pipeline</c>).</summary>
public sealed class PipelineOptions
{
    public const string Section = "Relay:Pipeline";

    /// <summary>
    /// Most messages produced but not yet acknowledged; the reader waits when reached (backpressure), so memory stays
    /// bounded whatever the transaction size. Default 10000.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxInFlightMessages { get; set; } = 10_000;

    /// <summary>Most key+value bytes produced but not yet acknowledged. Default 64 MiB.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxInFlightBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>How often the newest fully acknowledged position is confirmed to the source. Default 1 s.</summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the confirm loop wakes while nothing is in flight and nothing new is confirmable (an idle sidecar wakes
    /// less); the first message after it restores <see cref="ConfirmInterval"/> at once. Positions from other tables'
    /// WAL are confirmed at this pace while idle. Default 10 s.
    /// </summary>
    public TimeSpan IdleConfirmInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// On shutdown, how long to wait for the broker to acknowledge what is in flight before confirming and exiting.
    /// What is not acknowledged by then is sent again at the next start. Default 30 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>First wait before reconnecting after a failure; doubles up to <see cref="MaxRestartDelay"/>. Default 1 s.</summary>
    public TimeSpan RestartDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between reconnection attempts. Default 30 s.</summary>
    public TimeSpan MaxRestartDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// While another Relay holds the source (PostgreSQL: the slot is active), how often this standby tries to take
    /// over. Takeover happens within about this long after the active one stops. Default 2 s.
    /// </summary>
    public TimeSpan StandbyRetryInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Log a warning when messages are in flight but Kafka has acknowledged nothing for this long (repeated every
    /// 30 s while it lasts). Default 10 s.
    /// </summary>
    public TimeSpan StallWarningAfter { get; set; } = TimeSpan.FromSeconds(10);
}
