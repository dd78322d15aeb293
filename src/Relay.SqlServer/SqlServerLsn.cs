using System.Buffers.Binary;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// SQL Server log sequence numbers (<c>binary(10)</c>) and change sequence values, as big-endian numbers: byte order
/// is numeric order, as <c>sys.fn_cdc_*</c> compare them. A position is commit LSN + seqval (Debezium's TxLogPosition).
/// </summary>
public static class SqlServerLsn
{
    public const int Length = 10;

    /// <summary>The largest <c>binary(10)</c> value: as a seqval, a position that covers every change of its LSN.</summary>
    public static readonly UInt128 MaxSequence = (UInt128.One << 80) - 1;

    public static UInt128 FromBytes(ReadOnlySpan<byte> lsn)
    {
        if (lsn.Length != Length)
            throw new ArgumentException($"An LSN is {Length} bytes, not {lsn.Length}.", nameof(lsn));
        Span<byte> padded = stackalloc byte[16];
        lsn.CopyTo(padded[6..]);
        return BinaryPrimitives.ReadUInt128BigEndian(padded);
    }

    public static byte[] ToBytes(UInt128 value)
    {
        if (value >> 80 != 0)
            throw new ArgumentOutOfRangeException(nameof(value), "An LSN has 80 bits.");
        Span<byte> padded = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(padded, value);
        return padded[6..].ToArray();
    }

    public static SourcePosition Position(byte[] startLsn, byte[] seqval) => new(FromBytes(startLsn), FromBytes(seqval));

    /// <summary>As SQL Server prints it: <c>0x0000002A000001F80003</c>.</summary>
    public static string Format(UInt128 value) => "0x" + Convert.ToHexString(ToBytes(value));

    public static string Format(SourcePosition position) =>
        position.Sequence == 0 ? Format(position.Commit) : $"{Format(position.Commit)}:{Format(position.Sequence)}";

    public static UInt128 Parse(string text) =>
        FromBytes(Convert.FromHexString(text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text));
}
