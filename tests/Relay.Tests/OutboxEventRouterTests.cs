using System.Text;
using Confluent.Kafka;
using Relay.Core;
using Relay.Mapping;

namespace Relay.Tests;

public class OutboxEventRouterTests
{
    static OutboxRow Row(OutboxTableMapping table, params (string Column, string? Value)[] values)
    {
        var row = new OutboxRow(table.Columns.Count) { Table = table };
        foreach (var (column, value) in values)
        {
            var index = table.Columns.ToList().FindIndex(c => c.Name == column);
            Assert.True(index >= 0, $"the mapping does not read column {column}");
            row.Values[index] = value is null ? null : Encoding.UTF8.GetBytes(value);
        }
        return row;
    }

    static (string Topic, Message<byte[]?, byte[]?> Message) Route(OutboxRow row)
    {
        Assert.Null(OutboxEventRouter.TryRoute(row, out var topic, out var message));
        return (topic!, message);
    }

    static OutboxTableMapping Debezium() => Mappings.Table(new OutboxTableOptions { Table = "public.outbox" }, 0);

    [Fact]
    public void debezium_defaults_route_by_aggregatetype_key_by_aggregateid_and_carry_id_and_type_headers()
    {
        var table = Debezium();
        var row = Row(table, ("id", "7f7a"), ("aggregatetype", "Order"), ("aggregateid", "order-1"),
            ("type", "OrderCreated"), ("payload", "{\"total\": 10}"));

        var (topic, message) = Route(row);

        Assert.Equal("outbox.event.Order", topic);
        Assert.Equal("order-1", Encoding.UTF8.GetString(message.Key!));
        Assert.Equal("{\"total\": 10}", Encoding.UTF8.GetString(message.Value!));
        Assert.Equal("7f7a", Encoding.UTF8.GetString(message.Headers.GetLastBytes("id")));
        Assert.Equal("OrderCreated", Encoding.UTF8.GetString(message.Headers.GetLastBytes("type")));
        Assert.Equal(2, message.Headers.Count);
    }

    [Fact]
    public void a_fixed_topic_and_extra_header_columns_are_honoured()
    {
        var table = Mappings.Table(new OutboxTableOptions
        {
            Table = "billing.events", Topic = "billing", KeyColumn = "invoice", EventIdColumn = "event_id",
            TypeColumn = "", PayloadColumn = "body", HeaderColumns = ["tenant", "traceparent"],
        }, 3);
        var row = Row(table, ("event_id", "e1"), ("invoice", "inv-9"), ("body", "x"), ("tenant", "acme"), ("traceparent", null));

        var (topic, message) = Route(row);

        Assert.Equal("billing", topic);
        Assert.Equal("acme", Encoding.UTF8.GetString(message.Headers.GetLastBytes("tenant")));
        Assert.False(message.Headers.TryGetLastBytes("traceparent", out _));   // NULL column: no header
        Assert.False(message.Headers.TryGetLastBytes("type", out _));
        Assert.DoesNotContain(table.Columns, c => c.Name == "aggregatetype");
    }

    [Fact]
    public void a_null_payload_becomes_a_message_without_value()
    {
        var row = Row(Debezium(), ("id", "1"), ("aggregatetype", "Order"), ("aggregateid", "o"), ("type", "t"), ("payload", null));
        Assert.Null(Route(row).Message.Value);
    }

    [Theory]
    [InlineData("aggregateid", "key column 'aggregateid' is NULL")]
    [InlineData("id", "event id column 'id' is NULL")]
    [InlineData("aggregatetype", "column 'aggregatetype' used by the topic template is NULL")]
    public void a_row_missing_a_required_value_is_refused_with_the_reason(string nullColumn, string reason)
    {
        var values = new[] { "id", "aggregatetype", "aggregateid", "type", "payload" }
            .Select(c => (c, c == nullColumn ? null : (string?)"v")).ToArray();
        Assert.Contains(reason, OutboxEventRouter.TryRoute(Row(Debezium(), values), out _, out _));
    }

    [Fact]
    public void a_routed_topic_that_kafka_would_reject_is_refused()
    {
        var row = Row(Debezium(), ("id", "1"), ("aggregatetype", "Order Lines/2"), ("aggregateid", "o"), ("type", "t"), ("payload", "{}"));
        Assert.Contains("'outbox.event.Order Lines/2' is not a valid Kafka topic name", OutboxEventRouter.TryRoute(row, out _, out _));
    }

    [Fact]
    public void a_payload_declared_json_must_parse()
    {
        var table = Mappings.Table(new OutboxTableOptions { Table = "public.outbox", PayloadFormat = PayloadFormat.Json }, 0);
        var good = Row(table, ("id", "1"), ("aggregatetype", "A"), ("aggregateid", "a"), ("type", "t"), ("payload", "{\"a\": [1, 2]}"));
        Assert.Null(OutboxEventRouter.TryRoute(good, out _, out _));
        var bad = Row(table, ("id", "1"), ("aggregatetype", "A"), ("aggregateid", "a"), ("type", "t"), ("payload", "{\"a\": "));
        Assert.StartsWith("payload is not valid JSON", OutboxEventRouter.TryRoute(bad, out var topic, out var message));
        Assert.Equal("outbox.event.A", topic);   // still known, for the dead-letter headers
        Assert.Equal("a", Encoding.UTF8.GetString(message.Key!));
    }

    [Fact]
    public void a_null_payload_can_be_declared_unpublishable()
    {
        var table = Mappings.Table(new OutboxTableOptions { Table = "public.outbox", NullPayload = NullPayloadHandling.Unpublishable }, 0);
        var row = Row(table, ("id", "1"), ("aggregatetype", "A"), ("aggregateid", "a"), ("type", "t"), ("payload", null));
        Assert.Equal("payload column 'payload' is NULL", OutboxEventRouter.TryRoute(row, out _, out _));
    }

    [Fact]
    public void the_dead_letter_policy_needs_a_valid_topic()
    {
        var missing = Mappings.Problems(
            new OutboxTableOptions { Table = "public.outbox", OnUnpublishableRow = UnpublishableRowPolicy.DeadLetter }, 1);
        Assert.StartsWith("Relay:Outbox:Tables:1:DeadLetterTopic: is required when Relay:Outbox:Tables:1:OnUnpublishableRow is DeadLetter", missing);
        var invalid = Mappings.Problems(
            new OutboxTableOptions { Table = "public.outbox", OnUnpublishableRow = UnpublishableRowPolicy.DeadLetter, DeadLetterTopic = "dead letters" }, 1);
        Assert.StartsWith("Relay:Outbox:Tables:1:DeadLetterTopic: 'dead letters' is not a valid Kafka topic name", invalid);
    }
}
