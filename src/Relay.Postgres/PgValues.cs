using System.Buffers.Binary;

namespace Relay.Postgres;

/// <summary>A column's type: the OID the server reports for it and, for a domain, the base type that decides its format.</summary>
readonly record struct PgType(uint Oid, uint BaseOid);

/// <summary>
/// Turns pgoutput values into the bytes Relay publishes: a value's text (UTF-8), or for bytea its raw bytes. In binary
/// mode the server sends each type's send format instead of its text; Relay asks for it only when every mapped column
/// has one of the types below (the server then also skips formatting the columns Relay ignores, e.g. timestamps).
/// </summary>
static class PgValues
{
    public const uint ByteaOid = Bytea;

    const uint Bytea = 17, Name = 19, Int8 = 20, Int2 = 21, Int4 = 23, Text = 25, Json = 114, BpChar = 1042, VarChar = 1043,
        Uuid = 2950, Jsonb = 3802;

    /// <summary>Whether a binary value of this (base) type can be turned into what the text format would publish.</summary>
    public static bool SupportsBinary(uint baseOid) =>
        baseOid is Bytea or Name or Int8 or Int2 or Int4 or Text or Json or BpChar or VarChar or Uuid or Jsonb;

    public static byte[] FromText(PgType type, ReadOnlySpan<byte> text) =>
        type.BaseOid == Bytea ? DecodeHexBytea(text) : text.ToArray();

    public static byte[] FromBinary(PgType type, ReadOnlySpan<byte> value) => type.BaseOid switch
    {
        // The send functions of text-like types write the text itself (in the connection's encoding, UTF-8).
        Bytea or Name or Text or Json or BpChar or VarChar => value.ToArray(),
        Jsonb when value.Length > 0 && value[0] == 1 => value[1..].ToArray(),   // a version byte, then the text
        Uuid when value.Length == 16 => Format(new Guid(value, bigEndian: true)),
        Int2 => Format(BinaryPrimitives.ReadInt16BigEndian(value)),
        Int4 => Format(BinaryPrimitives.ReadInt32BigEndian(value)),
        Int8 => Format(BinaryPrimitives.ReadInt64BigEndian(value)),
        _ => throw new FormatException($"A binary value of type OID {type.Oid} cannot be published as text."),
    };

    static byte[] Format<T>(T value) where T : IUtf8SpanFormattable
    {
        Span<byte> text = stackalloc byte[40];
        value.TryFormat(text, out var written, default, null);
        return text[..written].ToArray();
    }

    /// <summary>Text-format bytea is <c>\x</c> followed by hex digits (the replication connection sets <c>bytea_output = hex</c>).</summary>
    public static byte[] DecodeHexBytea(ReadOnlySpan<byte> text)
    {
        if (text.Length < 2 || text[0] != '\\' || text[1] != 'x' || text.Length % 2 != 0)
            throw new FormatException("bytea value is not in hex format.");
        var bytes = new byte[(text.Length - 2) / 2];
        for (int i = 0, j = 2; i < bytes.Length; i++, j += 2)
            bytes[i] = (byte)((Nibble(text[j]) << 4) | Nibble(text[j + 1]));
        return bytes;
    }

    static int Nibble(byte digit) => digit switch
    {
        >= (byte)'0' and <= (byte)'9' => digit - '0',
        >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => digit - 'A' + 10,
        _ => throw new FormatException("bytea value is not in hex format."),
    };
}
