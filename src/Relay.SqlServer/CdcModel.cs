using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// A CDC capture instance of a table (a row of <c>cdc.change_tables</c>). <paramref name="StartLsn"/> is where it starts
/// now (cleanup moves it); <paramref name="CreatedAt"/> (<c>create_date</c>) orders a table's instances, as Debezium does.
/// <paramref name="ColumnTypes"/> names each captured column's type (the system type under an alias type).
/// </summary>
public sealed record CaptureInstance(string Name, string Schema, string Table, UInt128 StartLsn, IReadOnlySet<string> Columns, DateTime CreatedAt = default,
    IReadOnlyDictionary<string, string>? ColumnTypes = null);

/// <summary>One insert read from a change table: its position and the mapped columns' values (as bytes, null for NULL).</summary>
public sealed record CdcChange(SourcePosition Position, DateTime CommittedAt, byte[]?[] Values);

/// <summary>The database calls the CDC source makes; an interface so the reading rules can be tested without a server.</summary>
public interface ICdcClient
{
    /// <summary>Capture instances of the given tables, from <c>cdc.change_tables</c>.</summary>
    Task<IReadOnlyList<CaptureInstance>> GetCaptureInstancesAsync(CancellationToken cancellationToken);

    /// <summary><c>sys.fn_cdc_get_min_lsn(instance)</c>: the oldest change the instance still holds.</summary>
    Task<UInt128> GetMinLsnAsync(string captureInstance, CancellationToken cancellationToken);

    /// <summary><c>sys.fn_cdc_get_max_lsn()</c>: the newest commit the capture job has written.</summary>
    Task<UInt128> GetMaxLsnAsync(CancellationToken cancellationToken);

    /// <summary>Whether the agent and the capture job run, how far capture is behind, and <c>max text repl size</c>.</summary>
    Task<CaptureHealth> GetCaptureHealthAsync(CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="batchSize"/> inserts (<c>__$operation = 2</c>) of <paramref name="instance"/> after
    /// <paramref name="after"/> and up to <paramref name="toLsn"/>, ordered by <c>__$start_lsn, __$seqval</c>, with the
    /// values of <paramref name="columns"/> in that order.
    /// </summary>
    Task<IReadOnlyList<CdcChange>> GetInsertsAsync(CaptureInstance instance, IReadOnlyList<string> columns, SourcePosition after,
        UInt128 toLsn, int batchSize, CancellationToken cancellationToken);
}

/// <summary>Where the confirmed position lives. Writes happen only after Kafka acknowledged everything up to it.</summary>
public interface IPositionStore
{
    /// <summary>Claims the position for this relay (a lease); throws <see cref="StandbyException"/> while another holds it.</summary>
    Task<SourcePosition?> ClaimAsync(CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="position"/> if this relay still holds the claim; otherwise throws <see cref="StandbyException"/>.</summary>
    Task SaveAsync(SourcePosition position, CancellationToken cancellationToken);

    /// <summary>Extends the claim while idle; throws <see cref="StandbyException"/> when another relay took it.</summary>
    Task RenewAsync(CancellationToken cancellationToken);

    /// <summary>Gives the claim up (on a clean stop) so a standby takes over at once.</summary>
    Task ReleaseAsync(CancellationToken cancellationToken);
}
