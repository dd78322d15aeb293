using System.Diagnostics.Metrics;

namespace Relay.Postgres;

/// <summary>
/// The PostgreSQL source's own gauges, on its <see cref="Meter"/> (the host exports them on <c>/metrics</c> with the
/// rest): what only this source knows, kept out of the host.
/// </summary>
public sealed class PostgresMetrics
{
    public const string MeterName = "Relay.Postgres";

    long? _retainedBytes;
    int _slotRecreated;
    int _snapshotPending;

    public PostgresMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("relay_replication_slot_lag_bytes",
            () => _retainedBytes is { } bytes ? [new Measurement<long>(bytes)] : Array.Empty<Measurement<long>>(),
            unit: "By", description: "WAL the server retains for Relay: pg_current_wal_lsn() - confirmed_flush_lsn, sampled on an ordinary connection.");
        meter.CreateObservableGauge("relay_replication_slot_recreated", () => (long)Volatile.Read(ref _slotRecreated),
            description: "1 when this process found the slot it used before gone and created a new one: rows committed in between were not published (re-publish them).");
        meter.CreateObservableGauge("relay_first_start_snapshot_pending", () => (long)Volatile.Read(ref _snapshotPending),
            description: "Whether the existing rows a first start publishes still wait for Kafka's acknowledgement (1), which the slot's confirmed position waits for.");
    }

    public void SetRetainedBytes(long bytes) => _retainedBytes = bytes;

    public void SlotRecreated() => Volatile.Write(ref _slotRecreated, 1);

    public void SnapshotPending(bool pending) => Volatile.Write(ref _snapshotPending, pending ? 1 : 0);
}
