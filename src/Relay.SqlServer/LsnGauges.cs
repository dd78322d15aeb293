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
        var meter = meters.Create(CaptureMonitor.MeterName);
        meter.CreateObservableGauge("relay_sqlserver_lsn_vlf", () => Measure(lsn => (long)(lsn >> 48)),
            description: "VLF sequence number of the received / confirmed commit LSN (tag position), exact.");
        meter.CreateObservableGauge("relay_sqlserver_lsn_block", () => Measure(lsn => (long)((lsn >> 16) & 0xFFFF_FFFF)),
            description: "Log block offset of the received / confirmed commit LSN (tag position), exact.");
        meter.CreateObservableGauge("relay_sqlserver_lsn_slot", () => Measure(lsn => (long)(lsn & 0xFFFF)),
            description: "Slot of the received / confirmed commit LSN (tag position), exact.");
    }

    public void Received(SourcePosition position) => _received = position;

    public void Confirmed(SourcePosition position) => _confirmed = position;

    IEnumerable<Measurement<long>> Measure(Func<UInt128, long> part)
    {
        if (_received != SourcePosition.None)
            yield return new Measurement<long>(part(_received.Commit), new KeyValuePair<string, object?>("position", "received"));
        if (_confirmed != SourcePosition.None)
            yield return new Measurement<long>(part(_confirmed.Commit), new KeyValuePair<string, object?>("position", "confirmed"));
    }
}
