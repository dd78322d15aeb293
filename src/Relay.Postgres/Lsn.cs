using NpgsqlTypes;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>Conversions between PostgreSQL LSNs and Relay's <see cref="SourcePosition"/>.</summary>
public static class Lsn
{
    public static SourcePosition ToPosition(NpgsqlLogSequenceNumber lsn) => new((ulong)lsn);

    public static NpgsqlLogSequenceNumber FromPosition(SourcePosition position) => new((ulong)position.Commit);

    /// <summary>Formats as PostgreSQL does, e.g. <c>0/16B3748</c>.</summary>
    public static string Format(SourcePosition position) => FromPosition(position).ToString();
}
