using System.Buffers.Binary;
using System.Text;
using Relay.Core;
using Relay.Postgres;

namespace Relay.Tests;

/// <summary>
/// pgoutput messages built byte by byte as the protocol documentation lays them out, decoded into outbox rows.
/// (The integration tests decode what a real server sends.)
/// </summary>
public class PgOutputDecoderTests
{
    const uint Text = 25, Uuid = 2950, Jsonb = 3802, Bytea = 17, Int8 = 20, Timestamptz = 1184;

    static readonly OutboxTableMapping Outbox = Mappings.Table(new OutboxTableOptions { Table = "public.outbox" }, 0);

    // Debezium's columns plus one Relay does not read.
    static readonly (string Name, uint Type)[] Columns =
        [("id", Uuid), ("aggregatetype", Text), ("aggregateid", Text), ("type", Text), ("payload", Jsonb), ("created_at", Timestamptz)];

    [Fact]
    public void a_transaction_decodes_to_begin_rows_and_commit_with_positions_and_commit_time()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        Assert.Equal(PgOutputDecoder.Result.Other, decoder.Decode(Relation(16384, "public", "outbox", Columns)));

        Assert.Equal(PgOutputDecoder.Result.Begin, decoder.Decode(Begin(finalLsn: 0x16B3748, commitMicroseconds: 1_000_000)));
        var insert = Insert(16384, Textual("6f1c2a8e-0000-4000-8000-000000000001"), Textual("Order"), Textual("o-1"),
            Textual("OrderCreated"), Textual("""{"n": 1}"""), Textual("2026-11-26 08:00:00+00"));
        Assert.Equal(PgOutputDecoder.Result.Insert, decoder.Decode(insert));

        var row = decoder.Row;
        Assert.Same(Outbox, row.Table);
        Assert.Equal(new SourcePosition(0x16B3748), row.Position);
        Assert.Equal(new DateTime(2000, 1, 1, 0, 0, 1, DateTimeKind.Utc), row.CommitTimestamp);
        Assert.Equal("6f1c2a8e-0000-4000-8000-000000000001", Utf8(row[Outbox.EventIdColumn]));
        Assert.Equal("o-1", Utf8(row[Outbox.KeyColumn]));
        Assert.Equal("OrderCreated", Utf8(row[Outbox.TypeColumn]));
        Assert.Equal("""{"n": 1}""", Utf8(row[Outbox.PayloadColumn]));

