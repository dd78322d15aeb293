using System.Text.RegularExpressions;
using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// The note Relay keeps on its publication (<c>COMMENT ON PUBLICATION</c>), the one durable place it writes to:
/// <list type="bullet">
/// <item>once its slot exists, which slot it streams through — a slot missing while the note names it was lost (dropped,
/// a failover to a replica without it, pg_upgrade before PostgreSQL 17), not never created;</item>
/// <item>while a first start's snapshot of existing rows is not acknowledged by Kafka, that it is pending — written
/// before the slot is created, replaced once the snapshot's messages are acknowledged, so a relay killed in between
/// reads the existing rows again at its next start.</item>
/// </list>
/// </summary>
static partial class PublicationNote
{
    const string Prefix = "Relay streams this publication through replication slot ";
    const string PendingSentence = " Its first-start snapshot of existing rows is not acknowledged yet: Relay reads them again at its next start.";

    public static string Slot(string slot) => $"{Prefix}{slot}.";

    public static string SnapshotPending(string slot) => Slot(slot) + PendingSentence;

    /// <summary>Whether <paramref name="comment"/> is Relay's (a comment of someone else's is left alone).</summary>
    public static bool IsRelays(string? comment) => comment is null || comment.StartsWith(Prefix, StringComparison.Ordinal);

    public static string? MarkedSlot(string? comment) =>
        comment is not null && SlotPattern().Match(comment) is { Success: true } match ? match.Groups[1].Value : null;

    public static bool IsSnapshotPending(string? comment) => comment?.EndsWith(PendingSentence, StringComparison.Ordinal) == true;

    [GeneratedRegex(@"^Relay streams this publication through replication slot ([a-z0-9_]+)\.")]
    private static partial Regex SlotPattern();

    /// <summary>Writes <paramref name="note"/> on the publication; throws <see cref="PostgresException"/> when that fails.</summary>
    public static async Task WriteAsync(NpgsqlConnection connection, string publication, string note, CancellationToken cancellationToken)
    {
        await using var comment = new NpgsqlCommand(
            $"COMMENT ON PUBLICATION {Sql.QuoteIdentifier(publication)} IS '{note.Replace("'", "''")}'", connection);
        await comment.ExecuteNonQueryAsync(cancellationToken);
    }
}
