using System.Text;
using Relay.Core;
using Relay.Postgres;

namespace Relay.Tests;

/// <summary>
/// The table-less outbox: a message prefix is configured and mapped like a table, from the fields of the message's JSON
/// content; what cannot be read is named, and the content is kept for the dead letter.
/// </summary>
public class LogicalMessageMappingTests
{
    static string Problems(OutboxOptions options)
    {
        var problems = new List<string>();
        OutboxTableMapping.Create(options, problems);
        OutboxTableMapping.CreateMessages(options, problems);
        return string.Join(Environment.NewLine, problems);
    }

    static (OutboxRow Row, string? Problem) Read(OutboxTableMapping mapping, string content)
    {
        var row = new OutboxRow(1) { Table = mapping };
        var problem = OutboxMessageContent.Read(row, Encoding.UTF8.GetBytes(content));
        return (row, problem);
    }

    static string? Text(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);

    static readonly OutboxTableMapping Outbox = Mappings.Message(new OutboxMessageOptions
    {
        Prefix = "outbox", HeaderColumns = ["tenant", "attempt", "urgent", "tags"],
    });

    [Fact]
    public void a_message_prefix_is_named_like_a_table_in_keys_metrics_and_errors()
    {
        var mapping = Mappings.Message(new OutboxMessageOptions { Prefix = "orders" }, 3);
        Assert.Equal("orders", mapping.MessagePrefix);
        Assert.Equal("message:orders", mapping.QualifiedName);
        Assert.Equal("Relay:Outbox:Messages:3", mapping.ConfigurationKey);
        Assert.Equal("Message with prefix 'orders'", mapping.RowDescription);
        Assert.Equal(["id", "aggregateid", "payload", "type", "aggregatetype"], mapping.Columns.Select(c => c.Name));
        Assert.Equal("Row in public.outbox", Mappings.Table(new OutboxTableOptions { Table = "public.outbox" }).RowDescription);
    }

    [Fact]
    public void each_top_level_field_gives_what_a_column_of_its_kind_would()
    {
        var (row, problem) = Read(Outbox, """
            {"id": "e-1", "aggregatetype": "Order", "aggregateid": "o-\u00e9\"1", "type": null, "tenant": "acme",
             "attempt": 3, "urgent": true, "tags": ["a", {"b": 1}], "payload": {"total": 42.5, "nested": {"id": "not me"}}, "ignored": [1, 2]}
            """);
        Assert.Null(problem);
        Assert.Null(row.Problem);
        Assert.Equal("e-1", Text(row[Outbox.EventIdColumn]));
        Assert.Equal("o-é\"1", Text(row[Outbox.KeyColumn]));                         // unescaped
        Assert.Null(row[Outbox.TypeColumn]);                                          // null: SQL NULL
        Assert.Equal("""{"total": 42.5, "nested": {"id": "not me"}}""", Text(row[Outbox.PayloadColumn]));   // as written
        Assert.Equal(["acme", "3", "true", """["a", {"b": 1}]"""], Outbox.HeaderColumns.Select(h => Text(row[h.Column])));
    }

    [Fact]
    public void a_missing_field_is_null_and_a_field_from_the_previous_message_does_not_linger()
    {
        var row = new OutboxRow(1) { Table = Outbox };
        Assert.Null(OutboxMessageContent.Read(row, """{"id": "e-1", "tenant": "acme"}"""u8));
        Assert.Null(OutboxMessageContent.Read(row, """{"id": "e-2"}"""u8));
        Assert.Equal("e-2", Text(row[Outbox.EventIdColumn]));
        Assert.Null(row[Outbox.HeaderColumns[0].Column]);
        Assert.Null(row[Outbox.KeyColumn]);
    }

    [Theory]
    [InlineData("""{"id": "e-1", "payload": {"n": 1}""", "its content is not valid JSON")]
    [InlineData("not json", "its content is not valid JSON")]
    [InlineData("", "its content is not valid JSON")]
    [InlineData("""["id", "e-1"]""", "its content is not a JSON object (it starts with an array)")]
    [InlineData("\"just a string\"", "its content is not a JSON object (it starts with a string)")]
    [InlineData("""{"id": "e-1"} {"id": "e-2"}""", "its content")]
    public void content_that_cannot_be_read_is_named_and_kept_whole_as_the_payload(string content, string expected)
    {
        var (row, problem) = Read(Outbox, content);
        Assert.StartsWith(expected, problem);
        Assert.Equal(content, Text(row[Outbox.PayloadColumn]));
        Assert.Null(row[Outbox.EventIdColumn]);
    }

    [Fact]
    public void prefixes_are_checked_each_problem_naming_its_key()
    {
        var problems = Problems(new OutboxOptions
        {
            Messages =
            [
                new() { Prefix = "" },
                new() { Prefix = "relay.heartbeat" },
                new() { Prefix = "outbox", KeyColumn = "" },
                new() { Prefix = "outbox", OnUnpublishableRow = UnpublishableRowPolicy.DeadLetter },
            ],
        });
        Assert.Contains("Relay:Outbox:Messages:0:Prefix: is required", problems);
        Assert.Contains("Relay:Outbox:Messages:1:Prefix: 'relay.heartbeat' starts with 'relay.', which Relay keeps for its own messages", problems);
        Assert.Contains("Relay:Outbox:Messages:2:KeyColumn: a column name is required", problems);
        Assert.Contains("Relay:Outbox:Messages:3:DeadLetterTopic: is required when Relay:Outbox:Messages:3:OnUnpublishableRow is DeadLetter", problems);
        Assert.Contains("Relay:Outbox:Messages: prefix 'outbox' is configured more than once", problems);
    }

    [Fact]
    public void message_prefixes_alone_are_a_valid_outbox_but_nothing_at_all_is_not()
    {
        Assert.Empty(Problems(new OutboxOptions { Messages = [new() { Prefix = "outbox" }] }));
        Assert.Contains("configure at least one outbox table (or a message prefix in Relay:Outbox:Messages)", Problems(new OutboxOptions()));
    }

    [Fact]
    public void postgresql_before_14_is_refused_at_start_because_pgoutput_would_never_send_the_messages()
    {
        var before = PostgresPrerequisites.LogicalMessages(13, [Outbox]);
        Assert.Equal(CheckSeverity.Fail, before.Severity);
        Assert.StartsWith("Relay:Outbox:Messages: pgoutput sends pg_logical_emit_message messages only from PostgreSQL 14 on", before.Detail);
        Assert.Contains("this server is PostgreSQL 13", before.Detail);
        Assert.Contains("upgrade the server to PostgreSQL 14 or later", before.Fix);
        Assert.Equal(CheckSeverity.Pass, PostgresPrerequisites.LogicalMessages(14, [Outbox]).Severity);
    }
}
