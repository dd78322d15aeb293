namespace Relay.Core;

/// <summary>
/// An <see cref="IOutboxStream"/> whose right to publish is a lease that lapses unless renewed (the SQL Server position
/// store). The host's confirm loop calls <see cref="RenewLeaseAsync"/> on every tick, whatever the progress, so a run
/// waiting on Kafka keeps its lease; a stream that does not implement it is not asked.
/// </summary>
public interface ILeasedStream
{
    /// <summary>
    /// Renews the lease when due. Throws only <see cref="StandbyException"/>: when another relay took the lease, or when
    /// it could not be renewed and would expire soon. The run must then stop producing at once (fencing), before a
    /// standby can take over.
    /// </summary>
    Task RenewLeaseAsync(CancellationToken cancellationToken);
}
