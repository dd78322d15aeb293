using Relay.Core;

namespace Relay.Tests;

public class OutboxTableMappingTests
{
    [Fact]
    public void a_mapping_reads_each_column_once()
    {
        var mapping = Mappings.Table(new OutboxTableOptions
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
        Assert.StartsWith(expected, Mappings.Problems(new OutboxTableOptions { Table = table }, 0));
    }

    [Theory]
    [InlineData("outbox.{aggregatetype", "Relay:Outbox:Tables:2:TopicTemplate: 'outbox.{aggregatetype' has an unclosed")]
    [InlineData("outbox.{}", "Relay:Outbox:Tables:2:TopicTemplate: 'outbox.{}' has an unclosed or empty")]
    [InlineData("out box.{aggregatetype}", "Relay:Outbox:Tables:2:TopicTemplate: 'out box.{aggregatetype}' contains characters")]
    public void a_bad_topic_template_names_its_key(string template, string expected)
    {
        Assert.StartsWith(expected, Mappings.Problems(new OutboxTableOptions { Table = "public.outbox", TopicTemplate = template }, 2));
    }

    [Fact]
    public void an_invalid_fixed_topic_names_its_key()
    {
        Assert.StartsWith("Relay:Outbox:Tables:1:Topic: 'orders!' is not a valid Kafka topic name",
            Mappings.Problems(new OutboxTableOptions { Table = "public.outbox", Topic = "orders!" }, 1));
    }

    [Fact]
    public void no_tables_or_a_table_twice_is_refused()
    {
        Assert.Contains(Mappings.Problems(new OutboxOptions()), p => p.Contains("configure at least one outbox table"));
        var twice = new OutboxOptions { Tables = [new() { Table = "public.outbox" }, new() { Table = "public.outbox" }] };
        Assert.Contains(Mappings.Problems(twice), p => p.Contains("'public.outbox' is configured more than once"));
    }

    [Fact]
    public void every_problem_of_every_table_is_reported_at_once()
    {
        var options = new OutboxOptions
        {
            Tables =
            [
                new() { Table = "outbox" },
                new() { Table = "public.outbox", KeyColumn = "", Topic = "orders!" },
                new() { Table = "public.other", TopicTemplate = "out box.{aggregatetype}" },
            ],
        };
        var problems = Mappings.Problems(options);
        Assert.Contains(problems, p => p.StartsWith("Relay:Outbox:Tables:0:Table:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Relay:Outbox:Tables:1:KeyColumn:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Relay:Outbox:Tables:1:Topic:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Relay:Outbox:Tables:2:TopicTemplate:", StringComparison.Ordinal));
        Assert.Equal(4, problems.Count);
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