        Assert.Equal(PgOutputDecoder.Result.Commit, decoder.Decode(Commit(commitLsn: 0x16B3748, endLsn: 0x16B3778)));
        Assert.Equal(new SourcePosition(0x16B3778), decoder.CommitEnd);
    }

    [Fact]
    public void null_values_decode_to_null()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        decoder.Decode(Relation(1, "public", "outbox", Columns));
        decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Textual("o-1"), Textual("T"), Null(), Textual("ts")));
        Assert.Null(decoder.Row[Outbox.PayloadColumn]);
        Assert.Equal("id", Utf8(decoder.Row[Outbox.EventIdColumn]));
    }

    [Fact]
    public void an_insert_into_another_table_is_reported_with_its_name_but_its_description_alone_is_not()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        // A partition published via its root is described too; its rows arrive under the root: nothing to say yet.
        Assert.Equal(PgOutputDecoder.Result.Other, decoder.Decode(Relation(2, "public", "orders", [("id", Text)])));
        Assert.Equal(PgOutputDecoder.Result.UnknownTable, decoder.Decode(Insert(2, Textual("x"))));
        Assert.Equal(("public", "orders"), decoder.UnknownTable);
        Assert.Equal(PgOutputDecoder.Result.Other, decoder.Decode(Insert(3, Textual("y"))));   // never described
    }

    [Fact]
    public void a_mapped_column_missing_from_the_relation_stops_with_its_configuration_key()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        var error = Assert.Throws<RelayConfigurationException>(() =>
            decoder.Decode(Relation(1, "public", "outbox", Columns.Where(c => c.Name != "aggregateid").ToArray())));
        Assert.Contains("Relay:Outbox:Tables:0:KeyColumn", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void binary_values_publish_the_same_bytes_as_text_values()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        decoder.Decode(Relation(1, "public", "outbox", Columns));
        var id = Guid.Parse("6f1c2a8e-1234-4abc-8def-0123456789ab");
        decoder.Decode(Insert(1, Binary(id.ToByteArray(bigEndian: true)), Binary("Order"u8.ToArray()), Binary("o-1"u8.ToArray()),
            Binary("T"u8.ToArray()), Binary([1, .. """{"n": 1}"""u8.ToArray()]), Binary(new byte[8])));

        Assert.Equal("6f1c2a8e-1234-4abc-8def-0123456789ab", Utf8(decoder.Row[Outbox.EventIdColumn]));
        Assert.Equal("o-1", Utf8(decoder.Row[Outbox.KeyColumn]));
        Assert.Equal("""{"n": 1}""", Utf8(decoder.Row[Outbox.PayloadColumn]));   // jsonb's version byte is dropped
    }

    [Fact]
    public void bytea_is_published_as_its_bytes_in_both_formats()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        decoder.Decode(Relation(1, "public", "outbox", Columns.Select(c => c.Name == "payload" ? (c.Name, Bytea) : c).ToArray()));

        decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Textual("o-1"), Textual("T"), Textual("\\x00ff10"), Null()));
        Assert.Equal(new byte[] { 0x00, 0xff, 0x10 }, decoder.Row[Outbox.PayloadColumn]);

        decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Textual("o-1"), Textual("T"), Binary([0x00, 0xff, 0x10]), Null()));
        Assert.Equal(new byte[] { 0x00, 0xff, 0x10 }, decoder.Row[Outbox.PayloadColumn]);
    }

    [Fact]
    public void a_bytea_that_is_not_hex_is_refused_rather_than_published_wrong() =>
        Assert.Throws<FormatException>(() => PgValues.DecodeHexBytea("abc\\000"u8));

    [Fact]
    public void a_domain_column_is_decoded_by_its_base_type()
    {
        const uint domain = 90001;
        var types = new Dictionary<(string, string), PgType> { [("public.outbox", "aggregateid")] = new(domain, Int8) };
        var decoder = new PgOutputDecoder([Outbox], types);
        decoder.Decode(Relation(1, "public", "outbox", Columns.Select(c => c.Name == "aggregateid" ? (c.Name, domain) : c).ToArray()));
        var key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, -42);

        decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Binary(key), Textual("T"), Textual("{}"), Null()));

        Assert.Equal("-42", Utf8(decoder.Row[Outbox.KeyColumn]));
    }

    [Fact]
    public void a_binary_value_of_a_type_relay_cannot_read_fails_loudly()
    {
        var decoder = new PgOutputDecoder([Outbox]);
        decoder.Decode(Relation(1, "public", "outbox", Columns.Select(c => c.Name == "type" ? (c.Name, Timestamptz) : c).ToArray()));
        Assert.Throws<FormatException>(() =>
            decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Textual("o-1"), Binary(new byte[8]), Textual("{}"), Null())));
    }

    [Fact]
    public void pgoutput_is_asked_for_binary_values_only_when_chosen()
    {
        Assert.Contains(new KeyValuePair<string, string?>("binary", "true"), PostgresOutboxStream.PluginOptions("relay_outbox", binary: true));
        Assert.DoesNotContain(PostgresOutboxStream.PluginOptions("relay_outbox", binary: false), o => o.Key == "binary");
        Assert.Contains(new KeyValuePair<string, string?>("publication_names", "\"relay_outbox\""), PostgresOutboxStream.PluginOptions("relay_outbox", false));
    }

    static readonly OutboxTableMapping Messages = Mappings.Message(new OutboxMessageOptions { Prefix = "outbox" });

    [Fact]
    public void a_message_of_a_configured_prefix_decodes_into_a_row_at_its_transactions_position()
    {
        var decoder = new PgOutputDecoder([Outbox], messages: [Messages]);
        decoder.Decode(Begin(finalLsn: 0x5000, commitMicroseconds: 2_000_000));
        var content = """{"id": "m-1", "aggregatetype": "Order", "aggregateid": "o-1", "type": "Created", "payload": {"n": 1}}""";
        Assert.Equal(PgOutputDecoder.Result.Message, decoder.Decode(LogicalMessage(transactional: true, lsn: 0x4F00, "outbox", content)));

        var row = decoder.Row;
        Assert.Same(Messages, row.Table);
        Assert.Null(row.Problem);
        Assert.Equal(new SourcePosition(0x5000), row.Position);   // the commit's, like a row's
        Assert.Equal("m-1", Utf8(row[Messages.EventIdColumn]));
        Assert.Equal("o-1", Utf8(row[Messages.KeyColumn]));
        Assert.Equal("""{"n": 1}""", Utf8(row[Messages.PayloadColumn]));

        // An insert after it in the same transaction is not marked by the message's state.
        decoder.Decode(Relation(1, "public", "outbox", Columns));
        decoder.Decode(Insert(1, Textual("id"), Textual("Order"), Textual("o-1"), Textual("T"), Textual("{}"), Null()));
        Assert.Null(decoder.Row.Problem);
    }

    [Fact]
    public void messages_of_other_prefixes_and_relays_heartbeat_are_skipped()
    {
        var decoder = new PgOutputDecoder([Outbox], messages: [Messages]);
        Assert.Equal(PgOutputDecoder.Result.Other, decoder.Decode(LogicalMessage(transactional: false, lsn: 0x10, "relay.heartbeat", "")));
        Assert.Equal(PgOutputDecoder.Result.Other, decoder.Decode(LogicalMessage(transactional: true, lsn: 0x20, "outbox.other", "{}")));
        Assert.Equal(PgOutputDecoder.Result.Other, new PgOutputDecoder([Outbox]).Decode(LogicalMessage(true, 0x30, "outbox", "{}")));
    }

    [Fact]
    public void a_non_transactional_message_of_a_configured_prefix_is_refused_at_its_own_position_with_its_whole_content()
    {
        var decoder = new PgOutputDecoder([], messages: [Messages]);
        var content = """{"id": "m-9", "aggregateid": "o-1", "payload": {"n": 9}, "extra": 1}""";
        Assert.Equal(PgOutputDecoder.Result.Message, decoder.Decode(LogicalMessage(transactional: false, lsn: 0x16B3748, "outbox", content)));
        Assert.Equal(new SourcePosition(0x16B3748), decoder.Row.Position);
        Assert.StartsWith("it was emitted non-transactionally (pg_logical_emit_message(false, …))", decoder.Row.Problem);
        Assert.EndsWith("(message at 0/16B3748)", decoder.Row.Problem);
        Assert.Equal("m-9", Utf8(decoder.Row[Messages.EventIdColumn]));
        Assert.Equal(content, Utf8(decoder.Row[Messages.PayloadColumn]));
    }

    [Fact]
    public void a_message_that_is_not_json_names_its_position()
    {
        var decoder = new PgOutputDecoder([], messages: [Messages]);
        decoder.Decode(Begin(finalLsn: 0x6000, commitMicroseconds: 1));
        Assert.Equal(PgOutputDecoder.Result.Message, decoder.Decode(LogicalMessage(true, 0x5F00, "outbox", "{oops")));
        Assert.StartsWith("its content is not valid JSON (", decoder.Row.Problem);
        Assert.EndsWith("(message at 0/5F00)", decoder.Row.Problem);
        Assert.Equal(new SourcePosition(0x6000), decoder.Row.Position);
    }

    [Fact]
    public void pgoutput_is_asked_for_messages_only_when_prefixes_are_configured()
    {
        Assert.Contains(new KeyValuePair<string, string?>("messages", "true"), PostgresOutboxStream.PluginOptions("p", binary: false, messages: true));
        Assert.DoesNotContain(PostgresOutboxStream.PluginOptions("p", binary: false), o => o.Key == "messages");
    }

    static string? Utf8(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);

    // ---- pgoutput protocol version 1, as documented -------------------------------------------------------------------

    static byte[] Begin(ulong finalLsn, long commitMicroseconds) =>
        [(byte)'B', .. BigEndian(finalLsn), .. BigEndian((ulong)commitMicroseconds), .. BigEndian(7u)];

    static byte[] Commit(ulong commitLsn, ulong endLsn) =>
        [(byte)'C', 0, .. BigEndian(commitLsn), .. BigEndian(endLsn), .. BigEndian(0UL)];

    static byte[] Relation(uint id, string schema, string name, (string Name, uint Type)[] columns)
    {
        var message = new List<byte> { (byte)'R' };
        message.AddRange(BigEndian(id));
        message.AddRange(CString(schema));
        message.AddRange(CString(name));
        message.Add((byte)'d');
        message.AddRange(BigEndian((ushort)columns.Length));
        foreach (var (column, type) in columns)
        {
            message.Add(0);
            message.AddRange(CString(column));
            message.AddRange(BigEndian(type));
            message.AddRange(BigEndian(uint.MaxValue));
        }
        return [.. message];
    }

    static byte[] Insert(uint relation, params byte[][] values) =>
        [(byte)'I', .. BigEndian(relation), (byte)'N', .. BigEndian((ushort)values.Length), .. values.SelectMany(v => v)];

    static byte[] LogicalMessage(bool transactional, ulong lsn, string prefix, string content) =>
        [(byte)'M', transactional ? (byte)1 : (byte)0, .. BigEndian(lsn), .. CString(prefix),
            .. BigEndian((uint)Encoding.UTF8.GetByteCount(content)), .. Encoding.UTF8.GetBytes(content)];

    static byte[] Textual(string value) => [(byte)'t', .. BigEndian((uint)Encoding.UTF8.GetByteCount(value)), .. Encoding.UTF8.GetBytes(value)];
    static byte[] Binary(byte[] value) => [(byte)'b', .. BigEndian((uint)value.Length), .. value];
    static byte[] Null() => [(byte)'n'];

    static byte[] CString(string value) => [.. Encoding.UTF8.GetBytes(value), 0];

    static byte[] BigEndian(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    static byte[] BigEndian(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        return bytes;
    }
}
