namespace Relay.Core;

/// <summary>
/// A totally ordered position in a source's transaction log. PostgreSQL uses only <see cref="Commit"/> (the end LSN of a
/// transaction); SQL Server uses the commit LSN plus the change sequence value, as Debezium's TxLogPosition does.
/// </summary>
public readonly record struct SourcePosition(UInt128 Commit, UInt128 Sequence = default) : IComparable<SourcePosition>
{
    public static readonly SourcePosition None = default;

    public int CompareTo(SourcePosition other)
    {
        var byCommit = Commit.CompareTo(other.Commit);
        return byCommit != 0 ? byCommit : Sequence.CompareTo(other.Sequence);
    }

    public static bool operator <(SourcePosition left, SourcePosition right) => left.CompareTo(right) < 0;
    public static bool operator >(SourcePosition left, SourcePosition right) => left.CompareTo(right) > 0;
    public static bool operator <=(SourcePosition left, SourcePosition right) => left.CompareTo(right) <= 0;
    public static bool operator >=(SourcePosition left, SourcePosition right) => left.CompareTo(right) >= 0;
}
