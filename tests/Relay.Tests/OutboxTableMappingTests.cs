using Relay.Core;

namespace Relay.Tests;

public class OutboxTableMappingTests
{
    [Fact]
    public void a_mapping_reads_each_column_once()
    {
        var mapping = OutboxTableMapping.Create(new OutboxTableOptions
        {
            Table = "public.outbox", TopicTemplate = "{aggregatetype}.{aggregateid}", HeaderColumns = ["aggregateid"],
        }, 0);
        Assert.Equal(["id", "aggregateid", "payload", "type", "aggregatetype"], mapping.Columns.Select(c => c.Name));
    }

    [Theory]
    [InlineData("outbox", "Relay:Outbox:Tables:0:Table: 'outbox' is not a schema-qualified table name")]
    [InlineData("a.b.c", "Relay:Outbox:Tables:0:Table: 'a.b.c' is not a schema-qualified table name")]
    public void an_unqualified_table_name_names_its_key(string table, string expected)
    {
        var error = Assert.Throws<RelayConfigurationException>(() => OutboxTableMapping.Create(new OutboxTableOptions { Table = table }, 0));
        Assert.StartsWith(expected, error.Message);
    }

    [Theory]
    [InlineData("outbox.{aggregatetype", "Relay:Outbox:Tables:2:TopicTemplate: 'outbox.{aggregatetype' has an unclosed")]
    [InlineData("outbox.{}", "Relay:Outbox:Tables:2:TopicTemplate: 'outbox.{}' has an unclosed or empty")]
    [InlineData("out box.{aggregatetype}", "Relay:Outbox:Tables:2:TopicTemplate: 'out box.{aggregatetype}' contains characters")]
    public void a_bad_topic_template_names_its_key(string template, string expected)
    {
        var error = Assert.Throws<RelayConfigurationException>(() =>
            OutboxTableMapping.Create(new OutboxTableOptions { Table = "public.outbox", TopicTemplate = template }, 2));
        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void an_invalid_fixed_topic_names_its_key()
    {
        var error = Assert.Throws<RelayConfigurationException>(() =>
            OutboxTableMapping.Create(new OutboxTableOptions { Table = "public.outbox", Topic = "orders!" }, 1));
        Assert.StartsWith("Relay:Outbox:Tables:1:Topic: 'orders!' is not a valid Kafka topic name", error.Message);
    }

    [Fact]
    public void no_tables_or_a_table_twice_is_refused()
    {
        Assert.Contains("configure at least one outbox table",
            Assert.Throws<RelayConfigurationException>(() => OutboxTableMapping.Create(new OutboxOptions())).Message);
        var twice = new OutboxOptions { Tables = [new() { Table = "public.outbox" }, new() { Table = "public.outbox" }] };
        Assert.Contains("'public.outbox' is configured more than once",
            Assert.Throws<RelayConfigurationException>(() => OutboxTableMapping.Create(twice)).Message);
    }

    [Theory]
    [InlineData("orders", true)]
    [InlineData("outbox.event.Order_v2-x", true)]
    [InlineData("", false)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("ordrés", false)]
    public void kafka_topic_name_rules(string topic, bool valid) => Assert.Equal(valid, TopicTemplate.IsValidTopicName(topic));

    [Fact]
    public void a_topic_longer_than_249_characters_is_invalid()
    {
        Assert.True(TopicTemplate.IsValidTopicName(new string('a', 249)));
        Assert.False(TopicTemplate.IsValidTopicName(new string('a', 250)));
    }
}
