using System.Diagnostics.Metrics;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// The received and confirmed positions as exact numbers. The host's <c>relay_received_position</c> and
/// <c>relay_confirmed_position</c> are doubles, which keep only the top 53 of an LSN's 80 bits; here each part of the LSN
/// (VLF sequence number : log block offset : slot, as <c>0x0000002A:000001F8:0003</c>) is a gauge of its own, exact.
/// </summary>
sealed class LsnGauges
{
    SourcePosition _received, _confirmed;

    public LsnGauges(IMeterFactory meters)
    {
        // One gauge per part and position, without tags: the host exports each gauge as one series. Each part fits a
        // double (Prometheus' value type) exactly.
        var meter = meters.Create(CaptureMonitor.MeterName);
        foreach (var (name, position) in new (string, Func<SourcePosition>)[] { ("received", () => _received), ("confirmed", () => _confirmed) })
        {
            meter.CreateObservableGauge($"relay_sqlserver_{name}_lsn_vlf", () => Measure(position(), lsn => (long)(lsn >> 48)),
                description: $"VLF sequence number of the {name} commit LSN, exact.");
            meter.CreateObservableGauge($"relay_sqlserver_{name}_lsn_block", () => Measure(position(), lsn => (long)((lsn >> 16) & 0xFFFF_FFFF)),
                description: $"Log block offset of the {name} commit LSN, exact.");
            meter.CreateObservableGauge($"relay_sqlserver_{name}_lsn_slot", () => Measure(position(), lsn => (long)(lsn & 0xFFFF)),
                description: $"Slot of the {name} commit LSN, exact.");
        }
    }

    public void Received(SourcePosition position) => _received = position;

    public void Confirmed(SourcePosition position) => _confirmed = position;

    static Measurement<long>[] Measure(SourcePosition position, Func<UInt128, long> part) =>
        position == SourcePosition.None ? [] : [new Measurement<long>(part(position.Commit))];
}
