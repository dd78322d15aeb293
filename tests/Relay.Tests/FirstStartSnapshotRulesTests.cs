using Relay.Core;
using Relay.Postgres;

namespace Relay.Tests;

/// <summary>The note that records a first start's snapshot, and how existing rows are read.</summary>
public class FirstStartSnapshotRulesTests
{
    [Fact]
    public void the_publication_note_tells_a_slot_in_use_from_a_first_start_whose_snapshot_is_pending()
    {
        var streaming = PublicationNote.Slot("relay_outbox");
        Assert.Equal("relay_outbox", PublicationNote.MarkedSlot(streaming));
        Assert.False(PublicationNote.IsSnapshotPending(streaming));

        var pending = PublicationNote.SnapshotPending("relay_outbox");
        Assert.Equal("relay_outbox", PublicationNote.MarkedSlot(pending));
        Assert.True(PublicationNote.IsSnapshotPending(pending));

        Assert.True(PublicationNote.IsRelays(null));
        Assert.False(PublicationNote.IsRelays("Owned by the payments team."));
        Assert.Null(PublicationNote.MarkedSlot("Owned by the payments team."));
        // The note as earlier versions wrote it still names the slot.
        Assert.Equal("old_slot", PublicationNote.MarkedSlot("Relay streams this publication through replication slot old_slot."));
    }

    static OutboxTableMapping Table(string? orderColumn = null) => Mappings.Table(new OutboxTableOptions
    {
        Table = "public.outbox", PublishExistingRowsOnFirstStart = true, ExistingRowsOrderColumn = orderColumn,
        HeaderColumns = ["blob"],
    });

    [Fact]
    public void existing_rows_are_read_as_the_stream_publishes_them_in_created_at_order_when_the_table_has_it()
    {
        var table = Table();
        Assert.True(table.PublishExistingRowsOnFirstStart);
        Assert.Equal("created_at", FirstStartSnapshot.OrderColumn(table, new HashSet<string> { "id", "created_at" }));
        Assert.Null(FirstStartSnapshot.OrderColumn(table, new HashSet<string> { "id" }));
        Assert.Equal("occurred_at", FirstStartSnapshot.OrderColumn(Table("occurred_at"), new HashSet<string> { "id", "created_at" }));

        var bytea = table.Columns.Select(c => c.Name == "blob").ToArray();
        Assert.Equal("""SELECT "id"::text, "aggregateid"::text, "payload"::text, "type"::text, "blob"::bytea, "aggregatetype"::text FROM "public"."outbox" ORDER BY "created_at", ctid""",
            FirstStartSnapshot.Select(new SnapshotTable(table, "created_at", bytea)));
        Assert.EndsWith("FROM \"public\".\"outbox\"", FirstStartSnapshot.Select(new SnapshotTable(table, null, bytea)));
    }
}
